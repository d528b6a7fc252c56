"""Ingest from PostgreSQL: `ector ingest` with partition_num 1, 2 and 4 against pandas.read_sql of the same tables.

The server: ECTOR_TEST_POSTGRES_URI if set, else a throwaway one started with .ci/pg-start on a free port (when
initdb is installed), else the part is skipped with the reason. The demo layer is loaded with COPY (psycopg),
once per server: a table already holding the layer's row count is not loaded again.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import Run, run_command

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("sites", "surgeons", "patients", "cases", "complications", "encounters")
_PG_TYPES = {
    pl.String: "text",
    pl.Int8: "smallint",
    pl.Int16: "smallint",
    pl.Int32: "integer",
    pl.Int64: "bigint",
    pl.Float64: "double precision",
    pl.Boolean: "boolean",
    pl.Date: "date",
}
_BATCH = 250_000

_PANDAS = """
import warnings, pandas as pd
uri = {uri!r}
try:
    import sqlalchemy
    con = sqlalchemy.create_engine(uri.replace("postgresql://", "postgresql+psycopg://", 1)).connect()
except ImportError:  # pandas also reads through a plain DBAPI connection
    import psycopg
    con = psycopg.connect(uri)
    warnings.simplefilter("ignore", UserWarning)
frames = {{t: pd.read_sql(f"SELECT * FROM {{t}}", con) for t in {tables!r}}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server(port: int | None) -> Iterator[tuple[str | None, str]]:
    """(URI, how) of a server to load into, or (None, why not); a throwaway server is stopped afterwards."""
    uri = os.environ.get("ECTOR_TEST_POSTGRES_URI")
    if uri:
        yield uri, "ECTOR_TEST_POSTGRES_URI"
        return
    if shutil.which("initdb") is None and not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        yield None, "no ECTOR_TEST_POSTGRES_URI and no initdb to start a throwaway server"
        return
    folder = Path(tempfile.mkdtemp(prefix="ector-bench-pg-"))
    chosen = port or _free_port()
    started = subprocess.run(
        [str(ROOT / ".ci" / "pg-start"), str(folder), str(chosen)], capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        yield None, f".ci/pg-start failed: {started.stderr.strip()[-300:]}"
        return
    try:
        yield started.stdout.strip().splitlines()[-1], f"throwaway server on port {chosen}"
    finally:
        subprocess.run([str(ROOT / ".ci" / "pg-stop"), str(folder)], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def load(uri: str, gold: Path) -> float:
    """COPY the six tables of the Parquet layer `gold` into PostgreSQL (skipping loaded ones); seconds taken."""
    import psycopg

    start = time.perf_counter()
    with psycopg.connect(uri, autocommit=True) as db:
        for table in TABLES:
            frame = pl.scan_parquet(gold / f"{table}.parquet")
            rows = frame.select(pl.len()).collect().item()
            exists = db.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
            if exists and exists[0] and db.execute(f"SELECT count(*) FROM {table}").fetchone() == (rows,):
                continue
            schema = frame.collect_schema()
            columns = ", ".join(f"{n} {_PG_TYPES.get(type(t), 'timestamp')}" for n, t in schema.items())
            db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute(f"CREATE TABLE {table} ({columns})")
            with db.cursor().copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
                for offset in range(0, rows, _BATCH):
                    buffer = io.BytesIO()
                    # Every text value quoted, so that an empty string stays one; an unquoted empty field is NULL.
                    frame.slice(offset, _BATCH).collect().write_csv(
                        buffer, include_header=False, quote_style="non_numeric", null_value=""
                    )
                    copy.write(buffer.getvalue())
            db.execute(f"ANALYZE {table}")
    return time.perf_counter() - start


def measure_ingest(uri: str, scratch: Path, partitions: tuple[int, ...]) -> list[Run]:
    """`ector ingest` at each partition_num, then pandas.read_sql of every table; each in its own process."""
    runs = []
    for n in partitions:
        work = scratch / f"pg-work-{n}"
        shutil.rmtree(work, ignore_errors=True)
        command = [sys.executable, "-m", "ector", "-q", "-w", str(work), "ingest", "--force", "--source", uri]
        run = run_command(f"ector ingest (partition_num {n})", command, env={"ECTOR_SOURCE__PARTITION_NUM": str(n)})
        runs.append(run)
        shutil.rmtree(work, ignore_errors=True)
    code = _PANDAS.format(uri=uri, tables=TABLES)
    runs.append(run_command("pandas.read_sql", [sys.executable, "-c", code]))
    return runs
