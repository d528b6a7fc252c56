"""The surgeon/site view: rates, intervals, expected counts and funnels against hand and scipy computations."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy.stats import binom, chi2

from ector.errors import ConfigError, ContractError
from ector.settings import AnalysisSettings
from ector.stats.standardisation import expected_by_strata, expected_from_risk
from ector.workflows import OUTCOMES, surgeon_view, unit_view
from tests.workflows.marts import make_mart, tiny_mart

Z95 = 1.959964
# methods.md, "Funnel plots": the shape other tools read. Written out here on purpose, not imported.
FUNNEL_SHAPE = [
    "unit_id",
    "outcome",
    "measure",
    "denominator",
    "observed",
    "value",
    "target",
    "lower_998",
    "lower_95",
    "upper_95",
    "upper_998",
    "flag",
    "phi",
    "tau2",
]


def _wilson(events: int, n: int) -> tuple[float, float]:
    # methods.md: (p + z²/2N ± z·sqrt(p(1-p)/N + z²/4N²)) / (1 + z²/N)
    p, z = events / n, Z95
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def _overall(tables: dict[str, pl.LazyFrame | pl.DataFrame], unit: str, outcome: str) -> dict[str, Any]:
    outcomes = tables["outcomes"].lazy().collect()
    row = outcomes.filter(unit_id=unit, scope="overall", outcome=outcome)
    assert row.height == 1
    return row.row(0, named=True)


def test_wilson_reference_matches_the_published_value() -> None:
    assert _wilson(7, 20)[0] == pytest.approx(0.1812, abs=1e-4)


def test_rate_and_wilson_interval_of_one_surgeon_match_a_hand_computation() -> None:
    mart = make_mart(seed=3)
    tables = surgeon_view(mart.lazy(), AnalysisSettings())
    mine = mart.filter(surgeon_id="S05")
    for outcome in OUTCOMES:
        known = mine[outcome].drop_nulls()
        events, n = int(known.sum()), known.len()
        row = _overall(tables, "S05", outcome)
        assert (row["events"], row["cases"]) == (events, n)
        assert row["rate"] == pytest.approx(events / n)
        assert (row["rate_lower"], row["rate_upper"]) == pytest.approx(_wilson(events, n), rel=1e-6)


def test_conversion_counts_only_laparoscopic_and_robotic_cases() -> None:
    mart = make_mart(seed=3)
    row = _overall(surgeon_view(mart.lazy(), AnalysisSettings()), "S01", "conversion")
    keyhole = mart.filter(pl.col("surgeon_id") == "S01", pl.col("approach") != "open")
    assert row["cases"] == keyhole.height
    assert row["events"] == keyhole["conversion"].sum()


def test_oe_with_predicted_risk_is_observed_over_summed_risk_with_exact_poisson_interval() -> None:
    mart = make_mart(seed=4, predicted_mortality=True)
    tables = surgeon_view(mart.lazy(), AnalysisSettings())
    mine = mart.filter(surgeon_id="S02")
    observed, expected = int(mine["mortality_30d"].sum()), float(mine["predicted_mortality"].sum())
    row = _overall(tables, "S02", "mortality_30d")
    assert row["expected"] == pytest.approx(expected)
    assert row["oe"] == pytest.approx(observed / expected)
    lower = chi2.ppf(0.025, 2 * observed) / (2 * expected)
    upper = chi2.ppf(0.975, 2 * (observed + 1)) / (2 * expected)
    assert (row["oe_lower"], row["oe_upper"]) == pytest.approx((lower, upper), rel=1e-9)
    assert str(row["expected_method"]).startswith("predicted risk")
    crude = int(mart["mortality_30d"].sum()) / mart.height
    assert row["risk_adjusted_rate"] == pytest.approx(observed / expected * crude)


def test_expected_by_indirect_standardisation_matches_a_hand_computation() -> None:
    # Strata by urgency only. Elective: 1 death in 4 -> 0.25; emergency: 2 deaths in 4 -> 0.5.
    # A: 3 elective + 1 emergency -> E = 0.75 + 0.5 = 1.25, O = 1; B: 1 elective + 3 emergency -> E = 1.75, O = 2.
    rows = [
        {"surgeon_id": s, "urgency": u, "mortality_30d": d}
        for s, u, d in [
            ("A", "elective", True),
            ("A", "elective", False),
            ("A", "elective", False),
            ("A", "emergency", False),
            ("B", "elective", False),
            ("B", "emergency", True),
            ("B", "emergency", True),
            ("B", "emergency", False),
        ]
    ]
    tables = surgeon_view(tiny_mart(rows).lazy(), AnalysisSettings(risk_strata=["urgency"]))
    a, b = _overall(tables, "A", "mortality_30d"), _overall(tables, "B", "mortality_30d")
    assert (a["events"], a["expected"], a["oe"]) == (1, pytest.approx(1.25), pytest.approx(0.8))
    assert (b["events"], b["expected"], b["oe"]) == (2, pytest.approx(1.75), pytest.approx(2 / 1.75))
    assert a["risk_adjusted_rate"] == pytest.approx(0.8 * 3 / 8)
    assert a["expected_method"] == "indirect standardisation over urgency"


@pytest.mark.parametrize("strata", [["procedure_family", "asa_class", "age_band", "urgency"], ["asa_class"], []])
def test_expected_counts_agree_with_the_stats_package(strata: list[str]) -> None:
    # Some unknown ASA classes and outcomes: a null stratum is a stratum of its own, null outcomes count nowhere.
    mart = make_mart(seed=9).with_columns(
        asa_class=pl.when(pl.col("case_id").str.ends_with("7")).then(None).otherwise(pl.col("asa_class")),
        readmission_30d=pl.when(pl.col("case_id").str.ends_with("3")).then(None).otherwise(pl.col("readmission_30d")),
    )
    analysis = AnalysisSettings(risk_strata=strata, risk_model="strata")
    outcomes = surgeon_view(mart.lazy(), analysis)["outcomes"].lazy().collect()
    for outcome in ("readmission_30d", "conversion", "mortality_30d"):
        reference = expected_by_strata(mart, unit="surgeon_id", outcome=outcome, strata=strata).collect()
        mine = outcomes.filter(scope="overall", outcome=outcome).sort("unit_id")
        assert mine["cases"].to_list() == reference["cases"].to_list()
        assert mine["events"].to_list() == reference["observed"].to_list()
        assert mine["expected"].to_list() == pytest.approx(reference["expected"].to_list(), rel=1e-12)


def test_under_the_logistic_model_expected_counts_are_sums_of_the_marts_expected_risks() -> None:
    # The mart's expected columns are the transform's risk models; the view only adds them up.
    mart = make_mart(seed=9).with_columns(
        expected_complication_major=pl.col("expected_complication_major") * 0.9 + 0.001,
        expected_mortality_30d=pl.col("expected_mortality_30d") * 1.1,
    )
    tables = surgeon_view(mart.lazy(), AnalysisSettings(risk_model="logistic"))
    outcomes = tables["outcomes"].lazy().collect().filter(scope="overall")
    for outcome in ("complication_major", "mortality_30d"):
        known = mart.filter(pl.col(outcome).is_not_null())
        reference = known.group_by("surgeon_id").agg(pl.col(f"expected_{outcome}").sum()).sort("surgeon_id")
        mine = outcomes.filter(outcome=outcome).sort("unit_id")
        assert mine["expected"].to_list() == pytest.approx(reference[f"expected_{outcome}"].to_list(), rel=1e-12)
        assert "risk model" in mine["expected_method"][0]
    readmission = outcomes.filter(outcome="readmission_30d")["expected_method"][0]
    assert readmission.startswith("indirect standardisation")


def test_expected_from_predicted_risk_agrees_with_the_stats_package() -> None:
    mart = make_mart(seed=10, predicted_mortality=True)
    outcomes = surgeon_view(mart.lazy(), AnalysisSettings())["outcomes"].lazy().collect()
    reference = expected_from_risk(mart, unit="surgeon_id", outcome="mortality_30d", risk="predicted_mortality")
    mine = outcomes.filter(scope="overall", outcome="mortality_30d").sort("unit_id")
    assert mine["expected"].to_list() == pytest.approx(reference.collect()["expected"].to_list(), rel=1e-12)


def test_expected_counts_add_up_over_families_and_periods() -> None:
    tables = surgeon_view(make_mart(seed=5).lazy(), AnalysisSettings())
    outcomes = tables["outcomes"].lazy().collect().filter(outcome="complication_major")
    totals = outcomes.group_by("unit_id", "scope").agg(pl.col("expected").sum(), pl.col("events").sum())
    wide = totals.pivot("scope", index="unit_id", values="expected")
    assert wide["family"].to_list() == pytest.approx(wide["overall"].to_list())
    assert wide["period"].to_list() == pytest.approx(wide["overall"].to_list())


def test_case_mix_percentages_against_all_surgeons() -> None:
    rows: list[dict[str, Any]] = [
        {"surgeon_id": "A", "age_band": "80+", "asa_class": 3, "urgency": "emergency", "approach": "robotic"},
        {"surgeon_id": "A", "age_band": "60-69", "asa_class": 1, "urgency": "elective", "approach": "open"},
        {"surgeon_id": "A", "age_band": None, "asa_class": 4, "urgency": "elective", "approach": "open"},
        {"surgeon_id": "B", "age_band": "80+", "asa_class": 2, "urgency": "elective", "approach": "laparoscopic"},
    ]
    mix = surgeon_view(tiny_mart(rows).lazy(), AnalysisSettings())["case_mix"].lazy().collect()
    a = {r["characteristic"]: r for r in mix.filter(unit_id="A").iter_rows(named=True)}
    # Age known for 2 of A's cases, one of them 80+; over all, 2 of 3 known are 80+.
    assert (a["age_80_plus"]["cases"], a["age_80_plus"]["count"], a["age_80_plus"]["percent"]) == (2, 1, 50.0)
    assert a["age_80_plus"]["all_percent"] == pytest.approx(200 / 3)
    assert a["asa_3_plus"]["percent"] == pytest.approx(200 / 3)
    assert a["emergency"]["percent"] == pytest.approx(100 / 3)
    assert (a["robotic"]["percent"], a["robotic"]["all_percent"]) == (pytest.approx(100 / 3), 25.0)


def test_an_all_null_outcome_is_not_available_rather_than_zero() -> None:
    mart = make_mart(seed=6, absent=["complications"])
    tables = surgeon_view(mart.lazy(), AnalysisSettings())
    outcomes = tables["outcomes"].lazy().collect()
    missing = outcomes.filter(pl.col("outcome").is_in(["complication_any", "complication_major"]))
    assert missing.height > 0
    assert not missing["available"].any()
    for column in ("events", "cases", "rate", "rate_lower", "expected", "oe"):
        assert missing[column].null_count() == missing.height, column
    summary = tables["summary"].lazy().collect()
    assert summary["complication_major_events"].null_count() == summary.height
    assert summary["mortality_30d_events"].null_count() == 0
    funnel = tables["funnel"].lazy().collect()
    assert "complication_major" not in funnel["outcome"].to_list()
    cusum = tables["cusum"].lazy().collect()
    assert cusum["outcome"].unique().to_list() == ["mortality_30d"]
    availability = tables["availability"].lazy().collect()
    note = availability.filter(column="complication_major", role="outcome").row(0, named=True)
    assert not note["available"]
    assert "complications table" in note["note"]


def test_views_run_without_patients_surgeons_sites_complications_and_encounters() -> None:
    absent = ["patients", "surgeons", "sites", "complications", "encounters"]
    mart = make_mart(seed=7, absent=absent)
    tables = surgeon_view(mart.lazy(), AnalysisSettings(risk_model="strata"))
    summary = tables["summary"].lazy().collect()
    assert summary["specialty"].null_count() == summary.height
    availability = tables["availability"].lazy().collect()
    stratum = availability.filter(column="age_band", role="risk_stratum").row(0, named=True)
    assert not stratum["available"]
    mortality = _overall(tables, "S01", "mortality_30d")
    assert mortality["expected_method"] == "indirect standardisation over procedure_family x asa_class x urgency"
    assert mortality["expected"] > 0
    mix = tables["case_mix"].lazy().collect().filter(characteristic="age_80_plus")
    assert not mix["available"].any()
    assert mix["percent"].null_count() == mix.height
    readmission = tables["outcomes"].lazy().collect().filter(outcome="readmission_30d")
    assert not readmission["available"].any()


def test_a_mart_without_optional_columns_at_all_is_read_as_not_available() -> None:
    mart = make_mart(seed=7).select(
        "case_id", "patient_id", "surgeon_id", "site_id", "procedure_family", "surgery_start", "mortality_30d"
    )
    tables = surgeon_view(mart.lazy(), AnalysisSettings())
    outcomes = tables["outcomes"].lazy().collect()
    assert outcomes.filter(available=True)["outcome"].unique().to_list() == ["mortality_30d"]
    assert outcomes.filter(scope="period")["scope_value"][0].startswith("2022-Q")


def test_a_mart_without_a_required_column_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match="surgeon_id"):
        surgeon_view(make_mart(seed=1).drop("surgeon_id").lazy(), AnalysisSettings())


def test_a_risk_stratum_that_is_not_a_mart_column_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="asa"):
        surgeon_view(make_mart(seed=1).lazy(), AnalysisSettings(risk_strata=["asa"]))


def test_planted_high_complication_surgeon_is_flagged() -> None:
    mart = make_mart(20, 200, seed=11, complication_major_factor={"S07": 3.0})
    funnel = surgeon_view(mart.lazy(), AnalysisSettings())["funnel"].lazy().collect()
    planted = funnel.filter(unit_id="S07", outcome="complication_major")
    assert set(planted["flag"]) <= {"high_alert", "high_alarm"}
    assert planted.height == 2


@pytest.mark.parametrize("measure", ["proportion", "oe_ratio"])
def test_clean_surgeons_alarm_at_998_no_more_often_than_chance(measure: str) -> None:
    seeds, surgeons = range(20, 26), 20
    alarms = trials = 0
    for seed in seeds:
        funnel = surgeon_view(make_mart(surgeons, 200, seed=seed).lazy(), AnalysisSettings())["funnel"]
        rows = funnel.lazy().collect().filter(pl.col("measure") == measure, pl.col("flag") != "too_few_cases")
        trials += rows.height
        alarms += int(rows["flag"].is_in(["high_alarm", "low_alarm"]).sum())
    assert trials == len(seeds) * surgeons * len(OUTCOMES)
    # Each unit is outside the 99.8% limits with probability <= 0.002 (discreteness makes it less). Allow the
    # count a binomial tail of 1e-4: a sound implementation fails this about once in ten thousand runs.
    assert alarms <= binom.ppf(1 - 1e-4, trials, 0.002)


def test_units_below_min_cases_are_listed_but_flagged_too_few_cases() -> None:
    mart = pl.concat([make_mart(10, 100, seed=8), make_mart(1, 5, seed=9).with_columns(surgeon_id=pl.lit("TINY"))])
    funnel = surgeon_view(mart.lazy(), AnalysisSettings(min_cases=10))["funnel"].lazy().collect()
    tiny = funnel.filter(unit_id="TINY")
    assert tiny.height == 2 * len(OUTCOMES)
    assert set(tiny["flag"]) == {"too_few_cases"}


def test_funnel_has_exactly_the_methods_md_columns_and_both_measures() -> None:
    funnel = surgeon_view(make_mart(seed=2).lazy(), AnalysisSettings())["funnel"].lazy().collect()
    assert funnel.columns == FUNNEL_SHAPE
    assert funnel.group_by("outcome").agg(pl.col("measure").n_unique())["measure"].to_list() == [2] * len(OUTCOMES)
    assert funnel.equals(funnel.sort("outcome", "measure", "unit_id"))
    assert funnel["phi"].null_count() == funnel.height


def test_overdispersion_setting_reports_phi_and_tau2() -> None:
    analysis = AnalysisSettings(overdispersion=True)
    funnel = surgeon_view(make_mart(seed=2).lazy(), analysis)["funnel"].lazy().collect()
    assert funnel["phi"].null_count() == 0
    assert (funnel["tau2"] >= 0).all()


def test_every_table_is_sorted_by_its_keys() -> None:
    mart = make_mart(seed=12).sample(fraction=1.0, shuffle=True, seed=1)
    tables = {k: v.lazy().collect() for k, v in surgeon_view(mart.lazy(), AnalysisSettings()).items()}
    keys = {
        "summary": ["unit_id"],
        "by_family": ["unit_id", "procedure_family"],
        "by_period": ["unit_id", "period"],
        "cusum": ["unit_id", "outcome", "seq"],
        "learning_curve": ["unit_id", "procedure_family", "case_sequence"],
        "case_mix": ["unit_id"],
        "outcomes": ["unit_id"],
    }
    for name, columns in keys.items():
        assert tables[name].equals(tables[name].sort(columns, maintain_order=True)), name
    # Same rows in the same order on every run; parallel float sums may differ in the last bit only.
    again = {k: v.lazy().collect() for k, v in surgeon_view(mart.lazy(), AnalysisSettings()).items()}
    for name in tables:
        assert_frame_equal(tables[name], again[name], rel_tol=1e-12, abs_tol=1e-12)


def test_by_period_follows_analysis_period() -> None:
    by_period = unit_view(make_mart(seed=1).lazy(), "site_id", AnalysisSettings(period="month"))["by_period"]
    periods = by_period.lazy().collect()["period"]
    assert periods.str.contains(r"^\d{4}-\d{2}$").all()
    assert periods.n_unique() == 36


def test_summary_medians_and_iqr_match_numpy() -> None:
    mart = make_mart(seed=13)
    summary = surgeon_view(mart.lazy(), AnalysisSettings())["summary"].lazy().collect()
    row = summary.filter(unit_id="S04").row(0, named=True)
    minutes = mart.filter(surgeon_id="S04")["operative_minutes"].to_numpy()
    assert row["operative_minutes_median"] == pytest.approx(np.median(minutes))
    assert row["operative_minutes_q1"] == pytest.approx(np.percentile(minutes, 25))
    assert row["operative_minutes_q3"] == pytest.approx(np.percentile(minutes, 75))
    assert (row["cases"], row["patients"]) == (200, mart.filter(surgeon_id="S04")["patient_id"].n_unique())


def test_an_empty_mart_gives_empty_tables_with_their_columns() -> None:
    mart = make_mart(seed=1).clear()
    tables = surgeon_view(mart.lazy(), AnalysisSettings())
    funnel = tables["funnel"].lazy().collect()
    assert funnel.columns == FUNNEL_SHAPE
    assert funnel.height == 0
    assert tables["summary"].lazy().collect().height == 0
    assert tables["learning_curve"].lazy().collect().height == 0


def test_a_unit_with_no_keyhole_cases_reads_zero_of_zero_conversions() -> None:
    rows: list[dict[str, Any]] = [
        {"surgeon_id": "OPEN", "approach": "open"},
        {"surgeon_id": "LAP", "approach": "laparoscopic", "conversion": True},
        {"surgeon_id": "LAP", "approach": "laparoscopic", "conversion": False},
    ]
    mart = tiny_mart(rows).with_columns(surgery_start=pl.lit(datetime(2024, 3, 1)))
    row = _overall(surgeon_view(mart.lazy(), AnalysisSettings()), "OPEN", "conversion")
    assert (row["available"], row["events"], row["cases"], row["rate"]) == (True, 0, 0, None)
