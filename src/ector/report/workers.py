"""Figure workers: the report's charts drawn in parallel, one fresh Python process per CPU.

Figures take most of the report's time and each is independent. Workers are fresh interpreters
(`python -m ector.report.worker`): a forked copy of a process running polars threads can deadlock, and
multiprocessing's spawn would re-run a `__main__` that has no guard (`python -m ector`). They are started
before the sections are built, so their imports (plotnine, about a second) overlap that work; each then waits
on its stdin for the path of its share of the jobs. With one CPU the figures are drawn here, in turn.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, TypeVar

from ector.report.render import RenderedFigure, render_figure

MAX_WORKERS: Final = 4
T = TypeVar("T")
Job = tuple[str, str, Any]  # name, title, ChartSpec


class FigureWorkers:
    """A context manager holding the worker processes; `render` hands them the jobs."""

    def __init__(self, count: int | None = None) -> None:
        self.count = min(MAX_WORKERS, _cpus()) if count is None else count
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._processes: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def __enter__(self) -> FigureWorkers:
        if self.count > 1:
            self._folder = tempfile.TemporaryDirectory(prefix="ector-report-")
            env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # this process's modules
            for n in range(self.count):
                stderr = (Path(self._folder.name) / f"stderr-{n}.txt").open("wb")
                command = [sys.executable, "-m", "ector.report.worker"]
                process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=stderr, env=env)
                self._processes.append((process, stderr))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for process, stderr in self._processes:
            if process.poll() is None:  # not done: the report failed, or never gave this worker its jobs
                process.kill()
            process.wait()
            if process.stdin is not None and not process.stdin.closed:
                with contextlib.suppress(BrokenPipeError):  # the killed worker's end is gone: nothing to flush
                    process.stdin.close()
            stderr.close()
        if self._folder is not None:
            self._folder.cleanup()

    def render(
        self, jobs: Sequence[Job], meanwhile: Callable[[], T], on_done: Callable[[str], None] = lambda _: None
    ) -> tuple[list[RenderedFigure], T]:
        """Return the rendered jobs in order and what `meanwhile()` (run here, while the workers draw) returned."""
        if not self._processes:
            result = meanwhile()
            figures = []
            for job in jobs:
                figures.append(render_figure(*job))
                on_done(job[0])
            return figures, result
        assert self._folder is not None
        folder = Path(self._folder.name)
        shares = _shares([_cost(job[2]) for job in jobs], len(self._processes))
        for n, ((process, _), share) in enumerate(zip(self._processes, shares, strict=True)):
            source, target = folder / f"jobs-{n}.pickle", folder / f"figures-{n}.pickle"
            source.write_bytes(pickle.dumps([jobs[i] for i in share]))
            assert process.stdin is not None
            process.stdin.write(f"{source}\t{target}\n".encode())
            process.stdin.close()
        result = meanwhile()
        rendered: dict[int, RenderedFigure] = {}
        for n, ((process, _), share) in enumerate(zip(self._processes, shares, strict=True)):
            if process.wait() != 0:
                tail = (folder / f"stderr-{n}.txt").read_text(encoding="utf-8", errors="replace")[-2000:]
                raise RuntimeError(f"a report figure worker failed (exit {process.returncode}):\n{tail}")
            drawn: list[RenderedFigure] = pickle.loads((folder / f"figures-{n}.pickle").read_bytes())  # ours
            for i, figure in zip(share, drawn, strict=True):
                rendered[i] = figure
                on_done(figure.name)
        return [rendered[i] for i in range(len(jobs))], result


def _shares(costs: Sequence[int], workers: int) -> list[list[int]]:
    """Return job indices split among the workers, costliest first to the least loaded (LPT scheduling)."""
    loads = [0] * workers
    shares: list[list[int]] = [[] for _ in range(workers)]
    for i in sorted(range(len(costs)), key=lambda i: costs[i], reverse=True):
        least = loads.index(min(loads))
        shares[least].append(i)
        loads[least] += costs[i]
    return [sorted(share) for share in shares]


def _cost(spec: Any) -> int:
    # Relative drawing times measured on the demo: a many-panel chart costs about two funnel plots.
    return {"monitoring": 2, "learning": 2, "case_mix": 2, "trend": 2}.get(getattr(spec, "builder", ""), 1)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
