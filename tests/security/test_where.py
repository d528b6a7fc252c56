"""`--where` takes one condition over the table's columns, through the real CLI of `transform` and `show`.

Everything else (statements, file-reading and unknown functions, subqueries, aggregates, comments, unknown
columns) is refused with exit 2 and one line naming the problem, before any row is read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import CliResult
from tests.security.outputs import ector

REFUSED = [
    ("asa_class >= 3; DROP TABLE cases", "not statements"),
    ("asa_class >= 3;", "not statements"),
    ("1 = 1; SELECT * FROM read_csv('/etc/passwd')", "not statements"),
    ("read_csv('/etc/passwd') IS NOT NULL", "table functions such as read_csv"),
    ("read_parquet('ingest/patients.parquet') IS NOT NULL", "table functions such as read_parquet"),
    ("read_json('/etc/hosts') IS NULL", "table functions such as read_json"),
    ("read_ipc('x.arrow') IS NULL", "table functions such as read_ipc"),
    ("scan_parquet('x') IS NULL", "table functions such as scan_parquet"),
    ("READ_CSV ('/etc/passwd') IS NULL", "table functions such as READ_CSV"),
    ("glob('/etc/*') IS NOT NULL", "not a valid SQL expression"),
    ("pg_read_file('/etc/passwd') = ''", "not a valid SQL expression"),
    ("case_id IN (SELECT case_id FROM cases)", "subqueries or statements (SELECT)"),
    ("EXISTS (SELECT 1)", "subqueries or statements (EXISTS)"),
    ("(select 1) = 1", "subqueries or statements (SELECT)"),
    ("case_id IN (VALUES ('C1'))", "subqueries or statements (VALUES)"),
    ("asa_class = 3 -- and the rest", "comments"),
    ("asa_class = 3 /* hidden */", "comments"),
    ("count(*) > 1", "no aggregates or window functions"),
    ("asa_class > avg(asa_class)", "no aggregates or window functions"),
    ("row_number() OVER (ORDER BY case_id) < 5", "no aggregates or window functions"),
    ("patient_secret = 1", "unknown column 'patient_secret'"),
    ('"select" = 1', "unknown column 'select'"),
    ("asa_class + 1", "must be a true/false condition"),
    ("asa_class >= 3\uff1b DROP TABLE cases", "subqueries or statements (TABLE)"),
    ("asa_class >= 3\uff1b DELETE", "not a valid SQL expression"),
    ("", "is empty"),
    # Conditions that fail on the data rather than as text (found by tests/security/test_fuzz.py)
    ("CAST(case_id AS INT) > 1", "cannot be evaluated on the rows: conversion from `str` to `i32` failed"),
    ("CAST(approach AS DATE) IS NULL", "cannot be evaluated on the rows: could not find an appropriate format"),
    ("case_id ~ '('", "cannot be applied: regex error"),
    ("asa_class > 'x'", "cannot be applied: cannot compare string with numeric type"),
]


@pytest.fixture(scope="module")
def workdir(demo_gold: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("where")
    assert ector("all", "--source", str(demo_gold), "--to", "transform", cwd=folder).code == 0
    return folder / "ector-work"


def _refused(result: CliResult, message: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("Error: --where") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("sql", "message"), REFUSED)
def test_show_refuses(sql: str, message: str, workdir: Path, cli: Callable[..., CliResult]) -> None:
    _refused(cli("-w", str(workdir), "show", "transform/cases", "--where", sql), message)


@pytest.mark.parametrize(("sql", "message"), REFUSED)
def test_transform_refuses(sql: str, message: str, workdir: Path, cli: Callable[..., CliResult]) -> None:
    before = (workdir / "transform" / "cases.parquet").stat().st_mtime_ns

    _refused(cli("-w", str(workdir), "transform", "--where", sql, "-o", "-", "--format", "csv"), message)

    assert (workdir / "transform" / "cases.parquet").stat().st_mtime_ns == before


def test_one_condition_is_applied(workdir: Path, cli: Callable[..., CliResult]) -> None:
    sql = "asa_class >= 3 AND approach = 'laparoscopic'"
    mart = pl.read_parquet(workdir / "transform" / "cases.parquet")
    expected = mart.filter((pl.col("asa_class") >= 3) & (pl.col("approach") == "laparoscopic"))

    shown = cli("-w", str(workdir), "show", "transform/cases", "--where", sql, "--columns", "case_id")

    assert shown.exit_code == 0
    assert 0 < expected.height < mart.height
    assert shown.stdout.split() == ["case_id", *expected["case_id"].to_list()]


def test_quoted_text_may_hold_keywords_and_semicolons(workdir: Path, cli: Callable[..., CliResult]) -> None:
    shown = cli("-w", str(workdir), "show", "transform/cases", "--where", "approach = 'select; drop --'")

    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip().splitlines()[1:] == []  # the header alone: no case has that approach


def test_a_condition_failing_on_the_rows_leaves_the_published_mart(
    workdir: Path, cli: Callable[..., CliResult]
) -> None:
    before = (workdir / "transform" / "cases.parquet").read_bytes()

    _refused(cli("-w", str(workdir), "transform", "--where", "CAST(case_id AS INT) > 1"), "cannot be evaluated")

    assert (workdir / "transform" / "cases.parquet").read_bytes() == before
    assert not [p.name for p in workdir.iterdir() if p.name.startswith(".staging-")]
