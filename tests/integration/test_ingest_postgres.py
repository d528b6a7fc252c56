"""Ingest from a live PostgreSQL gives the same canonical Parquet as from SQLite."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.gold import tiny_gold, write_sqlite
from tests.integration.pg import load_postgres

pytestmark = pytest.mark.postgres

RENAMED_TABLES = {"cases": "fact_surgical_case", "surgeons": "dim_surgeon"}
RENAMED_COLUMNS = {"cases": {"surgery_start": "proc_start_ts", "surgeon_id": "primary_surgeon"}}
MAPPING = (
    "source:\n"
    "  schema: {schema}\n"
    "  tables:\n"
    "    cases:\n"
    "      name: fact_surgical_case\n"
    "      columns: {{surgery_start: proc_start_ts, surgeon_id: primary_surgeon}}\n"
    "    surgeons: {{name: dim_surgeon}}\n"
)


def test_postgres_and_sqlite_ingest_are_identical(cli, tmp_path: Path, postgres_uri: str, postgres_schema: str) -> None:
    gold = tiny_gold()
    load_postgres(postgres_uri, postgres_schema, gold, RENAMED_TABLES, RENAMED_COLUMNS)
    sqlite_uri = write_sqlite(tmp_path / "gold.sqlite", gold)
    (tmp_path / "pg.yaml").write_text(MAPPING.format(schema=postgres_schema))

    from_pg = cli("--config", "pg.yaml", "--workdir", "pg", "ingest", "--source", postgres_uri)
    from_sqlite = cli("--workdir", "sqlite", "ingest", "--source", sqlite_uri)

    assert from_pg.exit_code == 0, from_pg.output
    assert from_sqlite.exit_code == 0, from_sqlite.output
    for table in gold:
        assert_frame_equal(
            pl.read_parquet(tmp_path / "pg" / "ingest" / f"{table}.parquet"),
            pl.read_parquet(tmp_path / "sqlite" / "ingest" / f"{table}.parquet"),
        )


def test_postgres_partitioned_read_gives_the_same_rows(
    cli, tmp_path: Path, postgres_uri: str, postgres_schema: str
) -> None:
    gold = tiny_gold()
    load_postgres(postgres_uri, postgres_schema, gold)
    (tmp_path / "one.yaml").write_text(f"source: {{schema: {postgres_schema}}}\n")
    (tmp_path / "four.yaml").write_text(f"source: {{schema: {postgres_schema}, partition_num: 4}}\n")

    assert cli("-c", "one.yaml", "-w", "one", "ingest", "--source", postgres_uri).exit_code == 0
    result = cli("-c", "four.yaml", "-w", "four", "ingest", "--source", postgres_uri)

    assert result.exit_code == 0, result.output
    one = pl.read_parquet(tmp_path / "one" / "ingest" / "cases.parquet").sort("case_id")
    four = pl.read_parquet(tmp_path / "four" / "ingest" / "cases.parquet").sort("case_id")
    assert_frame_equal(one, four)


def test_missing_postgres_table_exits_3(cli, tmp_path: Path, postgres_uri: str, postgres_schema: str) -> None:
    load_postgres(postgres_uri, postgres_schema, {"patients": tiny_gold()["patients"]})
    (tmp_path / "ector.yaml").write_text(f"source: {{schema: {postgres_schema}}}\n")
    result = cli("ingest", "--source", postgres_uri)
    assert result.exit_code == 3
    assert "required table cases not found: looked for 'cases'" in result.stderr


def test_password_from_environment_is_used_and_never_shown(
    cli, tmp_path: Path, postgres_uri: str, postgres_schema: str, monkeypatch
) -> None:
    load_postgres(postgres_uri, postgres_schema, tiny_gold())
    (tmp_path / "ector.yaml").write_text(f"source: {{schema: {postgres_schema}}}\n")
    monkeypatch.setenv("ECTOR_SOURCE__PASSWORD", "Pg-Distinct-0x7")
    result = cli("--verbose", "ingest", "--source", postgres_uri)
    assert result.exit_code == 0, result.output
    assert "Pg-Distinct-0x7" not in result.output
