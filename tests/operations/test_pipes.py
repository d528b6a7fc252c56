"""Pipes between real processes, `ector show`, and a downstream reader that closes early."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

ECTOR = [sys.executable, "-m", "ector"]


@pytest.fixture
def workdir(cli, gold: Path, tmp_path: Path) -> Path:
    assert cli("all", "--source", str(gold), "--to", "workflow").exit_code == 0
    return tmp_path / "ector-work"


def _shell(command: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=cwd, capture_output=True, check=False)


def test_transform_pipes_into_workflow_as_arrow_then_csv(workdir: Path, tmp_path: Path) -> None:
    python = sys.executable
    result = _shell(
        f"{python} -m ector transform -o - --where \"approach = 'robotic'\" "
        f"| {python} -m ector workflow surgeon -i - -o - --format csv",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr.decode()
    piped = pl.read_csv(io.BytesIO(result.stdout))
    mart = pl.read_parquet(workdir / "transform" / "cases.parquet").filter(pl.col("approach") == "robotic")
    # One summary row per surgeon who operated robotically, each counting only robotic cases.
    assert piped.height == mart["surgeon_id"].n_unique()
    assert piped.columns[0] in {"unit_id", "surgeon_id"}
    volume = next(c for c in ("cases", "volume", "n_cases") if c in piped.columns)
    assert piped[volume].sum() == mart.height
    # The ad-hoc run left the work directory's own mart and views alone.
    assert pl.read_parquet(workdir / "transform" / "cases.parquet").height > mart.height


def test_a_reader_that_closes_early_ends_the_writer_quietly(workdir: Path, tmp_path: Path) -> None:
    result = _shell(f"{sys.executable} -m ector transform -o - --format csv | head -n 3", tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert len(result.stdout.decode().splitlines()) == 3
    assert b"Error" not in result.stderr
    assert b"Traceback" not in result.stderr


def test_show_writes_csv_into_a_pipe_and_filters(workdir: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *ECTOR,
            "show",
            "transform/cases",
            "--where",
            "asa_class >= 4",
            "--columns",
            "case_id,asa_class",
            "--limit",
            "5",
        ],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    shown = pl.read_csv(io.BytesIO(result.stdout))
    assert shown.columns == ["case_id", "asa_class"]
    assert 0 < shown.height <= 5
    assert (shown["asa_class"] >= 4).all()


def test_the_quarantine_shows_as_csv_in_a_pipe_with_its_rules_joined(workdir: Path, tmp_path: Path) -> None:
    # What the quality gate tells a user to inspect: `ector show consolidate/quarantine/cases | head`.
    quarantine = pl.read_parquet(workdir / "consolidate" / "quarantine" / "cases.parquet")
    assert quarantine.height > 0 and isinstance(quarantine.schema["rules"], pl.List)

    result = _shell(f"{sys.executable} -m ector show consolidate/quarantine/cases --limit 1000 | head -5", tmp_path)

    assert result.returncode == 0, result.stderr.decode()
    shown = pl.read_csv(io.BytesIO(result.stdout), infer_schema=False)
    assert shown.height == 4  # a header and four rows
    expected = quarantine.head(4)["rules"].list.join("; ").to_list()
    assert shown["rules"].to_list() == expected


def test_the_quarantine_keeps_its_rules_as_lists_in_json(workdir: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [*ECTOR, "show", "consolidate/quarantine/cases", "--format", "json", "--limit", "3"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    shown = pl.read_ndjson(io.BytesIO(result.stdout))
    assert isinstance(shown.schema["rules"], pl.List)


def test_show_as_arrow_round_trips_with_dtypes(workdir: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [*ECTOR, "show", "workflow/surgeon/funnel", "--format", "arrow"], cwd=tmp_path, capture_output=True, check=False
    )
    assert result.returncode == 0
    shown = pl.read_ipc_stream(io.BytesIO(result.stdout))
    assert shown.equals(pl.read_parquet(workdir / "workflow" / "surgeon" / "funnel.parquet"))


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd", "ingest/../../outside"])
def test_show_refuses_paths_outside_the_work_directory(cli, workdir: Path, target: str) -> None:
    result = cli("show", target)
    assert result.exit_code == 2
    assert "outside the work directory" in result.stderr


def test_show_names_the_tables_there_are_when_one_is_missing(cli, workdir: Path) -> None:
    result = cli("show", "transform/patients")
    assert result.exit_code == 2
    assert "consolidate/cases" in result.stderr


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("1 = 1; DROP TABLE cases", ""),
        ("case_id IN (SELECT case_id FROM cases)", ""),
        ("no_such_column = 1", "no_such_column"),
    ],
)
def test_show_refuses_bad_where_with_exit_2(cli, workdir: Path, where: str, message: str) -> None:
    result = cli("show", "transform/cases", "--where", where)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.stderr
