"""Work done a group of units or patients at a time gives the same tables as the whole mart at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ector import engine
from ector.pipeline import StageContext, run_stage
from ector.settings import AnalysisSettings, load_settings
from ector.workflows import groups, patient, patient_view, plan, site_view, surgeon_view
from ector.workflows.plan import Frame
from ector.workflows.stage import workflow_stage
from tests.workflows.marts import make_mart


def _mart(*, null_patients: int = 0) -> pl.LazyFrame:
    mart = make_mart(12, 120, seed=7, learning=True)  # 1,440 cases, about 1,000 patients
    if null_patients:
        unknown = pl.int_range(pl.len()) < null_patients
        mart = mart.with_columns(patient_id=pl.when(unknown).then(None).otherwise(pl.col("patient_id")))
    return mart.lazy()


def test_group_count_rounds_up_and_is_at_least_one() -> None:
    assert [groups.group_count(n, 10) for n in (0, 1, 10, 11, 95)] == [1, 1, 1, 2, 10]


def test_learning_curves_computed_a_group_of_surgeons_at_a_time_are_the_same_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    whole = surgeon_view(_mart(), AnalysisSettings())["learning_curve"].lazy().collect()
    monkeypatch.setattr(groups, "SERIES_CASES", 150)  # ten groups of surgeons
    grouped = surgeon_view(_mart(), AnalysisSettings())["learning_curve"]
    assert isinstance(grouped, pl.DataFrame)  # collected group by group, not left as one plan
    assert whole.height > 1000
    assert_frame_equal(grouped, whole)


@pytest.mark.parametrize("view", [surgeon_view, site_view])
def test_distinct_patients_of_units_counted_per_group_of_patients_are_the_same(
    view: Callable[..., dict[str, Frame]], monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = view(_mart(null_patients=30), AnalysisSettings())["summary"]
    monkeypatch.setattr(groups, "PATIENT_CASES", 200)  # eight groups of patients
    grouped = view(_mart(null_patients=30), AnalysisSettings())["summary"]
    # A patient seen by several units counts once in each: the sum exceeds the distinct patients.
    assert int(whole["patients"].sum()) > _mart().select(pl.col("patient_id").n_unique()).collect().item()
    assert_frame_equal(grouped, whole)


def test_cohort_patients_counted_per_group_of_patients_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = patient_view(_mart(null_patients=30), AnalysisSettings())["summary"]
    monkeypatch.setattr(groups, "PATIENT_CASES", 200)
    grouped = patient_view(_mart(null_patients=30), AnalysisSettings())["summary"]
    everyone = _mart(null_patients=30).select(pl.col("patient_id").drop_nulls().n_unique()).collect().item()
    assert grouped.filter(pl.col("dimension") == "all")["patients"].to_list() == [everyone]
    assert_frame_equal(grouped, whole)


def test_per_patient_table_built_in_ranges_of_patients_is_the_same_and_sorted(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = patient_view(_mart(null_patients=30), AnalysisSettings())["per_patient"].lazy().collect()
    monkeypatch.setattr(groups, "PATIENT_CASES", 200)  # eight ranges
    monkeypatch.setattr(groups, "SAMPLED_PATIENTS", 100)  # every 14th case's patient, by hash
    grouped = patient_view(_mart(null_patients=30), AnalysisSettings())["per_patient"].lazy().collect()
    assert whole["patient_id"].null_count() == 1
    assert grouped["patient_id"][-1] is None  # the patients of unknown id, last as in the whole table
    assert grouped["patient_id"].drop_nulls().is_sorted()
    assert_frame_equal(grouped, whole)


def test_patient_ranges_are_consecutive_cover_every_id_and_put_nulls_last() -> None:
    sample = pl.DataFrame({"patient_id": [f"P{i}" for i in range(10)]})
    ranges = groups.patient_ranges(sample, cases=3 * groups.PATIENT_CASES)  # bounds P3 and P6
    ids = pl.DataFrame({"patient_id": ["P0", "P29", "P3", "P5", "P6", "P99", "Q", None, "A"]})
    members = [ids.filter(selected)["patient_id"].to_list() for selected in ranges]
    assert members == [["P0", "P29", "A"], ["P3", "P5"], ["P6", "P99", "Q", None]]


def test_one_patient_range_without_a_sample() -> None:
    empty = pl.DataFrame(schema={"patient_id": pl.String})
    [only] = groups.patient_ranges(empty, cases=50 * groups.PATIENT_CASES)
    assert pl.DataFrame({"patient_id": ["P1", None]}).filter(only).height == 2
    assert groups.patient_sample_plan(_mart(), cases=1_440).collect().height == 0


def test_a_view_reads_the_mart_in_each_group_of_patients_not_through_one_shared_scan(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    make_mart(12, 120, seed=7).write_parquet(tmp_path / "cases.parquet")
    monkeypatch.setattr(groups, "PATIENT_CASES", 200)  # eight groups of patients
    cohort = patient._cohort_plan(pl.scan_parquet(tmp_path / "cases.parquet"), "sex", cases=1_440)
    shared = cohort.explain(optimizations=engine.optimizations(shared_scans=True))
    apart = cohort.explain(optimizations=engine.optimizations(shared_scans=plan.SHARED_SCANS))
    # Shared, one scan feeds the counts and the eight groups through a cache, which buffers what waits.
    assert (shared.count("SCAN"), "CACHE" in shared) == (1, True)
    assert (apart.count("SCAN"), "CACHE" in apart) == (9, False)
    assert_frame_equal(plan.collect_view_plan(cohort, "auto"), cohort.collect(), check_row_order=False)


def test_the_stage_writes_per_patient_part_by_part_the_same_file_and_leaves_no_scratch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def run(workdir: Path) -> pl.DataFrame:
        (workdir / "transform").mkdir(parents=True)
        _mart(null_patients=30).collect().write_parquet(workdir / "transform" / "cases.parquet")
        settings = load_settings(overrides={"workdir": str(workdir)})
        run_stage("workflow/patient", lambda context: workflow_stage(context, "patient"), settings)
        assert [p.name for p in workdir.iterdir() if p.name.startswith(".staging")] == []
        return pl.read_parquet(workdir / "workflow" / "patient" / "per_patient.parquet")

    whole = run(tmp_path / "whole")
    monkeypatch.setattr(groups, "PATIENT_CASES", 200)
    monkeypatch.setattr(groups, "SAMPLED_PATIENTS", 100)
    assert isinstance(patient_view(_mart(), AnalysisSettings())["per_patient"], plan.Parts)
    written: list[str] = []
    sink_scratch = StageContext.sink_scratch

    def recording(context: StageContext, frames: dict[str, pl.LazyFrame], **options: bool) -> list[Path]:
        written.extend(frames)
        return sink_scratch(context, frames, **options)

    monkeypatch.setattr(StageContext, "sink_scratch", recording)
    in_parts = run(tmp_path / "in_parts")
    assert written == [f"patient-per_patient-{i}.parquet" for i in range(8)]  # one range at a time
    assert in_parts.height > 800
    assert in_parts["patient_id"].drop_nulls().is_sorted()
    assert_frame_equal(in_parts, whole)
