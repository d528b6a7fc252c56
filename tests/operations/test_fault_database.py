"""The database stops in the middle of an ingest: exit 1, one line naming the source, the previous outputs
intact, and once the server is back the rerun completes. A real PostgreSQL of this test's own, stopped with
`pg_ctl stop -m immediate` (what a crash or a power cut looks like to a client)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.pg import _PG_TYPES
from tests.operations.test_crash import assert_consistent

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DEMO_CASES = 20_000
COPIES = 30  # the cases table holds DEMO_CASES * COPIES rows: about 3 s to ingest here
PASSWORD = "Stop-Mid-Stream-91"  # never to be shown


def _postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl, found as .ci/pg-start finds it; None when PostgreSQL is not installed."""
    found = shutil.which("initdb") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))), None)
    return Path(os.path.realpath(found)).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A throwaway PostgreSQL that a test may stop and start again."""

    folder: Path
    uri: str
    pg_ctl: list[str]

    @property
    def port(self) -> int:
        return int(self.uri.rsplit(":", 1)[1].split("/")[0])

    def stop_immediately(self) -> None:
        subprocess.run([*self.pg_ctl, "stop", "-m", "immediate"], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        # restart starts a stopped server with the options it last ran with (postmaster.opts).
        subprocess.run(
            [*self.pg_ctl, "-l", str(self.folder / "server.log"), "-w", "restart"], capture_output=True, timeout=60
        )
        import psycopg

        psycopg.connect(self.uri, connect_timeout=10).close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """A dedicated server started by .ci/pg-start on a free port, stopped and removed afterwards."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        if os.environ.get("ECTOR_REQUIRE_POSTGRES") == "1":
            pytest.fail("ECTOR_REQUIRE_POSTGRES=1 but initdb is not installed")
        pytest.skip("PostgreSQL (initdb) is not installed: the database fault tests need their own server")
    # Not under pytest's tmp folder: that one is private to root, and the server may run as user postgres.
    folder = Path(tempfile.mkdtemp(prefix="ector-fault-pg-"))
    started = subprocess.run(
        [str(ROOT / ".ci" / "pg-start"), str(folder), str(_free_port())], capture_output=True, text=True, timeout=120
    )
    assert started.returncode == 0, started.stderr
    runner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    try:
        yield Server(folder, started.stdout.strip(), [*runner, str(bin_dir / "pg_ctl"), "-D", str(folder / "data")])
    finally:
        subprocess.run([str(ROOT / ".ci" / "pg-stop"), str(folder)], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def big_gold(server: Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A demo Gold layer in schema `gold`, its cases table repeated until an ingest takes a few seconds."""
    import polars as pl
    import psycopg

    from ector.demo import write_demo

    folder = tmp_path_factory.mktemp("gold")
    write_demo(f"{folder}/", cases=DEMO_CASES, seed=5)
    with psycopg.connect(server.uri, autocommit=True) as db:
        db.execute("CREATE SCHEMA gold")
        for path in sorted(folder.glob("*.parquet")):
            frame = pl.read_parquet(path)
            declared = ", ".join(f"{c} {_PG_TYPES[type(t)]}" for c, t in frame.schema.items())
            db.execute(f"CREATE TABLE gold.{path.stem} ({declared})")
            with db.cursor().copy(f"COPY gold.{path.stem} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                copy.write(frame.write_csv())
        columns = [c for c in pl.read_parquet_schema(folder / "cases.parquet") if c != "case_id"]
        db.execute(
            f"INSERT INTO gold.cases SELECT case_id || '-' || copy, {', '.join(columns)} "
            f"FROM gold.cases, generate_series(2, {COPIES}) AS copy"
        )
        rows = pl.scan_parquet(folder / "cases.parquet").select(pl.len()).collect().item()
        assert db.execute("SELECT count(*) FROM gold.cases").fetchone() == (rows * COPIES,)
    return server.uri.replace("ector@", f"ector:{PASSWORD}@")


def _ingest(workdir: Path, uri: str, *flags: str) -> subprocess.Popen[str]:
    config = workdir.parent / "ector.yaml"
    config.write_text("source: {schema: gold}\n")
    return subprocess.Popen(
        [sys.executable, "-m", "ector", "-q", "-c", str(config), "-w", str(workdir), "ingest", "--source", uri, *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # published or discarded meanwhile
        return 0


def _digests(workdir: Path) -> dict[str, str]:
    return {
        path.relative_to(workdir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted([*workdir.glob("ingest/*.parquet"), workdir / "manifest.json"])
    }


def test_database_stopping_mid_ingest_fails_cleanly_and_the_rerun_completes(
    server: Server, big_gold: str, tmp_path: Path
) -> None:
    workdir = tmp_path / "work"
    first = _ingest(workdir, big_gold)
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    before = _digests(workdir)
    before_manifest = (workdir / "manifest.json").read_text()
    assert "ingest/cases.parquet" in before

    forced = _ingest(workdir, big_gold, "--force")
    # Stop the server once the cases table (the big one) is streaming: its staged file has its first rows.
    deadline = time.monotonic() + 120
    while not [path for path in workdir.glob(".staging-*/ingest/cases.parquet") if _size(path) > 0]:
        assert forced.poll() is None, "the ingest ended before the cases table streamed"
        assert time.monotonic() < deadline, "the cases table never started streaming"
        time.sleep(0.02)
    server.stop_immediately()
    try:
        _, stderr = forced.communicate(timeout=120)
    finally:
        server.start()

    assert forced.returncode == 1, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    source = f"postgresql database 'ector_test' on 127.0.0.1:{server.port}"
    assert errors == [f"Error: reading cases from {source} failed: the connection to the server was lost"], stderr
    assert "Traceback" not in stderr and "panicked" not in stderr, stderr
    assert PASSWORD not in stderr
    assert len(stderr.strip().splitlines()) == 2, stderr  # the error and its hint, nothing else
    assert _digests(workdir) == before, "the failed ingest changed the previous outputs or the manifest"
    assert not [*workdir.rglob(".*.tmp-*"), *workdir.glob(".staging-*")], "temporary files left behind"
    assert_consistent(workdir)

    rerun = _ingest(workdir, big_gold, "--force")
    _, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    assert_consistent(workdir)
    manifest = json.loads((workdir / "manifest.json").read_text())["stages"]["ingest"]
    assert manifest["outputs"]["ingest/cases.parquet"]["rows"] >= DEMO_CASES * COPIES
    assert manifest["finished"] != json.loads(before_manifest)["stages"]["ingest"]["finished"]
