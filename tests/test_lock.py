"""The work directory lock: a second real process exits 75 naming the holder; a dead holder's lock is free."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ector.lock import workdir_lock

HOLD = """
import sys, time
from pathlib import Path
from ector.lock import workdir_lock
with workdir_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def _start_holder(workdir: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(workdir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


def _stop(holder: subprocess.Popen[str]) -> None:
    holder.kill()
    holder.wait()
    assert holder.stdout is not None
    holder.stdout.close()


def test_second_run_exits_75_naming_the_holder(tmp_path: Path) -> None:
    holder = _start_holder(tmp_path / "work")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "ector", "-w", str(tmp_path / "work"), "ingest", "--source", "x.sqlite"],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )
    finally:
        _stop(holder)
    assert result.returncode == 75, result.stderr
    assert f"pid {holder.pid}" in result.stderr
    assert "started 20" in result.stderr


def test_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    holder = _start_holder(tmp_path / "work")
    os.kill(holder.pid, signal.SIGKILL)
    _stop(holder)
    started = time.monotonic()
    with workdir_lock(tmp_path / "work"):
        assert time.monotonic() - started < 1


def test_lock_is_reentrant_within_one_process(tmp_path: Path) -> None:
    with workdir_lock(tmp_path), workdir_lock(tmp_path):
        pass
    with workdir_lock(tmp_path):  # released after the outer block
        pass
