"""The patient view (cohort cells, per-patient summary) and the site view's extras."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from ector.settings import AnalysisSettings
from ector.workflows import OUTCOMES, patient_view, site_view
from tests.workflows.marts import make_mart, tiny_mart


def _cohort_mart() -> pl.DataFrame:
    # P1 has two operations (one in December), P2 one, P3 one; P3's stay is unknown (still in hospital).
    rows = [
        {"patient_id": "P1", "sex": "F", "age_band": "80+", "surgery_start": datetime(2023, 12, 30, 9), "los_days": 4,
         "mortality_30d": False, "readmission_30d": True, "complication_any": True, "complication_count": 2},
        {"patient_id": "P1", "sex": "F", "age_band": "80+", "surgery_start": datetime(2024, 2, 1, 9), "los_days": 6,
         "mortality_30d": True, "readmission_30d": None, "complication_any": False, "complication_count": 0},
        {"patient_id": "P2", "sex": "M", "age_band": "<40", "surgery_start": datetime(2024, 1, 5, 9), "los_days": 2,
         "mortality_30d": False, "readmission_30d": False, "complication_any": False, "complication_count": 0},
        {"patient_id": "P3", "sex": "F", "age_band": "60-69", "surgery_start": datetime(2024, 1, 7, 9),
         "los_days": None, "mortality_30d": False, "readmission_30d": False, "complication_any": True,
         "complication_count": 1},
    ]  # fmt: skip
    return tiny_mart(rows)


def test_cohort_cells_count_cases_and_distinct_patients() -> None:
    summary = patient_view(_cohort_mart().lazy(), AnalysisSettings())["summary"]
    cells = {(r["dimension"], r["level"]): r for r in summary.lazy().collect().iter_rows(named=True)}
    assert (cells["all", "all"]["cases"], cells["all", "all"]["patients"]) == (4, 3)
    assert (cells["sex", "F"]["cases"], cells["sex", "F"]["patients"]) == (3, 2)
    assert (cells["period", "2024-Q1"]["cases"], cells["period", "2024-Q1"]["patients"]) == (3, 3)
    assert cells["period", "2023-Q4"]["cases"] == 1
    female = cells["sex", "F"]
    assert (female["mortality_30d_events"], female["mortality_30d_cases"]) == (1, 3)
    assert female["mortality_30d_rate"] == pytest.approx(1 / 3)
    # The unknown readmission leaves its case out of the denominator.
    assert (female["readmission_30d_events"], female["readmission_30d_cases"]) == (1, 2)


def test_cohort_cells_are_in_dimension_and_natural_level_order() -> None:
    summary = patient_view(_cohort_mart().lazy(), AnalysisSettings())["summary"].lazy().collect()
    dimensions = summary["dimension"].unique(maintain_order=True).to_list()
    assert dimensions == ["all", "age_band", "sex", "asa_class", "urgency", "procedure_family", "approach", "period"]
    assert summary.filter(dimension="age_band")["level"].to_list() == ["<40", "60-69", "80+"]


def test_cohort_without_patients_table_says_sex_is_not_available() -> None:
    mart = make_mart(4, 50, seed=1, absent=["patients", "complications"])
    summary = patient_view(mart.lazy(), AnalysisSettings())["summary"].lazy().collect()
    sex = summary.filter(dimension="sex")
    assert sex.height == 1
    assert (sex["level"][0], sex["available"][0], sex["cases"][0]) == (None, False, 200)
    assert summary["complication_major_rate"].null_count() == summary.height
    assert summary["complication_major_events"].null_count() == summary.height
    assert summary["mortality_30d_rate"].null_count() == 0


def test_per_patient_summary_of_a_tiny_mart() -> None:
    per_patient = patient_view(_cohort_mart().lazy(), AnalysisSettings())["per_patient"].lazy().collect()
    assert per_patient["patient_id"].to_list() == ["P1", "P2", "P3"]
    p1, _, p3 = per_patient.iter_rows(named=True)
    assert p1["procedures"] == 2
    assert (p1["first_surgery"], p1["last_surgery"]) == (date(2023, 12, 30), date(2024, 2, 1))
    assert (p1["bed_days"], p1["complications"], p1["cases_with_complication"]) == (10, 2, 1)
    assert (p1["readmissions"], p1["died_within_window"]) == (1, True)
    assert (p3["bed_days"], p3["died_within_window"]) == (None, False)


def test_per_patient_outcomes_are_null_when_not_available() -> None:
    mart = make_mart(2, 20, seed=1, absent=["complications", "encounters"])
    per_patient = patient_view(mart.lazy(), AnalysisSettings())["per_patient"].lazy().collect()
    for column in ("complications", "cases_with_complication", "readmissions"):
        assert per_patient[column].null_count() == per_patient.height, column
    assert per_patient["procedures"].sum() == 40


def test_planted_high_mortality_site_is_flagged() -> None:
    mart = make_mart(20, 150, n_sites=5, seed=4, mortality_factor={"H3": 3.0})
    funnel = site_view(mart.lazy(), AnalysisSettings())["funnel"].lazy().collect()
    planted = funnel.filter(unit_id="H3", outcome="mortality_30d")
    assert set(planted["flag"]) <= {"high_alert", "high_alarm"}
    assert planted.height == 2


def test_site_volume_trend_and_surgeons_active_per_period() -> None:
    rows = [
        {"site_id": "H1", "surgeon_id": "A", "surgery_start": datetime(2024, 1, 3)},
        {"site_id": "H1", "surgeon_id": "B", "surgery_start": datetime(2024, 2, 3)},
        {"site_id": "H1", "surgeon_id": "B", "surgery_start": datetime(2024, 3, 3)},
        {"site_id": "H1", "surgeon_id": "B", "surgery_start": datetime(2024, 4, 3)},
        {"site_id": "H2", "surgeon_id": "A", "surgery_start": datetime(2024, 12, 31), "mortality_30d": True},
    ]
    tables = site_view(tiny_mart(rows).lazy(), AnalysisSettings())
    trend = tables["volume_trend"].lazy().collect()
    assert trend.select("unit_id", "period", "cases", "surgeons_active").rows() == [
        ("H1", "2024-Q1", 3, 2),
        ("H1", "2024-Q2", 1, 1),
        ("H2", "2024-Q4", 1, 1),
    ]
    assert trend["mortality_30d_events"].to_list() == [0, 0, 1]
    assert set(trend.columns) >= {f"{o}_rate_lower" for o in OUTCOMES}
    active = tables["surgeons_active"].lazy().collect()
    assert active.columns == ["unit_id", "period", "surgeons_active"]
    summary = tables["summary"].lazy().collect()
    assert summary.columns[:4] == ["unit_id", "site_name", "site_type", "region"]
