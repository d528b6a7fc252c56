"""The written tables against the contract: dtypes in Parquet, declared types in SQLite, and read-back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl

from ector.contract import TABLES
from ector.demo.write import sqlite_type
from tests.demo.conftest import Demo

# connectorx reads every SQLite INTEGER as Int64 (and REAL as Float64): ingest widens to these anyway.
_READ_BACK: dict[type[pl.DataType], pl.DataType] = {pl.Int8: pl.Int64(), pl.Int32: pl.Int64()}


def _read_back_dtype(dtype: pl.DataType) -> pl.DataType:
    return _READ_BACK.get(type(dtype), dtype)


def test_clean_parquet_tables_have_the_contract_columns_and_dtypes(clean_demo: Demo) -> None:
    for name, table in TABLES.items():
        assert clean_demo.tables[name].schema == table.schema, name


def test_clean_sqlite_reads_back_through_connectorx_with_the_contract_dtypes(clean_sqlite: Demo) -> None:
    for name, table in TABLES.items():
        expected = pl.Schema({c.name: _read_back_dtype(c.dtype) for c in table.columns})
        assert clean_sqlite.tables[name].schema == expected, name


def test_clean_sqlite_values_equal_the_parquet_values(clean_sqlite: Demo, clean_demo: Demo) -> None:
    for name, table in TABLES.items():
        from_sqlite = clean_sqlite.tables[name].cast(dict(table.schema.items()))  # lossless narrowing
        assert from_sqlite.equals(clean_demo.tables[name]), name


def test_clean_sqlite_declares_canonical_column_types(clean_sqlite: Demo) -> None:
    for name, table in TABLES.items():
        declared = _declared_types(clean_sqlite.result.paths[0], name)
        assert declared == {c.name: sqlite_type(c.dtype) for c in table.columns}, name
    assert _declared_types(clean_sqlite.result.paths[0], "cases")["surgery_start"] == "TIMESTAMP"
    assert _declared_types(clean_sqlite.result.paths[0], "cases")["admission_date"] == "DATE"
    assert _declared_types(clean_sqlite.result.paths[0], "encounters")["planned"] == "BOOLEAN"


def test_dirty_text_columns_are_text_and_everything_else_canonical(dirty_demo: Demo, dirty_sqlite: Demo) -> None:
    text = dirty_demo.truth["text_columns"]
    assert "surgery_start" in text["cases"] and "converted_to_open" in text["cases"]
    assert "planned" in text["encounters"] and "birth_date" in text["patients"]
    for name, table in TABLES.items():
        for column in table.columns:
            parquet = dirty_demo.tables[name].schema[column.name]
            from_sqlite = dirty_sqlite.tables[name].schema[column.name]
            declared = _declared_types(dirty_sqlite.result.paths[0], name)[column.name]
            if column.name in text[name]:
                assert (parquet, from_sqlite, declared) == (pl.String(), pl.String(), "TEXT"), (name, column.name)
            else:
                assert parquet == column.dtype, (name, column.name)
                assert from_sqlite == _read_back_dtype(column.dtype), (name, column.name)


def test_clean_truth_lists_no_text_columns(clean_demo: Demo) -> None:
    assert all(columns == [] for columns in clean_demo.truth["text_columns"].values())


def _declared_types(path: Path, table: str) -> dict[str, str]:
    with sqlite3.connect(path) as connection:
        return {row[1]: row[2] for row in connection.execute(f'PRAGMA table_info("{table}")')}
