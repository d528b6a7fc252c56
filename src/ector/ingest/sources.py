"""Gold sources: a database read through connectorx, or a folder of Parquet files.

A source answers two questions per table: which columns does it have (None: the table is absent), and what
are the rows of these columns. Everything that touches a connection or a source file lives here.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import polars as pl
from polars.io.plugins import register_io_source

from ector.errors import ConfigError, SourceError, redact
from ector.ingest.stderr import rust_stderr_held

# Default ports of the network databases connectorx reads, for the reachability check.
_DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "mysql": 3306, "mssql": 1433, "oracle": 1521}
_CONNECT_TIMEOUT_S = 5.0
_PARTITION_COLUMN = "__ector_partition"
_BATCH_ROWS = 65_536  # rows per Arrow batch: large enough to amortise, small enough to stream
BatchSource = Callable[[list[str] | None, pl.Expr | None, int | None, int | None], Iterator[pl.DataFrame]]
# Per database: an integer expression spreading rows evenly, to split a read into `partition_num` queries.
# connectorx partitions on an integer column; Gold keys are text, so each dialect hashes the key.
_PARTITION_EXPRESSIONS = {
    "sqlite": "rowid",
    "postgresql": "abs(hashtext({key}::text)) % 4096",
    "postgres": "abs(hashtext({key}::text)) % 4096",
    "mysql": "crc32({key}) % 4096",
    "mssql": "abs(checksum({key})) % 4096",
}


class Source(Protocol):
    """A Gold layer that Ector can read tables from."""

    description: str

    def columns(self, table: str) -> list[str] | None:
        """The source table's column names, or None when the table does not exist."""

    def read(self, table: str, columns: list[str], key: str) -> pl.LazyFrame:
        """Every row of `columns` of the source table (source names)."""


def open_source(uri: str, password: str | None = None, schema: str | None = None, partitions: int = 1) -> Source:
    """The source named by `uri`: a Parquet folder path, a SQLite file path, or any connectorx URI."""
    if "://" not in uri:
        path = Path(uri)
        if path.is_dir():
            return ParquetSource(path)
        if path.is_file() and path.suffix.lower() in {".sqlite", ".sqlite3", ".db"}:
            return DatabaseSource(f"sqlite://{path.resolve()}", schema=None, partitions=partitions)
        # What precedes an `@` may be user:password, in whatever malformed shape: never echo it.
        shown = f"***@{uri.rpartition('@')[2]}" if "@" in uri else uri
        raise ConfigError(
            f"source {shown!r} is neither a folder of Parquet files, a SQLite file nor a URI",
            "set source.uri (or --source) to e.g. sqlite:///path/gold.sqlite or postgresql://user@host/db",
        )
    return DatabaseSource(_with_password(uri, password), schema=schema, partitions=partitions)


def local_fingerprint(uri: str) -> dict[str, str] | None:
    """Fingerprints of the files behind a SQLite or Parquet source; None for a database server (always read)."""
    from ector.files import file_fingerprint

    if "://" in uri:
        if not uri.lower().startswith("sqlite://"):
            return None
        path = Path(unquote(uri.split("://", 1)[1]))
    else:
        path = Path(uri)
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path] if path.is_file() else []
    return {str(f.resolve()): file_fingerprint(f) for f in files} or None


def _with_password(uri: str, password: str | None) -> str:
    """The URI with `password` set in it, when one is given separately (ECTOR_SOURCE__PASSWORD)."""
    if not password:
        return uri
    parts = urlsplit(uri)
    if parts.username is None:
        raise ConfigError(
            "source.password is set but source.uri names no user", "write the URI as scheme://USER@host/db"
        )
    host = parts.hostname or ""
    netloc = f"{parts.username}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass
class DatabaseSource:
    """A database read through connectorx (SQLite, PostgreSQL, MySQL, SQL Server, ...)."""

    uri: str
    schema: str | None
    partitions: int

    def __post_init__(self) -> None:
        parts = urlsplit(self.uri)
        self.scheme = parts.scheme.split("+")[0].lower()
        if self.scheme == "sqlite":
            self.description = f"SQLite file {unquote(self.uri.split('://', 1)[1])}"
        else:
            database = parts.path.lstrip("/") or "(default database)"
            self.description = f"{self.scheme} database {database!r} on {parts.hostname}:{self._port(parts)}"
        self._checked = False

    @staticmethod
    def _port(parts: object) -> int:
        port = getattr(parts, "port", None)
        scheme = str(getattr(parts, "scheme", "")).split("+")[0]
        return int(port) if port else _DEFAULT_PORTS.get(scheme, 0)

    def check_reachable(self) -> None:
        """Fail fast, naming host and database, when the source cannot be reached (connectorx waits 30 s)."""
        if self._checked:
            return
        if self.scheme == "sqlite":
            path = Path(unquote(self.uri.split("://", 1)[1]))
            # connectorx would silently create an empty database for a path that does not exist.
            if not path.is_file():
                raise SourceError(f"cannot open {self.description}: no such file", "check source.uri")
        else:
            parts = urlsplit(self.uri)
            try:
                socket.create_connection((parts.hostname, self._port(parts)), _CONNECT_TIMEOUT_S).close()
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise SourceError(
                    f"cannot reach {self.description}: {reason}",
                    "check the host, port and that the server runs",
                ) from None
        try:
            self._query("SELECT 1")
        except SourceError as exc:
            raise SourceError(f"cannot connect to {self.description}: {exc.message}", exc.hint) from None
        self._checked = True

    def _qualified(self, table: str) -> str:
        return f"{self.schema}.{table}" if self.schema else table

    def columns(self, table: str) -> list[str] | None:
        self.check_reachable()
        try:
            return self._query(f"SELECT * FROM {self._qualified(table)} WHERE 1 = 0").columns
        except SourceError as exc:
            if _is_missing_table(exc.message):
                return None
            raise SourceError(f"reading {table} from {self.description} failed: {exc.message}", _RETRY) from None

    def read(self, table: str, columns: list[str], key: str) -> pl.LazyFrame:
        """A streaming scan of the table: rows arrive from connectorx in Arrow batches, so the runner's sink
        writes them out as they come and a table never has to fit in memory at once."""
        self.check_reachable()
        select = ", ".join(columns)
        query = f"SELECT {select} FROM {self._qualified(table)}"
        try:
            schema = self._query(f"{query} WHERE 1 = 0").schema
        except SourceError as exc:
            raise SourceError(f"reading {table} from {self.description} failed: {exc.message}", _RETRY) from None
        partitioning: dict[str, Any] = {}
        expression = _PARTITION_EXPRESSIONS.get(self.scheme)
        if self.partitions > 1 and expression is not None:
            bucket = expression.format(key=key)
            query = f"SELECT {bucket} AS {_PARTITION_COLUMN}, {select} FROM {self._qualified(table)}"
            partitioning = {"partition_on": _PARTITION_COLUMN, "partition_num": self.partitions}
        return register_io_source(
            self._batches(table, query, schema, partitioning), schema=schema, explain_name=f"connectorx {table}"
        )

    def _batches(self, table: str, query: str, schema: pl.Schema, partitioning: dict[str, Any]) -> BatchSource:
        def generate(
            with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None, batch_size: int | None
        ) -> Iterator[pl.DataFrame]:
            import connectorx

            os.environ.setdefault("RUST_LOG", "off")
            try:
                with rust_stderr_held():
                    reader = iter(
                        connectorx.read_sql(
                            self.uri, query, return_type="arrow_stream", batch_size=_BATCH_ROWS, **partitioning
                        )
                    )
                while True:
                    with rust_stderr_held():
                        batch = next(reader, None)
                    if batch is None:
                        break
                    frame = pl.DataFrame(pl.from_arrow(batch)).select(list(schema))
                    # A batch of all-null values comes back typed Null: give it the declared type.
                    frame = frame.cast({c: t for c, t in schema.items() if frame.schema[c] != t})
                    if predicate is not None:
                        frame = frame.filter(predicate)
                    if with_columns is not None:
                        frame = frame.select(with_columns)
                    yield frame
            except BaseException as exc:
                if not _is_query_failure(exc):
                    raise
                raise SourceError(f"reading {table} from {self.description} failed: {_reason(exc)}", _RETRY) from None

        return generate

    def _query(self, query: str, partition_on: str | None = None, partition_num: int | None = None) -> pl.DataFrame:
        # connectorx's Rust logger writes connection retries straight to stderr unless told not to.
        os.environ.setdefault("RUST_LOG", "off")
        try:
            return pl.read_database_uri(query, self.uri, partition_on=partition_on, partition_num=partition_num)
        except BaseException as exc:
            if not _is_query_failure(exc):
                raise
            raise SourceError(_reason(exc)) from None


def _is_query_failure(exc: BaseException) -> bool:
    """Whether connectorx failed (not a signal or an exit). It raises RuntimeError for most failures, and panics
    when the connection drops mid-stream: pyo3 turns that into PanicException, which is not an Exception."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


# What connectorx (via the Rust postgres, mysql, ... drivers) says when the server went away mid-query.
_CONNECTION_LOST = (
    "connectionreset",
    "connection reset",
    "connection closed",
    "broken pipe",
    "unexpected eof",
    "terminating connection",
    "server closed the connection",
)
_RETRY = "check that the server runs, then rerun: the previous outputs are intact"


def _reason(exc: BaseException) -> str:
    """One line saying why a query failed: connectorx's first line, minus secrets; a lost connection by name."""
    text = str(exc)
    if any(marker in text.lower() for marker in _CONNECTION_LOST):
        return "the connection to the server was lost"
    return redact(text).splitlines()[0] if text.strip() else type(exc).__name__


def _is_missing_table(message: str) -> bool:
    lowered = message.lower()
    return any(
        marker in lowered
        for marker in (
            "no such table",
            "does not exist",
            "doesn't exist",
            "invalid object name",
            "unknown table",
        )
    )


@dataclass
class ParquetSource:
    """A folder holding one Parquet file (`<table>.parquet`) or one folder of Parquet files per table."""

    folder: Path

    def __post_init__(self) -> None:
        self.description = f"Parquet folder {self.folder}"

    def _files(self, table: str) -> str | None:
        single = self.folder / f"{table}.parquet"
        if single.is_file():
            return str(single)
        nested = self.folder / table
        if nested.is_dir() and any(nested.glob("*.parquet")):
            return str(nested / "*.parquet")
        return None

    def columns(self, table: str) -> list[str] | None:
        files = self._files(table)
        if files is None:
            return None
        try:
            return pl.scan_parquet(files).collect_schema().names()
        except Exception as exc:
            raise SourceError(f"cannot read {files}: {exc}", "check that the file is valid Parquet") from None

    def read(self, table: str, columns: list[str], key: str) -> pl.LazyFrame:
        files = self._files(table)
        assert files is not None  # columns() said the table exists
        return pl.scan_parquet(files).select(columns)
