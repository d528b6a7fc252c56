"""Crash safety with real processes: SIGKILL at several points of a run, SIGTERM, and the reruns after them."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

# Points across a forced rerun of ingest..workflows (about 4 s here): early reads, mid-stage, publishing.
KILL_AFTER_SECONDS = (0.3, 1.1, 2.0, 3.2)


def _start_all(gold: Path, workdir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ector", "-q", "-w", str(workdir), "all", "--source", str(gold), "--to", "workflow"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finish(process: subprocess.Popen[bytes], timeout: float = 300) -> tuple[int, str]:
    """Wait for a process; return its exit code and stderr."""
    _, stderr = process.communicate(timeout=timeout)
    return process.returncode, (stderr or b"").decode()


def assert_consistent(workdir: Path) -> None:
    """Every published Parquet file reads; every stage the manifest calls done has its outputs, rows as recorded.

    Files under a hidden name or folder (`.x.tmp-<pid>`, `.staging-<pid>/`) are unpublished work that a killed run
    left; no reader looks there, and the next run's lock removes them."""
    for path in workdir.rglob("*.parquet"):
        if not any(part.startswith(".") for part in path.relative_to(workdir).parts):
            pl.read_parquet(path)
    manifest_path = workdir / "manifest.json"
    if not manifest_path.exists():
        return
    manifest = json.loads(manifest_path.read_text())
    for name, entry in manifest["stages"].items():
        if entry.get("state") != "done":
            continue
        for relative, output in entry["outputs"].items():
            assert pl.scan_parquet(workdir / relative).select(pl.len()).collect().item() == output["rows"], (
                name,
                relative,
            )


@pytest.fixture(scope="module")
def reference(demo_gold: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The outputs of one uninterrupted run."""
    workdir = tmp_path_factory.mktemp("reference") / "work"
    code, stderr = _finish(_start_all(demo_gold, workdir))
    assert code == 0, stderr
    return workdir


@pytest.mark.parametrize("delay", KILL_AFTER_SECONDS)
def test_sigkill_at_any_point_leaves_readable_outputs_and_the_rerun_completes(
    demo_gold: Path, tmp_path: Path, reference: Path, delay: float
) -> None:
    workdir = tmp_path / "work"
    # The outputs of a complete run, so the killed one has previous outputs to keep intact.
    shutil.copytree(reference, workdir)
    victim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ector",
            "-q",
            "-w",
            str(workdir),
            "all",
            "--source",
            str(demo_gold),
            "--force",
            "--to",
            "workflow",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    victim.send_signal(signal.SIGKILL)
    victim.wait()

    assert_consistent(workdir)
    code, stderr = _finish(_start_all(demo_gold, workdir))
    assert code == 0, stderr
    assert_consistent(workdir)
    assert not [*workdir.rglob(".*.tmp-*"), *workdir.glob(".staging-*")], "temporary files left behind"
    for relative in ("consolidate/summary.parquet", "transform/cases.parquet", "workflow/surgeon/funnel.parquet"):
        assert_frame_equal(pl.read_parquet(workdir / relative), pl.read_parquet(reference / relative))


def test_sigterm_stops_cleanly_and_releases_the_lock(demo_gold: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    process = _start_all(demo_gold, workdir)
    # Signalled once ingest has published, so mid-run: a fixed delay raced the end of a run that had grown
    # faster than it, and a signal landing in the interpreter's shutdown kills it with the default action.
    deadline = time.monotonic() + 60
    while not (workdir / "ingest").is_dir() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    code, stderr = _finish(process, timeout=60)

    assert code in (143, 0), stderr  # 0 only if the run finished before the signal
    if code == 143:
        assert "stopped by a signal" in stderr
        assert "Traceback" not in stderr
    assert not [*workdir.rglob(".*.tmp-*"), *workdir.glob(".staging-*")]
    assert_consistent(workdir)
    code, stderr = _finish(_start_all(demo_gold, workdir))
    assert code == 0, stderr
