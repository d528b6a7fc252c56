"""SIGKILL at 24 points spread over every stage of `ector all`, the report included (slow session).

Each stage runs as its own victim (`ector all --force --from S --to S` on a copy of a complete work directory),
killed at a fraction of the time that victim holds the work directory's lock (measured on an uninterrupted run,
counted from the moment it takes the lock), or the moment it writes its first file, or the moment the manifest
says it is publishing. After every kill: each published Parquet file reads and the manifest agrees with the files
(assert_consistent); then `ector all` completes, and its outputs equal those of an uninterrupted reference run.
Where each kill landed is read back from the work directory and printed at the end of the session.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ector.files import OWN_FOLDER_MARK
from tests.operations.test_crash import assert_consistent

pytestmark = pytest.mark.slow

VICTIMS = ("ingest", "consolidate", "transform", "workflow", "report")
# The report takes most of a run's time, and every kill in it costs a rerun of it: fewer points there.
FRACTIONS = {"report": (0.35, 0.7)}
DEFAULT_FRACTIONS = (0.25, 0.5, 0.75)
TRIGGERS = ("first write", "publishing")
POINTS = [
    (victim, point)
    for victim in VICTIMS
    for point in (*(f"{f:.2f} of its run" for f in FRACTIONS.get(victim, DEFAULT_FRACTIONS)), *TRIGGERS)
]
TIMEOUT = 600
LANDINGS: list[tuple[str, str, str]] = []  # victim, kill point, where it landed


def _ector(workdir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "ector", "-q", "-w", str(workdir), *args]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)


def _copy(reference: Path, target: Path) -> None:
    """The reference work directory, moved: file times kept (fingerprints hold), the report's folder re-pointed."""
    shutil.copytree(reference, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["stages"]["report"]["out_dir"] = str((target / "report").resolve())
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _victim_args(gold: Path, victim: str) -> tuple[str, ...]:
    return ("all", "--source", str(gold), "--force", "--from", victim, "--to", victim)


@pytest.fixture(scope="module")
def reference(demo_gold: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted `ector all`, the report included."""
    workdir = tmp_path_factory.mktemp("reference") / "work"
    result = _run(_ector(workdir, "all", "--source", str(demo_gold)))
    assert result.returncode == 0, result.stderr
    return workdir


def _wait_for_lock(process: subprocess.Popen[bytes], workdir: Path) -> float:
    """Wait until the process holds the work directory's lock (its imports done, its stage about to start)."""
    start = time.monotonic()
    while process.poll() is None:
        try:
            if f'"pid": {process.pid}' in (workdir / ".lock").read_text():
                break
        except OSError:
            pass
        assert time.monotonic() - start < TIMEOUT, "the victim never took the lock"
        time.sleep(0.002)
    return time.monotonic()


@pytest.fixture(scope="module")
def durations(demo_gold: Path, reference: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    """Each victim's uninterrupted run time, from taking the lock to releasing it: the scale of its kill points.

    Measured from the lock rather than the process start, so that the fractions fall in the stage's own work and
    not in Python's imports."""
    measured = {}
    for victim in VICTIMS:
        workdir = tmp_path_factory.mktemp("timing") / "work"
        _copy(reference, workdir)
        process = subprocess.Popen(
            _ector(workdir, *_victim_args(demo_gold, victim)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        locked = _wait_for_lock(process, workdir)
        # The run empties the lock file when its last stage is recorded; what follows is the interpreter's exit.
        while process.poll() is None and (workdir / ".lock").read_text():
            assert time.monotonic() - locked < TIMEOUT, "the victim never released the lock"
            time.sleep(0.002)
        measured[victim] = time.monotonic() - locked
        _, stderr = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0, stderr
    return measured


@pytest.fixture(scope="module", autouse=True)
def _report_landings(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not LANDINGS:
        return
    lines = [f"SIGKILL points: {len(LANDINGS)}; where each landed:"]
    lines += [f"  {victim:<12} {point:<18} -> {landed}" for victim, point, landed in LANDINGS]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        print("\n" + "\n".join(lines), flush=True)


def _happened(workdir: Path, point: str) -> bool:
    if point == "first write":
        return bool([*workdir.glob(".staging-*/**/*.parquet"), *workdir.rglob(".*.tmp-*")])
    try:
        return '"state": "publishing"' in (workdir / "manifest.json").read_text()
    except OSError:
        return False


def _kill_at(process: subprocess.Popen[bytes], workdir: Path, point: str, duration: float) -> None:
    """Send SIGKILL at the point (unless the process ended first); wait for it to be gone."""
    start = time.monotonic()
    if point in TRIGGERS:
        while process.poll() is None and not _happened(workdir, point):
            assert time.monotonic() - start < TIMEOUT, f"{point} never happened"
            time.sleep(0.001)
    else:
        locked = _wait_for_lock(process, workdir)
        delay = float(point.split()[0]) * duration
        while process.poll() is None and time.monotonic() - locked < delay:
            time.sleep(0.002)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


def _landing(workdir: Path, before: dict[str, str | None], returncode: int) -> str:
    """Where the kill landed, read from what the work directory holds right after it."""
    if returncode == 0:
        return "after the run had finished"
    stages = json.loads((workdir / "manifest.json").read_text())["stages"]
    publishing = [name for name, entry in stages.items() if entry.get("state") == "publishing"]
    if publishing:
        return f"{publishing[0]}: while publishing"
    staged = sorted(
        path.relative_to(folder).parts[0] for folder in workdir.glob(".staging-*") for path in folder.rglob("*.parquet")
    )
    if staged:
        return f"{staged[-1]}: while writing its outputs"
    if [*(workdir / "report").rglob(".*.tmp-*")]:
        return "report: while writing a file"
    done = [name for name, entry in stages.items() if entry.get("finished") != before.get(name)]
    return f"after {', '.join(done)} had finished" if done else "before the first write"


@pytest.mark.parametrize(("victim", "point"), POINTS, ids=[f"{v}-{p.replace(' ', '_')}" for v, p in POINTS])
def test_sigkill_leaves_a_consistent_work_directory_and_the_rerun_matches_the_reference(
    demo_gold: Path, reference: Path, durations: dict[str, float], tmp_path: Path, victim: str, point: str
) -> None:
    workdir = tmp_path / "work"
    _copy(reference, workdir)
    before = {
        name: entry.get("finished")
        for name, entry in json.loads((workdir / "manifest.json").read_text())["stages"].items()
    }
    process = subprocess.Popen(
        _ector(workdir, *_victim_args(demo_gold, victim)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _kill_at(process, workdir, point, durations[victim])
    LANDINGS.append((victim, point, _landing(workdir, before, process.returncode)))

    assert_consistent(workdir)
    # The report is rerun only where the kill hit it: elsewhere it costs most of the run and proves nothing new.
    to = () if victim == "report" else ("--to", "workflow")
    rerun = _run(_ector(workdir, "all", "--source", str(demo_gold), *to))
    assert rerun.returncode == 0, rerun.stderr
    assert_consistent(workdir)
    assert not [*workdir.rglob(".*.tmp-*"), *workdir.glob(".staging-*")], "temporary files left behind"
    for path in sorted(reference.rglob("*.parquet")):
        relative = path.relative_to(reference)
        assert_frame_equal(pl.read_parquet(workdir / relative), pl.read_parquet(path))
    stages = json.loads((workdir / "manifest.json").read_text())["stages"]
    assert all(entry["state"] == "done" for entry in stages.values())
    if victim == "report":
        files = sorted(p.relative_to(reference / "report") for p in (reference / "report").rglob("*") if p.is_file())
        assert (
            sorted(p.relative_to(workdir / "report") for p in (workdir / "report").rglob("*") if p.is_file()) == files
        )
        # The manifest lists the report's own files; the folder also holds the mark that it is Ector's.
        assert sorted(stages["report"]["files"]) == sorted(str(f) for f in files if f.name != OWN_FOLDER_MARK)
