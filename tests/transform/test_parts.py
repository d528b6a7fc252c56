"""The mart built in many parts (what `ector transform` writes at scale) equals the mart built in one part.

Parts as small as a few dozen cases put a part boundary inside almost every 30-day window, so reoperations,
readmissions and surgeon case counts that reach across parts are all exercised.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from tests.gold import tiny_gold
from tests.transform.frames import START, by_case, day, gold
from tests.transform.synthetic import synthetic_gold

from ector.chain import TRANSFORM
from ector.runner import run_stage
from ector.settings import AnalysisSettings, Settings
from ector.transform import case_mart
from ector.transform.parts import parts_of, starts_between, surgery_days


def _transform(tmp_path: Path, tables: dict[str, pl.DataFrame], part_cases: int, **analysis: object) -> Path:
    settings = Settings(workdir=tmp_path / "work", mart_part_cases=part_cases, analysis=AnalysisSettings(**analysis))
    folder = settings.workdir / "consolidate"
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.write_parquet(folder / f"{name}.parquet")
    run_stage(TRANSFORM, settings)
    return settings.workdir


def _one_plan(tables: dict[str, pl.DataFrame], **analysis: object) -> pl.DataFrame:
    """The mart in one part: no window or case series crosses a part boundary."""
    lazy = {name: frame.lazy() for name, frame in tables.items()}
    return case_mart(lazy, AnalysisSettings(**analysis), part_cases=10**9).plan.collect()


@pytest.mark.parametrize(
    ("seed", "part_cases", "analysis"),
    [
        (21, 40, {}),
        (22, 7, {"outcome_window_days": 90, "risk_strata": ["site_id", "sex"]}),
        (23, 300, {"outcome_window_days": 0, "risk_strata": []}),
        (24, 100_000, {}),
    ],
)
def test_parts_give_the_mart_of_one_plan(
    tmp_path: Path, seed: int, part_cases: int, analysis: dict[str, object]
) -> None:
    tables = synthetic_gold(2500, seed=seed)
    work = _transform(tmp_path, tables, part_cases, **analysis)
    parts = json.loads((work / "manifest.json").read_text())["stages"]["transform"]["mart_parts"]
    expected = _one_plan(tables, **analysis)

    assert_frame_equal(pl.read_parquet(work / "transform" / "cases.parquet"), expected)
    # The parts really were small: each holds whole days, so there are at most as many as cases / part size.
    assert parts == (1 if part_cases > expected.height else pytest.approx(expected.height / part_cases, rel=0.25))
    # What reaches across parts is there to get wrong: cases seen again within the window, case series
    # longer than a part.
    assert expected["reoperation_30d"].sum() > 0 or analysis.get("outcome_window_days") == 0
    assert expected["surgeon_case_seq"].max() > min(part_cases, 100)  # type: ignore[operator]


def test_parts_without_event_tables_or_patients(tmp_path: Path) -> None:
    tables = {k: v for k, v in synthetic_gold(800, seed=25).items() if k not in ("encounters", "patients")}
    work = _transform(tmp_path, tables, 30)
    assert_frame_equal(pl.read_parquet(work / "transform" / "cases.parquet"), _one_plan(tables))


def test_no_scratch_file_is_left_and_nothing_else_is_published(tmp_path: Path) -> None:
    work = _transform(tmp_path, synthetic_gold(600, seed=26), 50)
    left = sorted(p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file())
    assert [p for p in left if not p.startswith("consolidate/")] == [
        ".ector-workdir",
        ".lock",
        "manifest.json",
        "transform/cases.parquet",
        "transform/risk_calibration.parquet",
        "transform/risk_models.parquet",
    ]


def test_a_selection_applies_to_the_whole_mart(tmp_path: Path) -> None:
    tables = tiny_gold()
    since, until = date(2024, 2, 1), date(2024, 2, 29)
    settings = Settings(workdir=tmp_path / "work", mart_part_cases=1)
    folder = settings.workdir / "consolidate"
    folder.mkdir(parents=True)
    for name, frame in tables.items():
        frame.write_parquet(folder / f"{name}.parquet")
    run_stage(TRANSFORM, settings, {"since": since, "until": until})
    whole = _one_plan(tables)
    expected = whole.filter(pl.col("surgery_date").is_between(since, until))
    assert 0 < expected.height < whole.height
    assert_frame_equal(pl.read_parquet(settings.workdir / "transform" / "cases.parquet"), expected)


def test_days_are_given_to_parts_whole_and_in_order() -> None:
    per_day = {1: 3, 2: 1, 3: 9, 4: 1, 5: 4}
    starts = [f"2024-01-0{d} 08:00" for d, n in per_day.items() for _ in range(n)]
    cases = pl.LazyFrame({"surgery_start": starts, "discharge_date": [date(2024, 1, 9)] * len(starts)}).with_columns(
        pl.col("surgery_start").str.to_datetime()
    )
    days = surgery_days(cases.with_columns(surgery_date=pl.col("surgery_start").dt.date()), 4).collect()
    # Cases before each day: 0, 3, 4, 13, 14; a part is 4 cases: parts 0, 0, 1, 3, 3 (day 3 alone fills two).
    assert days["part"].to_list() == [0, 0, 1, 3, 3]
    parts = parts_of(days)
    assert [(p.index, p.first_day, p.last_day) for p in parts] == [
        (0, None, date(2024, 1, 2)),
        (1, date(2024, 1, 3), date(2024, 1, 3)),
        (3, date(2024, 1, 4), None),
    ]
    frame = cases.collect()
    heights = [
        frame.filter(starts_between(p.first_day, p.last_day and p.last_day + timedelta(days=1))).height for p in parts
    ]
    assert heights == [4, 9, 5]


def test_events_at_the_edge_of_the_window_are_found_in_the_next_part(tmp_path: Path) -> None:
    """One case per part: the reoperation and the readmission of C000 both fall on its window's last day."""
    window = 30
    tables = gold(
        [
            {"surgery_start": START},  # C000, discharged on day 2
            {"surgery_start": START + timedelta(days=1), "patient_id": "P2"},  # C001: its own part
            {"surgery_start": START + timedelta(days=window, hours=2)},  # C002: reoperation of C000, day 30
        ],
        encounters=[{"admission_date": day(2 + window)}],  # readmission: day 30 after C000's discharge
    )
    work = _transform(tmp_path, tables, 1, outcome_window_days=window)
    result = pl.read_parquet(work / "transform" / "cases.parquet")
    assert json.loads((work / "manifest.json").read_text())["stages"]["transform"]["mart_parts"] == 3
    assert by_case(result, "reoperation_30d") == {"C000": True, "C001": False, "C002": False}
    # C002 is discharged on day 32 too: the same admission is its readmission, on day 0.
    assert by_case(result, "readmission_30d") == {"C000": True, "C001": False, "C002": True}
    assert by_case(result, "surgeon_case_seq") == {"C000": 1, "C001": 2, "C002": 3}
    assert_frame_equal(result, _one_plan(tables, outcome_window_days=window))
