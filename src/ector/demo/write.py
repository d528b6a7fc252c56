"""Sinks for the demo tables: a SQLite file or a folder of Parquet files, each written under a temporary name
and renamed into place only when complete, so a reader never sees half a Gold layer."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Protocol

import polars as pl
import pyarrow.parquet as pq

from ector.files import publish, temporary_path

# Declared SQLite column types, which connectorx follows when it reads the file back (DATE -> Date, ...).
_SQLITE_TYPES: dict[type[pl.DataType], str] = {
    pl.String: "TEXT",
    pl.Date: "DATE",
    pl.Datetime: "TIMESTAMP",
    pl.Boolean: "BOOLEAN",
    pl.Int8: "INTEGER",
    pl.Int32: "INTEGER",
    pl.Int64: "INTEGER",
    pl.Float64: "REAL",
}
_SQLITE_BATCH = 100_000  # rows turned into Python tuples at a time: bounds the memory of an insert
SQLITE_DATE = "%Y-%m-%d"
SQLITE_TIMESTAMP = "%Y-%m-%d %H:%M:%S"  # connectorx reads exactly this (or with a T); no fraction, no zone


def sqlite_type(dtype: pl.DataType) -> str:
    """Returns the declared SQLite type of a column of `dtype`."""
    return _SQLITE_TYPES[type(dtype)]


class Sink(Protocol):
    """Where the demo tables go: appended chunk by chunk, published at the end or discarded."""

    def write(self, table: str, frame: pl.DataFrame) -> None:
        """Append `frame` to `table`."""

    def publish(self) -> list[Path]:
        """Move the finished output into place; returns the paths written."""

    def discard(self) -> None:
        """Remove everything written so far."""


class ParquetSink:
    """One Parquet file per table in `folder` (`<table>.parquet`), one row group per written chunk."""

    def __init__(self, folder: Path, schemas: dict[str, pl.Schema]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.schemas = schemas
        self.targets = {name: folder / f"{name}.parquet" for name in schemas}
        self.temporary = {name: temporary_path(target) for name, target in self.targets.items()}
        self.writers: dict[str, Any] = {}
        for name, schema in schemas.items():
            arrow_schema = pl.DataFrame(schema=schema).to_arrow().schema
            self.writers[name] = pq.ParquetWriter(self.temporary[name], arrow_schema, compression="zstd")

    def write(self, table: str, frame: pl.DataFrame) -> None:
        schema = self.schemas[table]
        self.writers[table].write_table(frame.select(pl.col(n).cast(d) for n, d in schema.items()).to_arrow())

    def publish(self) -> list[Path]:
        for writer in self.writers.values():
            writer.close()
        for name, target in self.targets.items():
            publish(self.temporary[name], target)
        return list(self.targets.values())

    def discard(self) -> None:
        for writer in self.writers.values():
            writer.close()
        for path in self.temporary.values():
            path.unlink(missing_ok=True)


class SqliteSink:
    """One SQLite file with a table per canonical table, columns declared with the types connectorx maps."""

    def __init__(self, path: Path, schemas: dict[str, pl.Schema]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.schemas = schemas
        self.target = path
        self.temporary = temporary_path(path)
        self.temporary.unlink(missing_ok=True)
        self.connection = sqlite3.connect(self.temporary, isolation_level=None)
        # A file nobody reads until it is renamed into place needs no journal and no fsync per page.
        self.connection.execute("PRAGMA journal_mode = OFF")
        self.connection.execute("PRAGMA synchronous = OFF")
        self.connection.execute("BEGIN")
        for name, schema in schemas.items():
            columns = ", ".join(f'"{column}" {sqlite_type(dtype)}' for column, dtype in schema.items())
            self.connection.execute(f'CREATE TABLE "{name}" ({columns})')

    def write(self, table: str, frame: pl.DataFrame) -> None:
        schema = self.schemas[table]
        placeholders = ", ".join("?" * len(schema))
        statement = f'INSERT INTO "{table}" VALUES ({placeholders})'
        stored = frame.select(_sqlite_value(n, d) for n, d in schema.items())
        for batch in stored.iter_slices(_SQLITE_BATCH):
            self.connection.executemany(statement, zip(*(s.to_list() for s in batch.iter_columns()), strict=True))

    def publish(self) -> list[Path]:
        self.connection.execute("COMMIT")
        self.connection.close()
        publish(self.temporary, self.target)
        return [self.target]

    def discard(self) -> None:
        self.connection.close()
        self.temporary.unlink(missing_ok=True)


def _sqlite_value(name: str, dtype: pl.DataType) -> pl.Expr:
    """Returns the column as SQLite stores it: dates and timestamps as ISO text, booleans as 0/1."""
    column = pl.col(name).cast(dtype)
    if dtype == pl.Date():
        return column.dt.strftime(SQLITE_DATE)
    if isinstance(dtype, pl.Datetime):
        return column.dt.strftime(SQLITE_TIMESTAMP)
    if dtype == pl.Boolean():
        return column.cast(pl.Int8)
    return column
