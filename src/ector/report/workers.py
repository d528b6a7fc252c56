"""Figure workers: the report's charts drawn in parallel, by one process per CPU.

Figures take most of the report's time and each is independent. They are drawn by `python -m ector.report.worker`,
a fresh interpreter, never a fork of this one: a forked copy of a process running polars threads can deadlock,
and multiprocessing's spawn would re-run a `__main__` that has no guard (`python -m ector`). The worker is
started first, so that its imports (plotnine, about a second) overlap reading the inputs and building the
sections; it then waits on its stdin for the folder of the jobs and draws them with one process per CPU,
itself and copies of itself (see `worker`). The jobs are one queue: each process takes the next job no one
has taken (`take_jobs`), costliest first, so none sits idle while another still has several to draw. With one
CPU the figures are drawn here, in turn.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, TypeVar

from ector.report.render import RenderedFigure, render_figure

MAX_WORKERS: Final = 4
JOBS_FILE: Final = "jobs.pickle"
# The worker may fork its copies only while it runs one thread (see `worker`): without these, OpenBLAS starts
# its threads when numpy is imported, and pyarrow (imported by pandas) its allocator's background thread.
# Neither is of use to a drawer: there is already one per CPU.
WORKER_ENVIRONMENT: Final = {"OPENBLAS_NUM_THREADS": "1", "JE_ARROW_MALLOC_CONF": "background_thread:false"}
T = TypeVar("T")
Job = tuple[str, str, Any]  # name, title, ChartSpec


class FigureWorkers:
    """A context manager holding the worker process; `render` hands it the jobs."""

    def __init__(self, count: int | None = None, *, fork: bool = True) -> None:
        """`count` processes draw (default: one per CPU, at most MAX_WORKERS); `fork=False`: the worker's
        copies are fresh interpreters, as where there is no fork."""
        self.count = min(MAX_WORKERS, _cpus()) if count is None else count
        self.fork = fork
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    def __enter__(self) -> FigureWorkers:
        if self.count > 1:
            self._folder = tempfile.TemporaryDirectory(prefix="ector-report-")
            env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)} | WORKER_ENVIRONMENT
            self._stderr = (Path(self._folder.name) / "stderr.txt").open("wb")
            command = [sys.executable, "-m", "ector.report.worker", str(self.count), "fork" if self.fork else "spawn"]
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stderr=self._stderr,
                env=env,
                process_group=0 if os.name == "posix" else None,  # a group of its own: its drawers stop with it
            )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        process = self._process
        if process is not None:
            if process.poll() is None or kind is not None:  # the report failed, or never gave the worker its jobs
                _stop(process)
            process.wait()
            if process.stdin is not None and not process.stdin.closed:
                with contextlib.suppress(BrokenPipeError):  # the killed worker's end is gone: nothing to flush
                    process.stdin.close()
        if self._stderr is not None:
            self._stderr.close()
        if self._folder is not None:
            self._folder.cleanup()

    def render(
        self, jobs: Sequence[Job], meanwhile: Callable[[], T], on_done: Callable[[str], None] = lambda _: None
    ) -> tuple[list[RenderedFigure], T]:
        """Return the rendered jobs in order and what `meanwhile()` (run here, while the workers draw) returned."""
        if self._process is None:
            result = meanwhile()
            figures = []
            for job in jobs:
                figures.append(render_figure(*job))
                on_done(job[0])
            return figures, result
        assert self._folder is not None and self._process.stdin is not None
        folder = Path(self._folder.name)
        queue = queue_order([_cost(job[2]) for job in jobs])
        (folder / JOBS_FILE).write_bytes(pickle.dumps([(i, jobs[i]) for i in queue]))
        self._process.stdin.write(f"{folder}\n".encode())
        self._process.stdin.close()
        result = meanwhile()
        if self._process.wait() != 0:
            tail = (folder / "stderr.txt").read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"a report figure worker failed (exit {self._process.returncode}):\n{tail}")
        figures = []
        for i, job in enumerate(jobs):
            drawn: RenderedFigure = pickle.loads(figure_path(folder, i).read_bytes())  # our worker's own file
            figures.append(drawn)
            on_done(job[0])
        return figures, result


def take_jobs(folder: Path) -> Iterator[tuple[int, Job]]:
    """Yield (index, job) for each job of the folder's queue that this process takes first, in queue order.

    A job is taken by creating its `taken-` file: the file system lets one process only create it, so each job is
    drawn by exactly one process and no process waits for another.
    """
    queue: list[tuple[int, Job]] = pickle.loads((folder / JOBS_FILE).read_bytes())  # written by our parent
    for index, job in queue:
        try:
            os.close(os.open(folder / f"taken-{index}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            continue
        yield index, job


def figure_path(folder: Path, index: int) -> Path:
    """Return where the worker that took job `index` writes its RenderedFigure."""
    return folder / f"figure-{index}.pickle"


def queue_order(costs: Sequence[float]) -> list[int]:
    """Return job indices costliest first (ties in job order): the last jobs taken are the quickest to draw."""
    return sorted(range(len(costs)), key=lambda i: -costs[i])


def _cost(spec: Any) -> float:
    # Drawing times measured on the 1M-case demo, relative to a funnel plot of its 40 sites.
    builder = getattr(spec, "builder", "")
    if builder == "funnel":
        points: int = spec.kwargs["data"].points.height
        return 1.0 + 0.6 * min(points, 2000) / 2000
    return {"case_mix": 3.4, "trend": 2.7, "learning": 2.6, "monitoring": 2.5}.get(builder, 1.0)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if hasattr(os, "killpg"):
        with contextlib.suppress(ProcessLookupError):  # the group is gone: every drawer has already ended
            os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
