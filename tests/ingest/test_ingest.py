"""Ingest through the CLI: SQLite and Parquet sources, the mapping, subsets, and every error path."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ector.contract import TABLES
from ector.ingest.canonical import ingest_dtype
from tests.gold import tiny_gold, write_parquet_folder, write_sqlite


def _ingested(workdir: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(workdir / "ingest" / f"{table}.parquet")


def _expected(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """The tiny Gold table in ingest dtypes (integers and floats widened)."""
    return frame.cast({c.name: ingest_dtype(c.dtype) for c in TABLES[table].columns})


def test_ingest_from_sqlite_writes_every_canonical_table(cli, tmp_path: Path) -> None:
    gold = tiny_gold()
    uri = write_sqlite(tmp_path / "gold.sqlite", gold)

    result = cli("ingest", "--source", uri)

    assert result.exit_code == 0, result.output
    for table, frame in gold.items():
        assert_frame_equal(_ingested(tmp_path / "ector-work", table), _expected(frame, table))
    manifest = json.loads((tmp_path / "ector-work" / "manifest.json").read_text())
    entry = manifest["stages"]["ingest"]
    assert entry["outputs"]["ingest/cases.parquet"] == {"rows": 4}
    assert entry["outputs"]["ingest/complications.parquet"] == {"rows": 2}
    assert entry["ector_version"] == manifest["ector_version"]
    assert entry["finished"] >= entry["started"]
    assert result.stdout == ""  # stdout carries data only


def test_sqlite_file_path_is_accepted_as_source(cli, tmp_path: Path) -> None:
    write_sqlite(tmp_path / "gold.sqlite", tiny_gold())
    assert cli("ingest", "--source", "gold.sqlite").exit_code == 0
    assert _ingested(tmp_path / "ector-work", "cases").height == 4


def test_mapping_renames_tables_and_columns(cli, tmp_path: Path) -> None:
    gold = tiny_gold()
    uri = write_sqlite(
        tmp_path / "renamed.sqlite",
        gold,
        names={"cases": "fact_surgical_case", "surgeons": "dim_surgeon"},
        columns={"cases": {"surgery_start": "proc_start_ts", "surgeon_id": "primary_surgeon"}},
    )
    (tmp_path / "ector.yaml").write_text(
        "source:\n"
        "  tables:\n"
        "    cases:\n"
        "      name: fact_surgical_case\n"
        "      columns: {surgery_start: proc_start_ts, surgeon_id: primary_surgeon}\n"
        "    surgeons: {name: dim_surgeon}\n"
    )

    result = cli("ingest", "--source", uri)

    assert result.exit_code == 0, result.output
    assert_frame_equal(_ingested(tmp_path / "ector-work", "cases"), _expected(gold["cases"], "cases"))
    assert_frame_equal(_ingested(tmp_path / "ector-work", "surgeons"), _expected(gold["surgeons"], "surgeons"))


def test_parquet_folder_gives_the_same_tables_as_sqlite(cli, tmp_path: Path) -> None:
    gold = tiny_gold()
    uri = write_sqlite(tmp_path / "gold.sqlite", gold)
    folder = write_parquet_folder(tmp_path / "gold-parquet", gold)

    assert cli("--workdir", "from-sqlite", "ingest", "--source", uri).exit_code == 0
    assert cli("--workdir", "from-parquet", "ingest", "--source", str(folder)).exit_code == 0

    for table in gold:
        assert_frame_equal(_ingested(tmp_path / "from-sqlite", table), _ingested(tmp_path / "from-parquet", table))


def test_text_values_survive_for_consolidation_to_parse(cli, tmp_path: Path) -> None:
    """A date written as text in another format is kept as text, never turned into null."""
    gold = tiny_gold()
    patients = gold["patients"].with_columns(pl.col("birth_date").dt.strftime("%d/%m/%Y"))
    folder = write_parquet_folder(tmp_path / "gold", {**gold, "patients": patients})

    assert cli("ingest", "--source", str(folder)).exit_code == 0

    ingested = _ingested(tmp_path / "ector-work", "patients")
    assert ingested.schema["birth_date"] == pl.String
    assert ingested["birth_date"].to_list() == ["01/03/1950", "31/12/1980", "15/06/1935"]


def test_missing_optional_tables_are_noted_not_errors(cli, tmp_path: Path) -> None:
    gold = tiny_gold()
    folder = write_parquet_folder(tmp_path / "gold", {"cases": gold["cases"], "patients": gold["patients"]})

    result = cli("ingest", "--source", str(folder))

    assert result.exit_code == 0, result.output
    assert "optional table complications not in the source" in result.stderr
    manifest = json.loads((tmp_path / "ector-work" / "manifest.json").read_text())
    assert manifest["stages"]["ingest"]["absent_tables"] == [
        "sites",
        "surgeons",
        "complications",
        "encounters",
    ]
    assert sorted(p.name for p in (tmp_path / "ector-work" / "ingest").iterdir()) == [
        "cases.parquet",
        "patients.parquet",
    ]


def test_missing_optional_column_becomes_null(cli, tmp_path: Path) -> None:
    gold = tiny_gold()
    folder = write_parquet_folder(tmp_path / "gold", {**gold, "cases": gold["cases"].drop("predicted_mortality")})
    assert cli("ingest", "--source", str(folder)).exit_code == 0
    cases = _ingested(tmp_path / "ector-work", "cases")
    assert cases["predicted_mortality"].null_count() == 4
    assert cases.columns == TABLES["cases"].column_names


def test_missing_required_table_exits_3_naming_it(cli, tmp_path: Path) -> None:
    gold = tiny_gold()
    uri = write_sqlite(tmp_path / "gold.sqlite", gold, names={"cases": "fact_case"})

    result = cli("ingest", "--source", uri)

    assert result.exit_code == 3
    assert "required table cases not found: looked for 'cases'" in result.stderr
    assert "source.tables.cases.name" in result.stderr
    assert not (tmp_path / "ector-work" / "ingest" / "patients.parquet").exists()


def test_missing_required_column_exits_3_naming_canonical_source_and_key(cli, tmp_path: Path) -> None:
    gold = tiny_gold()
    uri = write_sqlite(tmp_path / "gold.sqlite", gold, columns={"cases": {"surgery_start": "start_time"}})

    result = cli("ingest", "--source", uri)

    assert result.exit_code == 3
    assert "required column cases.surgery_start not found: looked for 'surgery_start'" in result.stderr
    assert "source.tables.cases.columns.surgery_start" in result.stderr


def test_table_option_ingests_a_subset_and_keeps_the_rest(cli, tmp_path: Path) -> None:
    gold = tiny_gold()
    uri = write_sqlite(tmp_path / "gold.sqlite", gold)
    assert cli("ingest", "--source", uri).exit_code == 0
    before = (tmp_path / "ector-work" / "ingest" / "patients.parquet").stat().st_mtime_ns

    result = cli("ingest", "--source", uri, "--table", "cases")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "ector-work" / "ingest" / "patients.parquet").stat().st_mtime_ns == before
    outputs = json.loads((tmp_path / "ector-work" / "manifest.json").read_text())["stages"]["ingest"]["outputs"]
    assert len(outputs) == 6


def test_unknown_table_option_is_a_usage_error(cli, tmp_path: Path) -> None:
    uri = write_sqlite(tmp_path / "gold.sqlite", tiny_gold())
    result = cli("ingest", "--source", uri, "--table", "operations")
    assert result.exit_code == 2
    assert "unknown table 'operations'" in result.stderr


def test_partitioned_read_gives_the_same_rows(cli, tmp_path: Path) -> None:
    uri = write_sqlite(tmp_path / "gold.sqlite", tiny_gold())
    assert cli("--workdir", "one", "ingest", "--source", uri).exit_code == 0
    (tmp_path / "ector.yaml").write_text("source: {partition_num: 3}\n")
    assert cli("--workdir", "three", "ingest", "--source", uri).exit_code == 0
    for table in TABLES:
        one = _ingested(tmp_path / "one", table)
        three = _ingested(tmp_path / "three", table)
        key = TABLES[table].key
        assert_frame_equal(one.sort(key), three.sort(key))


@pytest.mark.parametrize(
    ("source", "code", "message"),
    [
        ("sqlite:///nowhere/gold.sqlite", 1, "cannot open SQLite file /nowhere/gold.sqlite: no such file"),
        (
            "postgresql://ector:s3cr3t-pw@127.0.0.1:9/gold",
            1,
            "cannot reach postgresql database 'gold' on 127.0.0.1:9",
        ),
        ("not-a-source", 2, "neither a folder of Parquet files, a SQLite file nor a URI"),
    ],
)
def test_unreachable_source_fails_naming_it_without_password(cli, source: str, code: int, message: str) -> None:
    result = cli("ingest", "--source", source)
    assert result.exit_code == code
    assert message in result.stderr
    assert "s3cr3t-pw" not in result.output
    assert "Traceback" not in result.output


def test_no_source_is_a_configuration_error(cli) -> None:
    result = cli("ingest")
    assert result.exit_code == 2
    assert "no source given" in result.stderr


def test_failed_ingest_leaves_previous_outputs_intact(cli, tmp_path: Path) -> None:
    gold = tiny_gold()
    uri = write_sqlite(tmp_path / "gold.sqlite", gold)
    assert cli("ingest", "--source", uri).exit_code == 0
    before = _ingested(tmp_path / "ector-work", "cases")
    broken = write_sqlite(tmp_path / "broken.sqlite", gold, columns={"cases": {"site_id": "hospital"}})

    assert cli("ingest", "--source", broken).exit_code == 3

    assert_frame_equal(_ingested(tmp_path / "ector-work", "cases"), before)
    leftovers = [p.name for p in (tmp_path / "ector-work" / "ingest").iterdir() if p.name.startswith(".")]
    assert leftovers == []
