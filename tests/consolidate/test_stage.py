"""The consolidate stage: ingest/ -> consolidate/, the manifest, missing inputs and the quality gate."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from ector.chain import CONSOLIDATE
from ector.contract import TABLES
from ector.errors import EXIT_GATE, MissingInputError, QualityGateError
from ector.runner import run_stage
from ector.settings import Settings, load_settings
from tests.consolidate.frames import RUN_DATE, edit, gold


def _settings(workdir: Path, **consolidation: object) -> Settings:
    overrides = {"workdir": workdir, "consolidation.run_date": RUN_DATE.isoformat()}
    overrides |= {f"consolidation.{key}": value for key, value in consolidation.items()}
    return load_settings(overrides=overrides)


def _ingest(workdir: Path, tables: dict[str, pl.DataFrame]) -> None:
    folder = workdir / "ingest"
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.write_parquet(folder / f"{name}.parquet")


def _files(workdir: Path) -> dict[str, bytes]:
    folder = workdir / "consolidate"
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_stage_writes_clean_tables_quarantines_and_summary(tmp_path: Path) -> None:
    tables = gold()
    tables["cases"] = edit(tables["cases"], 0, asa_class=9)
    _ingest(tmp_path, tables)

    run_stage(CONSOLIDATE, _settings(tmp_path, max_quarantine_fraction=0.5))

    folder = tmp_path / "consolidate"
    for name, table in TABLES.items():
        assert pl.read_parquet(folder / f"{name}.parquet").schema == table.schema
        assert (folder / "quarantine" / f"{name}.parquet").is_file()
    assert pl.read_parquet(folder / "quarantine" / "cases.parquet")["case_id"].to_list() == ["C1"]
    assert sorted(pl.read_parquet(folder / "cases.parquet")["case_id"].to_list()) == ["C2", "C3", "C4"]
    entry = json.loads((tmp_path / "manifest.json").read_text())["stages"]["consolidate"]
    assert entry["tables"]["cases"] == {
        "rows_in": 4,
        "rows_out": 3,
        "duplicates_merged": 0,
        "quarantined": 1,
        "repaired": 0,
    }
    assert entry["outputs"]["consolidate/quarantine/cases.parquet"] == {"rows": 1}
    assert entry["absent_tables"] == []


def test_stage_prints_the_reconciliation_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _ingest(tmp_path, gold())

    run_stage(CONSOLIDATE, _settings(tmp_path))

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "rows in" in captured.err
    assert "complications" in captured.err


def test_missing_ingest_names_the_command_to_run_first(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError) as raised:
        run_stage(CONSOLIDATE, _settings(tmp_path))
    assert "ector ingest" in str(raised.value)


def test_missing_optional_table_is_fine_and_recorded(tmp_path: Path) -> None:
    _ingest(tmp_path, gold("sites"))

    run_stage(CONSOLIDATE, _settings(tmp_path))

    assert sorted(_files(tmp_path)) == [
        "cases.parquet",
        "quarantine/cases.parquet",
        "quarantine/sites.parquet",
        "sites.parquet",
        "summary.parquet",
    ]
    entry = json.loads((tmp_path / "manifest.json").read_text())["stages"]["consolidate"]
    assert entry["absent_tables"] == ["surgeons", "patients", "complications", "encounters"]


def test_zero_row_ingest_consolidates_to_empty_tables(tmp_path: Path) -> None:
    _ingest(tmp_path, {name: frame.clear() for name, frame in gold().items()})

    run_stage(CONSOLIDATE, _settings(tmp_path))

    assert pl.read_parquet(tmp_path / "consolidate" / "cases.parquet").height == 0
    summary = pl.read_parquet(tmp_path / "consolidate" / "summary.parquet")
    assert set(summary.filter(pl.col("kind") == "total")["rows"]) == {0}


def test_gate_trips_names_the_table_and_publishes_nothing(tmp_path: Path) -> None:
    _ingest(tmp_path, gold())
    run_stage(CONSOLIDATE, _settings(tmp_path))
    before = _files(tmp_path)
    dirty = gold()
    dirty["cases"] = edit(dirty["cases"], 0, surgeon_id="S9999")
    dirty["cases"] = edit(dirty["cases"], 1, surgeon_id="S9998", asa_class=0)
    _ingest(tmp_path, dirty)

    with pytest.raises(QualityGateError) as raised:
        run_stage(CONSOLIDATE, _settings(tmp_path, max_quarantine_fraction=0.25))

    message = str(raised.value)
    assert raised.value.exit_code == EXIT_GATE
    assert "cases: 50.0% quarantined (2 of 4 rows; top rules: orphan_surgeon 2, asa_out_of_range 1)" in message
    assert "consolidation.max_quarantine_fraction" in message
    assert "complications" not in message.split("(")[0]
    assert _files(tmp_path) == before  # previous outputs intact, no staged file left behind


def test_gate_compares_strictly_more_than_the_fraction(tmp_path: Path) -> None:
    tables = gold()
    tables["cases"] = edit(tables["cases"], 0, asa_class=9)  # 1 of 4 cases
    _ingest(tmp_path, tables)

    run_stage(CONSOLIDATE, _settings(tmp_path, max_quarantine_fraction=0.25))

    assert (tmp_path / "consolidate" / "cases.parquet").is_file()


def test_cli_exits_3_when_the_gate_trips(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workdir = tmp_path / "ector-work"
    tables = gold()
    tables["cases"] = edit(tables["cases"], 0, surgery_start="someday")
    _ingest(workdir, tables)
    monkeypatch.setenv("ECTOR_CONSOLIDATION__RUN_DATE", RUN_DATE.isoformat())

    result = cli("consolidate")

    assert result.exit_code == EXIT_GATE, result.output
    assert "cases: 25.0% quarantined" in result.stderr
    assert "unparseable_date 1" in result.stderr
    assert not (workdir / "consolidate" / "cases.parquet").exists()
