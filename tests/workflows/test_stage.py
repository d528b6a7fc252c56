"""The workflow stage body through the runner: reads the case mart, sinks every table of the view."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from ector import memory
from ector.chain import stage
from ector.errors import EctorError, MissingInputError
from ector.runner import run_stage
from ector.settings import load_settings
from ector.workflows.stage import BYTES_PER_CASE
from tests.workflows.marts import make_mart

TABLES = {
    "patient": {"summary", "per_patient", "availability"},
    "surgeon": {
        "summary", "by_family", "by_period", "outcomes", "case_mix", "learning_curve", "cusum", "funnel",
        "signals", "availability",
    },
    "site": {
        "summary", "by_family", "by_period", "outcomes", "case_mix", "cusum", "funnel", "signals",
        "volume_trend", "surgeons_active", "availability",
    },
}  # fmt: skip


@pytest.mark.parametrize("view", ["patient", "surgeon", "site"])
def test_stage_sinks_every_table_of_the_view(tmp_path: Path, view: str) -> None:
    settings = load_settings(overrides={"workdir": str(tmp_path)})
    mart = make_mart(5, 40, seed=1, absent=["encounters"])
    (tmp_path / "transform").mkdir()
    mart.write_parquet(tmp_path / "transform" / "cases.parquet")
    run_stage(stage(f"workflow/{view}"), settings)
    assert {p.stem for p in (tmp_path / "workflow" / view).glob("*.parquet")} == TABLES[view]
    entry = json.loads((tmp_path / "manifest.json").read_text())["stages"][f"workflow/{view}"]
    summary = pl.read_parquet(tmp_path / "workflow" / view / "summary.parquet")
    assert summary.height == entry["outputs"][f"workflow/{view}/summary.parquet"]["rows"] > 0
    assert "readmission_30d" in entry["not_available"]


def test_stage_reads_a_mart_given_from_stdin_instead_of_the_work_directory(tmp_path: Path) -> None:
    settings = load_settings(overrides={"workdir": str(tmp_path)})
    mart = make_mart(3, 20, seed=2).lazy()
    run_stage(stage("workflow/surgeon"), settings, given={"mart": mart})
    assert pl.read_parquet(tmp_path / "workflow" / "surgeon" / "summary.parquet")["unit_id"].to_list() == [
        "S01",
        "S02",
        "S03",
    ]


def test_stage_without_a_case_mart_names_the_transform_command(tmp_path: Path) -> None:
    settings = load_settings(overrides={"workdir": str(tmp_path)})
    with pytest.raises(MissingInputError) as caught:
        run_stage(stage("workflow/site"), settings)
    assert "ector transform" in str(caught.value)
    assert not (tmp_path / "workflow").exists()


def test_a_view_that_would_not_fit_in_memory_stops_before_any_work_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(overrides={"workdir": str(tmp_path)})
    (tmp_path / "transform").mkdir()
    make_mart(3, 40, seed=1).write_parquet(tmp_path / "transform" / "cases.parquet")  # 120 cases
    monkeypatch.setattr(memory, "available_bytes", lambda: 120 * BYTES_PER_CASE - 1)

    with pytest.raises(EctorError) as caught:
        run_stage(stage("workflow/surgeon"), settings)

    assert "for the mart's 120 cases" in caught.value.message
    assert "ector transform --since/--until/--where" in (caught.value.hint or "")
    assert not (tmp_path / "workflow").exists()
    monkeypatch.setattr(memory, "available_bytes", lambda: 120 * BYTES_PER_CASE)
    run_stage(stage("workflow/surgeon"), settings)  # just enough: it runs
    assert (tmp_path / "workflow" / "surgeon" / "summary.parquet").is_file()


def test_available_memory_is_read_from_meminfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24576000 kB\nMemAvailable:   20480000 kB\n", encoding="ascii")
    monkeypatch.setattr(memory, "MEMINFO", meminfo)
    assert memory.available_bytes() == 20480000 * 1024
    monkeypatch.setattr(memory, "MEMINFO", tmp_path / "absent")
    assert memory.available_bytes() is None
