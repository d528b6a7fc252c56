"""The figure worker: `python -m ector.report.worker [DRAWERS [fork|spawn]]`, started by `workers.FigureWorkers`.

It imports plotting (plotnine, pandas, matplotlib: the slow part), then reads one line on stdin: the parent's
private temporary folder holding the queue of jobs. It draws them with DRAWERS processes, itself and copies of
itself, each taking jobs from the queue (`workers.take_jobs`) and writing each RenderedFigure beside it. End of
input without a line: nothing to do.

The copies are forked, so plotting is imported once rather than once per CPU (the 1M-case demo on two CPUs:
0.9 s less CPU than with fresh copies, the report 0.4 s sooner). A fork of a process that runs other threads
can deadlock (on a lock a thread held, a thread the copy does not have), so this process forks only while it
runs one thread: it has not imported polars (whose import starts threads; the copies import it), its parent
turned off the threads of OpenBLAS and of Arrow's allocator (`workers.WORKER_ENVIRONMENT`), and it checks.
Otherwise, and where there is no fork, the copies are fresh interpreters, as slow to start as this one.
"""

from __future__ import annotations

import gc
import importlib
import os
import pickle
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Final

PRELOAD: Final = (
    "plotnine",
    "mizani.breaks",
    "matplotlib.pyplot",
    "matplotlib.backends.backend_agg",
    "matplotlib.backends.backend_svg",
    "ector.report.render",
)


def main() -> int:
    """Draw the jobs of the queue named on stdin with DRAWERS processes; return the exit code."""
    drawers = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    fork = (sys.argv[2] if len(sys.argv) > 2 else "fork") == "fork" and sys.platform == "linux"
    spawned = [] if fork else [_spawn() for _ in range(drawers - 1)]  # no fork: their imports beside this one's
    preload()
    # Garbage is collected after each figure only (`draw`): the automatic collections took a tenth of the
    # drawing time (the 1M-case demo's 17 figures in one process: 5.7 s of CPU, 5.0 s so). Frozen, the
    # imports' objects are left out of every collection and stay shared with the forked copies.
    gc.freeze()
    gc.disable()
    line = sys.stdin.readline().strip()
    for process in spawned:
        _hand_over(process, line)
    if not line:
        return 0
    folder = Path(line)
    waits: list[Callable[[], int]] = [process.wait for process in spawned]
    for _ in range(drawers - 1 - len(spawned)):
        if single_threaded():
            waits.append(_fork(folder))
        else:  # not expected (a test checks): a copy as slow to start as this process was
            process = _spawn()
            _hand_over(process, line)
            waits.append(process.wait)
    status = draw(folder)
    for wait in waits:
        code = wait()  # every copy is waited for, even after one failed
        status = status or code
    return status


def preload() -> None:
    """Import what drawing takes, polars aside (its import starts threads): plotnine, pandas, matplotlib."""
    for module in PRELOAD:
        importlib.import_module(module)


def draw(folder: Path) -> int:
    """Draw every job this process takes from the queue in `folder`; return the exit code."""
    from ector.report.render import render_figure  # charts import polars: only once forked
    from ector.report.workers import figure_path, take_jobs

    for index, (name, title, spec) in take_jobs(folder):
        figure_path(folder, index).write_bytes(pickle.dumps(render_figure(name, title, spec)))
        gc.collect(0)  # the youngest generation: all this figure allocated, as nothing was collected since
    return 0


def single_threaded() -> bool:
    """Return whether this process runs one thread only, native threads included (/proc lists them)."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no /proc: not known, so not
        return False


def _fork(folder: Path) -> Callable[[], int]:
    """Fork a drawer; return the function that waits for it and returns its exit code."""
    pid = os.fork()
    if pid == 0:  # the copy: draw, then leave without running the exit handlers it inherited
        code = 1
        try:
            code = draw(folder)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    return lambda: os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _spawn() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "ector.report.worker"], stdin=subprocess.PIPE)


def _hand_over(process: subprocess.Popen[bytes], line: str) -> None:
    assert process.stdin is not None
    process.stdin.write(f"{line}\n".encode())
    process.stdin.close()


if __name__ == "__main__":
    status = main()
    sys.stderr.flush()
    os._exit(status)  # without the interpreter's teardown: unloading plotting takes 0.2 s the report would wait for
