"""The pattern-fitted logistic model, its c-statistic and calibration, against per-case computations."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.special import expit
from scipy.stats import mannwhitneyu, rankdata

from ector.stats.calibration import by_tenth, calibration
from ector.stats.discrimination import c_statistic
from ector.stats.logistic import design_factors, design_matrix, fit_patterns

LEVELS = {"asa": ["1", "2", "3", "unknown"], "urgency": ["elective", "urgent", "emergency"], "sex": ["F", "M"]}


def _cases(seed: int, n: int = 6000) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Return per-case factor levels and outcomes drawn from a known logistic model."""
    rng = np.random.default_rng(seed)
    levels = {
        "asa": rng.choice(LEVELS["asa"], n, p=[0.2, 0.5, 0.25, 0.05]),
        "urgency": rng.choice(LEVELS["urgency"], n, p=[0.7, 0.2, 0.1]),
        "sex": rng.choice(LEVELS["sex"], n),
    }
    lp = -2.5 + 0.6 * (levels["asa"] == "3") - 0.4 * (levels["asa"] == "1") + 0.8 * (levels["urgency"] == "emergency")
    return levels, (rng.random(n) < expit(lp)).astype(np.float64)


def _patterns(levels: dict[str, np.ndarray], y: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Return the covariate patterns of the cases: levels, events and cases per pattern."""
    keys = np.array(["|".join(row) for row in zip(*levels.values(), strict=True)])
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    events = np.bincount(inverse, weights=y)
    cases = np.bincount(inverse).astype(np.float64)
    return {name: values[first] for name, values in levels.items()}, events, cases


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pattern_fit_agrees_with_the_glm_of_the_cases(seed: int) -> None:
    levels, y = _cases(seed)
    pattern_levels, events, cases = _patterns(levels, y)
    fitted = fit_patterns(pattern_levels, events, cases)
    # The same design (reference = most common level), fitted case by case on 0/1 rows.
    per_case = sm.GLM(y, design_matrix(fitted.factors, levels, len(y)), family=sm.families.Binomial()).fit(tol=1e-12)
    np.testing.assert_allclose(fitted.coefficients, per_case.params, atol=1e-6, rtol=0)
    np.testing.assert_allclose(fitted.std_errors, per_case.bse, atol=1e-6, rtol=0)
    assert fitted.terms[0] == "(intercept)"
    references = {f.name: f.reference for f in fitted.factors}
    assert (references["asa"], references["urgency"]) == ("2", "elective")


def test_reference_is_the_most_common_level_and_a_level_without_events_is_pooled() -> None:
    levels = {"asa": np.array(["1", "2", "2", "3", "4"])}
    factors = design_factors(levels, np.array([1.0, 3, 2, 4, 0]), np.array([10.0, 30, 40, 20, 5]))
    assert factors[0].reference == "2"  # 70 cases over two patterns
    assert factors[0].levels == ("1", "3")
    assert factors[0].pooled == ("4",)


def test_a_level_on_the_same_cases_as_another_is_aliased_and_the_fit_is_unchanged() -> None:
    levels, y = _cases(4)
    # Cases without a patient record: sex and age both unknown on the same cases.
    levels["age"] = np.where(np.arange(len(y)) % 3 == 0, "60+", "<60")
    levels["sex"] = np.where(np.arange(len(y)) % 10 == 0, "unknown", levels["sex"])
    levels["age"] = np.where(levels["sex"] == "unknown", "unknown", levels["age"])
    pattern_levels, events, cases = _patterns(levels, y)
    fitted = fit_patterns(pattern_levels, events, cases)
    age = next(f for f in fitted.factors if f.name == "age")
    assert age.aliased == ("unknown",)
    risk = expit(fitted.linear_predictor(pattern_levels, len(cases)))
    assert float((risk * cases).sum()) == pytest.approx(float(events.sum()), abs=1e-6)


def test_c_statistic_is_the_mann_whitney_u_of_the_cases() -> None:
    levels, y = _cases(5)
    pattern_levels, events, cases = _patterns(levels, y)
    fitted = fit_patterns(pattern_levels, events, cases)
    risk = expit(fitted.linear_predictor(pattern_levels, len(cases)))
    mine = c_statistic(risk, events, cases)
    per_case_risk = expit(fitted.linear_predictor(levels, len(y)))
    u = mannwhitneyu(per_case_risk[y == 1], per_case_risk[y == 0]).statistic
    assert mine.value == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), abs=1e-12)
    # DeLong's variance from the per-case placements, computed with midranks (Sun & Xu 2014).
    x, z = per_case_risk[y == 1], per_case_risk[y == 0]
    m, n = len(x), len(z)
    both = rankdata(np.concatenate([x, z]))
    v10 = (both[:m] - rankdata(x)) / n
    v01 = 1 - (both[m:] - rankdata(z)) / m
    se = np.sqrt(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n)
    assert mine.std_error == pytest.approx(se, rel=1e-9)
    assert (mine.lower, mine.upper) == pytest.approx((mine.value - 1.959964 * se, mine.value + 1.959964 * se))


def test_c_statistic_counts_ties_as_one_half() -> None:
    # One event and one non-event at the same risk, one event above: pairs (above, tie) -> (1 + 1/2) / 2.
    result = c_statistic([0.1, 0.3], [1, 1], [2, 1])
    assert result.value == 0.75


def test_training_data_calibration_slope_is_one_and_intercept_zero() -> None:
    levels, y = _cases(6)
    pattern_levels, events, cases = _patterns(levels, y)
    fitted = fit_patterns(pattern_levels, events, cases)
    risk = expit(fitted.linear_predictor(pattern_levels, len(cases)))
    result = calibration(risk, events, cases)
    assert result.slope == pytest.approx(1, abs=1e-6)
    assert result.intercept == pytest.approx(0, abs=1e-6)
    per_case = expit(fitted.linear_predictor(levels, len(y)))
    assert result.brier == pytest.approx(float(np.mean((y - per_case) ** 2)), rel=1e-12)


def test_calibration_of_risks_twice_too_high_is_detected() -> None:
    levels, y = _cases(7)
    pattern_levels, events, cases = _patterns(levels, y)
    fitted = fit_patterns(pattern_levels, events, cases)
    risk = expit(fitted.linear_predictor(pattern_levels, len(cases)))
    assert calibration(risk * 2, events, cases).intercept < -0.5


def test_tenths_keep_equal_risks_together_and_add_up() -> None:
    risk = np.array([0.1, 0.2, 0.3, 0.4])
    table = by_tenth(risk, np.array([1.0, 2, 3, 8]), np.array([10.0, 10, 10, 70]))
    assert table["tenth"].tolist() == [1, 2, 3, 7]  # the last group's 70 cases centre on 65% of the cases
    assert table["cases"].sum() == 100
    assert table["expected"].tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert table["observed"].tolist() == pytest.approx([0.1, 0.2, 0.3, 8 / 70])
