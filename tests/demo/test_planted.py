"""The planted truth is in the data and findable: the surgeon, the site, the learning curves.

Outcomes are derived here as the Gold contract defines them (30-day inclusive windows), and units judged with
the funnel limits of methods.md, computed with scipy.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy.stats import chi2

from ector.contract import AGE_BANDS, MAJOR_CLAVIEN_DINDO
from tests.demo.conftest import Demo
from tests.demo.reference import consolidate

Z_998 = 3.090232
WINDOW = 30


def case_outcomes(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per case with complication_major, mortality_30d, age band and operative minutes."""
    cases = tables["cases"].with_columns(surgery_day=pl.col("surgery_start").dt.date())
    days_after = (pl.col("onset_date") - pl.col("surgery_day")).dt.total_days()
    major = (
        tables["complications"]
        .join(cases.select("case_id", "surgery_day"), on="case_id")
        .filter(pl.col("clavien_dindo").is_in(MAJOR_CLAVIEN_DINDO))
        .filter(pl.col("onset_date").is_null() | days_after.is_between(0, WINDOW))
        .select("case_id")
        .unique()
        .with_columns(complication_major=pl.lit(1))
    )
    death_after = (pl.col("death_date") - pl.col("surgery_day")).dt.total_days()
    age = ((pl.col("surgery_day") - pl.col("birth_date")).dt.total_days() / 365.25).floor()
    return (
        cases.join(major, on="case_id", how="left")
        .join(tables["patients"].select("patient_id", "birth_date", "death_date"), on="patient_id")
        .with_columns(
            complication_major=pl.col("complication_major").fill_null(0),
            mortality_30d=(death_after.is_between(0, WINDOW) | (pl.col("discharge_destination") == "died"))
            .fill_null(False)
            .cast(pl.Int64),
            age_band=pl.when(age < 40)
            .then(pl.lit(AGE_BANDS[0]))
            .when(age < 60)
            .then(pl.lit(AGE_BANDS[1]))
            .when(age < 70)
            .then(pl.lit(AGE_BANDS[2]))
            .when(age < 80)
            .then(pl.lit(AGE_BANDS[3]))
            .otherwise(pl.lit(AGE_BANDS[4])),
            minutes=(pl.col("surgery_end") - pl.col("surgery_start")).dt.total_minutes(),
        )
        .sort("case_id")
    )


def poisson_upper_998(expected: float) -> float:
    return float(chi2.ppf(0.999, 2 * (expected + 1)) / (2 * expected))


def sr_flags(outcomes: pl.DataFrame, unit: str, outcome: str, expected: pl.Expr) -> dict[str, float]:
    """Units strictly above the 99.8% O/E funnel limit, with their O/E."""
    units = outcomes.group_by(unit).agg(observed=pl.col(outcome).sum(), expected=expected.sum()).sort(unit)
    return {
        u: o / e for u, o, e in units.select(unit, "observed", "expected").iter_rows() if o / e > poisson_upper_998(e)
    }


def pr_flags(outcomes: pl.DataFrame, unit: str, outcome: str) -> list[str]:
    """Units strictly above the 99.8% proportion funnel limit (arcsine scale), as in methods.md."""
    units = outcomes.group_by(unit).agg(n=pl.len(), r=pl.col(outcome).sum()).sort(unit)
    theta = float(units.get_column("r").sum()) / float(units.get_column("n").sum())
    flagged = []
    for u, n, r in units.select(unit, "n", "r").iter_rows():
        upper = math.sin(math.asin(math.sqrt(theta)) + Z_998 / (2 * math.sqrt(n))) ** 2
        if r / n > upper:
            flagged.append(u)
    return flagged


@pytest.fixture(scope="module")
def default_outcomes(default_demo: Demo) -> pl.DataFrame:
    """The default layer (20,000 cases, seed 7, dirty) after the reference consolidation."""
    consolidated = consolidate(default_demo.tables, default_demo.run_date)
    return case_outcomes({name: c.frame for name, c in consolidated.items()})


def test_planted_surgeon_is_flagged_on_major_complications_at_the_default_size(
    default_demo: Demo, default_outcomes: pl.DataFrame
) -> None:
    planted = default_demo.truth["planted"]["high_complication_surgeons"]
    strata = ["procedure_family", "asa_class", "age_band", "urgency"]
    expected = pl.col("complication_major").mean().over(strata)
    flagged = sr_flags(default_outcomes.with_columns(e=expected), "surgeon_id", "complication_major", pl.col("e"))
    assert set(flagged) == set(planted)  # case-mix adjusted: nobody else
    assert set(planted) <= set(pr_flags(default_outcomes, "surgeon_id", "complication_major"))  # crude too


def test_planted_site_is_flagged_on_mortality_at_the_default_size(
    default_demo: Demo, default_outcomes: pl.DataFrame
) -> None:
    planted = default_demo.truth["planted"]["high_mortality_sites"]
    flagged = sr_flags(default_outcomes, "site_id", "mortality_30d", pl.col("predicted_mortality"))
    assert set(flagged) == set(planted)
    assert all(ratio > 1.8 for ratio in flagged.values())


def test_predicted_mortality_is_calibrated_outside_the_planted_site(
    default_demo: Demo, default_outcomes: pl.DataFrame
) -> None:
    others = default_outcomes.filter(~pl.col("site_id").is_in(default_demo.truth["planted"]["high_mortality_sites"]))
    observed = float(others.get_column("mortality_30d").sum())
    expected = float(others.get_column("predicted_mortality").sum())
    assert 0.85 < observed / expected < 1.2


def test_planted_surgeons_crude_major_complication_rate_is_above_the_rest(clean_demo: Demo) -> None:
    outcomes = case_outcomes(clean_demo.tables)
    planted = clean_demo.truth["planted"]["high_complication_surgeons"]
    general = clean_demo.tables["surgeons"].filter(pl.col("specialty") == "general").get_column("surgeon_id")
    is_planted = pl.col("surgeon_id").is_in(planted)
    rates = outcomes.group_by(
        group=pl.when(is_planted)
        .then(pl.lit("planted"))
        .when(pl.col("surgeon_id").is_in(general))
        .then(pl.lit("other general"))
        .otherwise(pl.lit("other"))
    ).agg(rate=pl.col("complication_major").mean())
    rate = dict(rates.iter_rows())
    assert rate["planted"] > 1.5 * rate["other general"]
    assert rate["planted"] > rate["other"]


def test_learning_surgeons_get_faster_over_their_first_50_cases(clean_demo: Demo) -> None:
    outcomes = case_outcomes(clean_demo.tables)
    learning = clean_demo.truth["planted"]["learning_curve_families"]
    assert len(learning) >= 2
    for surgeon, family in learning.items():
        series = (
            outcomes.filter((pl.col("surgeon_id") == surgeon) & (pl.col("procedure_family") == family))
            .sort("surgery_start", "case_id")
            .get_column("minutes")
            .to_numpy()
            .astype(float)
        )
        assert len(series) >= 60, surgeon
        assert series[:10].mean() > 1.25 * series[40:60].mean(), surgeon
        slope = np.polyfit(np.arange(50), np.log(series[:50]), 1)[0]
        assert slope < 0, surgeon
        assert set(outcomes.filter(pl.col("surgeon_id") == surgeon).get_column("approach")) == {"robotic"}


def test_other_surgeons_operate_at_a_steady_pace(clean_demo: Demo) -> None:
    outcomes = case_outcomes(clean_demo.tables)
    learners = clean_demo.truth["planted"]["learning_curve_surgeons"]
    ratios = []
    for (_, _), group in outcomes.filter(~pl.col("surgeon_id").is_in(learners)).group_by(
        "surgeon_id", "procedure_family"
    ):
        minutes = group.sort("surgery_start", "case_id").get_column("minutes").to_numpy().astype(float)
        if len(minutes) >= 60:
            ratios.append(minutes[:10].mean() / minutes[40:60].mean())
    assert len(ratios) >= 10
    assert 0.93 < float(np.mean(ratios)) < 1.07


def test_truth_records_the_generating_odds_ratios_of_each_factor() -> None:
    from ector.demo import model
    from ector.demo.truth import true_odds_ratios

    odds = true_odds_ratios(model.MORTALITY_MODEL, {f.name: f.mortality_intercept for f in model.FAMILIES})
    assert odds["asa_class"]["2"] == 1.0 and odds["asa_class"]["4"] == pytest.approx(math.exp(2 * 0.75))
    assert odds["urgency"]["emergency"] == pytest.approx(math.exp(1.3))
    assert odds["age_per_decade"] == pytest.approx(math.exp(0.55))
    assert set(odds["sex"].values()) == {1.0}
    # cabg against cholecystectomy (the first family): exp(-5.1 - (-6.9)).
    assert odds["procedure_family"]["cabg"] == pytest.approx(math.exp(1.8))
