"""SQL identifiers from settings (table, column, schema names) never reach a query unless they are plain names.

Given through ector.yaml, the environment or a flag, a name like `cases; DROP TABLE x` is refused with exit 2
and one line naming the key, and the source database is left byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CliResult

HOSTILE = "cases; DROP TABLE x"


@pytest.fixture
def target(gold: Path) -> Path:
    """The demo SQLite layer plus a table `x` for the hostile names to aim at."""
    with sqlite3.connect(gold) as db:
        db.execute("CREATE TABLE x (v INTEGER)")
        db.execute("INSERT INTO x VALUES (1)")
    return gold


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _untouched(gold: Path, before: str) -> None:
    assert _digest(gold) == before
    with sqlite3.connect(gold) as db:
        assert db.execute("SELECT count(*) FROM x").fetchone() == (1,)


YAML_CASES = [
    ({"tables": {"cases": {"name": HOSTILE}}}, "source.tables.cases.name"),
    ({"tables": {"cases": {"name": 'cases" --'}}}, "source.tables.cases.name"),
    ({"tables": {"cases": {"columns": {"patient_id": "patient_id FROM x; --"}}}}, "source.tables.cases.columns"),
    ({"schema": "main; DROP TABLE x"}, "source.schema"),
    ({"schema": "main.x.y"}, "source.schema"),
]


@pytest.mark.parametrize(("source", "key"), YAML_CASES)
def test_hostile_name_in_yaml_is_refused(
    source: dict[str, object], key: str, target: Path, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    (tmp_path / "ector.yaml").write_text(yaml.safe_dump({"source": {"uri": str(target), **source}}), "utf-8")
    before = _digest(target)

    result = cli("ingest")

    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"Error: invalid setting '{key}") and "plain SQL identifier" in lines[0]
    assert len(lines) <= 2 and "Traceback" not in result.stderr  # the error and at most a hint
    assert not (tmp_path / "ector-work" / "ingest").exists()
    _untouched(target, before)


ENV_CASES = [
    ("ECTOR_SOURCE__TABLES__CASES__NAME", HOSTILE, "source.tables.cases.name"),
    ("ECTOR_SOURCE__TABLES__CASES__COLUMNS__PATIENT_ID", "1; DROP TABLE x", "source.tables.cases.columns"),
    ("ECTOR_SOURCE__SCHEMA", "main; DROP TABLE x", "source.schema"),
]


@pytest.mark.parametrize(("variable", "value", "key"), ENV_CASES)
def test_hostile_name_in_the_environment_is_refused(
    variable: str,
    value: str,
    key: str,
    target: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., CliResult],
) -> None:
    monkeypatch.setenv(variable, value)
    before = _digest(target)

    result = cli("ingest", "--source", str(target))

    assert result.exit_code == 2
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith(f"Error: invalid setting '{key}") and "plain SQL identifier" in first
    assert not (tmp_path / "ector-work" / "ingest").exists()
    _untouched(target, before)


@pytest.mark.parametrize("name", [HOSTILE, "cases--", "sqlite_master"])
def test_hostile_table_flag_is_refused(name: str, target: Path, tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    before = _digest(target)

    result = cli("ingest", "--source", str(target), "--table", name)

    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: unknown table {name!r}")
    assert "canonical tables: sites, surgeons, patients, cases" in result.stderr
    assert not (tmp_path / "ector-work" / "ingest").exists()
    _untouched(target, before)


def test_a_plain_mapped_name_still_reads(target: Path, tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    """The control: the same route with a plain name works, so the refusals above are about the names."""
    with sqlite3.connect(target) as db:
        db.execute("ALTER TABLE cases RENAME TO surgical_cases")
    config = {"source": {"uri": str(target), "tables": {"cases": {"name": "surgical_cases"}}}}
    (tmp_path / "ector.yaml").write_text(yaml.safe_dump(config), "utf-8")

    result = cli("ingest")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "ector-work" / "ingest" / "cases.parquet").is_file()


_NAME = r"[A-Za-z_][A-Za-z0-9_$]*"
_QUERY = re.compile(
    rf"SELECT 1|SELECT \* FROM {_NAME} WHERE 1 = 0"
    rf"|SELECT (?:rowid AS __ector_partition, )?{_NAME}(?:, {_NAME})* FROM {_NAME}(?: WHERE 1 = 0)?"
)


def test_every_query_ingest_sends_is_built_from_plain_names(
    target: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., CliResult]
) -> None:
    """Ingest builds SQL from settings (mapped table and column names) and from the source's own column names:
    with a mapping and partitioned reads, every query it sends fits the grammar of plain names."""
    import connectorx
    import polars as pl

    sent: list[str] = []

    def recording(function: Callable[..., Any], position: int) -> Callable[..., Any]:
        def record(*args: Any, **kwargs: Any) -> Any:
            sent.append(kwargs["query"] if "query" in kwargs else args[position])
            return function(*args, **kwargs)

        return record

    # Every query goes through one of these two: polars' URI reader (probes) or connectorx (streamed reads).
    monkeypatch.setattr(pl, "read_database_uri", recording(pl.read_database_uri, 0))
    monkeypatch.setattr(connectorx, "read_sql", recording(connectorx.read_sql, 1))
    with sqlite3.connect(target) as db:
        db.execute("ALTER TABLE cases RENAME TO surgical_cases")
        db.execute("ALTER TABLE surgical_cases RENAME COLUMN asa_class TO asa")
    config = {
        "source": {
            "uri": str(target),
            "partition_num": 2,
            "tables": {"cases": {"name": "surgical_cases", "columns": {"asa_class": "asa"}}},
        }
    }
    (tmp_path / "ector.yaml").write_text(yaml.safe_dump(config), "utf-8")

    result = cli("ingest")

    assert result.exit_code == 0, result.output
    assert any("FROM surgical_cases" in q and "asa" in q for q in sent)
    assert any(q.startswith("SELECT rowid AS __ector_partition") for q in sent)
    assert [q for q in sent if not _QUERY.fullmatch(q)] == []
