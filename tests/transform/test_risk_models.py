"""The case mart's fitted risk models: expected risks, the models table, the fallback, refused factors."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from scipy.special import expit
from scipy.stats import mannwhitneyu
from tests.conftest import CliResult
from tests.transform.synthetic import synthetic_gold

from ector.errors import ConfigError
from ector.settings import AnalysisSettings
from ector.stats.logistic import UNKNOWN, Factor, design_matrix
from ector.transform.mart import MartPlan, case_mart
from ector.transform.risk_models import check_factors

FACTORS = ["age_band", "sex", "asa_class", "urgency", "procedure_family"]


@cache
def _built(strata: tuple[str, ...] | None = None, **analysis: object) -> tuple[pl.DataFrame, MartPlan]:
    settings = (
        AnalysisSettings(**analysis) if strata is None else AnalysisSettings(risk_strata=list(strata), **analysis)
    )
    plan = case_mart({n: f.lazy() for n, f in synthetic_gold(4000, seed=7).items()}, settings)
    return plan.plan.collect(), plan


def _summary(plan: MartPlan, outcome: str, model: str) -> dict[str, object]:
    models = plan.risk_models.models
    return models.filter(pl.col("term").is_null(), outcome=outcome, model=model).row(0, named=True)


def _factors(plan: MartPlan, outcome: str) -> list[Factor]:
    """Return the design of the fitted model from its table: reference and the levels with a coefficient."""
    terms = plan.risk_models.models.filter(pl.col("factor").is_not_null(), outcome=outcome, model="logistic")
    return [
        Factor(name, rows["reference"][0], tuple(rows.filter(pl.col("coefficient").is_not_null())["level"]))
        for name in FACTORS
        for rows in [terms.filter(factor=name)]
    ]


@pytest.mark.parametrize("outcome", ["complication_major", "mortality_30d"])
def test_coefficients_agree_with_the_glm_fitted_case_by_case(outcome: str) -> None:
    mart, plan = _built()
    known = mart.filter(pl.col(outcome).is_not_null())
    levels = {f: known[f].cast(pl.String).fill_null(UNKNOWN).to_numpy() for f in FACTORS}
    design = design_matrix(_factors(plan, outcome), levels, known.height)
    y = known[outcome].cast(pl.Float64).to_numpy()
    per_case = sm.GLM(y, design, family=sm.families.Binomial()).fit(tol=1e-12)
    terms = plan.risk_models.models.filter(pl.col("coefficient").is_not_null(), outcome=outcome, model="logistic")
    np.testing.assert_allclose(terms["coefficient"].to_numpy(), per_case.params, atol=1e-6, rtol=0)
    np.testing.assert_allclose(terms["std_error"].to_numpy(), per_case.bse, atol=1e-6, rtol=0)
    lower = np.exp(per_case.params - 1.959964 * per_case.bse)
    np.testing.assert_allclose(terms["odds_ratio_lower"].to_numpy(), lower, rtol=1e-5)
    if outcome == "complication_major":  # no supplied risk: the mart's expected risk is the model's
        np.testing.assert_allclose(known["expected_complication_major"].to_numpy(), expit(design @ per_case.params))


def test_the_c_statistic_is_the_mann_whitney_u_of_the_cases_expected_risks() -> None:
    mart, plan = _built()
    known = mart.filter(pl.col("complication_major").is_not_null())
    risk, y = known["expected_complication_major"].to_numpy(), known["complication_major"].to_numpy()
    u = mannwhitneyu(risk[y], risk[~y]).statistic
    summary = _summary(plan, "complication_major", "logistic")
    assert summary["c_statistic"] == pytest.approx(u / (y.sum() * (~y).sum()), abs=1e-12)
    assert summary["c_statistic_lower"] < summary["c_statistic"] < summary["c_statistic_upper"]
    assert (summary["cases"], summary["events"]) == (known.height, int(y.sum()))
    assert summary["brier"] == pytest.approx(float(np.mean((y - risk) ** 2)), rel=1e-9)


@pytest.mark.parametrize("outcome", ["complication_major", "mortality_30d"])
def test_calibration_on_the_training_data_is_perfect(outcome: str) -> None:
    _, plan = _built()
    summary = _summary(plan, outcome, "logistic")
    assert summary["calibration_slope"] == pytest.approx(1, abs=1e-6)
    assert summary["calibration_intercept"] == pytest.approx(0, abs=1e-6)
    tenths = plan.risk_models.calibration.filter(outcome=outcome, model="logistic")
    assert tenths["tenth"].to_list() == list(range(1, 11))
    assert int(tenths["cases"].sum()) == summary["cases"]
    # Maximum likelihood with an intercept: as many events are expected as occurred.
    assert float((tenths["expected"] * tenths["cases"]).sum()) == pytest.approx(summary["events"], rel=1e-9)


def test_a_supplied_risk_stays_the_expected_risk_and_the_model_is_reported_beside_it() -> None:
    mart, plan = _built()
    given = mart.filter(pl.col("predicted_mortality").is_not_null())
    assert given["expected_mortality_30d"].to_list() == given["predicted_mortality"].to_list()
    supplied = _summary(plan, "mortality_30d", "supplied")
    assert supplied["used"]
    assert (
        supplied["cases"]
        == mart.filter(pl.col("predicted_mortality").is_not_null() & pl.col("mortality_30d").is_not_null()).height
    )
    assert _summary(plan, "mortality_30d", "logistic")["c_statistic"] is not None


def test_too_few_events_per_parameter_falls_back_to_strata() -> None:
    mart, plan = _built(min_events_per_parameter=1000)
    strata_mart, strata_plan = _built(risk_model="strata")
    summary = _summary(plan, "complication_major", "strata")
    assert "fewer than 1000 per parameter" in str(summary["note"])
    assert plan.risk_models.models.filter(outcome="complication_major", model="logistic").height == 0
    assert mart["expected_complication_major"].to_list() == strata_mart["expected_complication_major"].to_list()
    assert _summary(strata_plan, "complication_major", "strata")["c_statistic"] == summary["c_statistic"]


def test_strata_model_gives_the_stratum_rates() -> None:
    mart, _ = _built(("asa_class",), risk_model="strata")
    rates = mart.group_by("asa_class").agg(pl.col("complication_major").cast(pl.Float64).mean().alias("rate"))
    joined = mart.join(rates, on="asa_class", how="left", nulls_equal=True)
    assert joined["expected_complication_major"].to_list() == joined["rate"].to_list()


@pytest.mark.parametrize("factor", ["surgeon_id", "site_id", "approach"])
def test_the_surgeon_site_or_approach_is_refused_as_a_risk_factor(factor: str) -> None:
    with pytest.raises(ValueError, match="what is compared"):
        AnalysisSettings(risk_factors=["sex", factor])
    with pytest.raises(ConfigError, match="what is compared"):
        check_factors(["sex", factor], [factor, "sex"], [])


def test_a_risk_factor_that_is_not_a_mart_column_or_is_an_outcome_is_refused() -> None:
    with pytest.raises(ConfigError, match="'bmi'"):
        check_factors(["bmi"], ["sex"], [])
    with pytest.raises(ConfigError, match="an outcome"):
        check_factors(["mortality_30d"], ["mortality_30d"], ["mortality_30d"])


def test_a_refused_risk_factor_exits_2(
    cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("ECTOR_ANALYSIS__RISK_FACTORS", '["sex", "surgeon_id"]')
    result = cli("-w", str(tmp_path), "transform")
    assert result.exit_code == 2, result.output
    assert "surgeon_id cannot be a risk factor" in result.output
