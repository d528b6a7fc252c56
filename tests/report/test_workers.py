"""Figures drawn by worker processes are the figures this process draws, each job drawn by one process once;
a worker's failure is reported, and a failed report leaves no worker running."""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ector.report.chartdata import ChartSpec, funnel_data
from ector.report.disclosure import Disclosure
from ector.report.render import render_figure
from ector.report.workers import JOBS_FILE, WORKER_ENVIRONMENT, FigureWorkers, queue_order, take_jobs


def _jobs() -> list[tuple[str, str, ChartSpec]]:
    funnel = pl.DataFrame(
        {
            "unit_id": ["a", "b", "c"],
            "outcome": ["mortality_30d"] * 3,
            "measure": ["oe_ratio"] * 3,
            "denominator": [12.0, 20.0, 31.0],
            "observed": [30, 18, 29],
            "value": [2.5, 0.9, 0.94],
            "target": [1.0] * 3,
            "flag": ["high_alarm", "as_expected", "as_expected"],
            "phi": [None, None, None],
            "tau2": [None, None, None],
        },
        schema_overrides={"phi": pl.Float64, "tau2": pl.Float64},
    )
    data = funnel_data(
        funnel, "mortality_30d", "oe_ratio", {"a": "A", "b": "B", "c": "C"}, Disclosure("internal", 11), (0.95, 0.998)
    )
    trend = pl.DataFrame({"unit": ["A", "A", "B"], "period": ["2024-Q1", "2024-Q2", "2024-Q1"], "cases": [40, 50, 60]})
    return [
        ("funnel", "Funnel", ChartSpec("funnel", {"data": data, "unit_noun": "surgeon"})),
        ("trend", "Trend", ChartSpec("trend", {"trend": trend, "order": ["B", "A"], "title": "t", "caption": "c"})),
    ]


@pytest.mark.parametrize("fork", [True, False], ids=["forked-copies", "fresh-copies"])
def test_figures_drawn_by_workers_are_those_drawn_here(fork: bool) -> None:
    jobs = _jobs()

    with FigureWorkers(count=3, fork=fork) as workers:  # more drawers than jobs: one gets nothing to do
        parallel, tables = workers.render(jobs, lambda: "tables")
    with FigureWorkers(count=1) as workers:
        serial, _ = workers.render(jobs, lambda: "tables")

    assert tables == "tables"
    assert [f.name for f in parallel] == ["funnel", "trend"]
    assert [(f.png, f.svg) for f in parallel] == [(f.png, f.svg) for f in serial]
    assert "<text" in parallel[0].svg and ">A<" in parallel[0].svg  # the outlier's label, as text


def test_a_figure_is_drawn_once_for_its_png_and_once_for_its_svg(monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.figure import Figure

    renderers: list[str] = []
    draw = Figure.draw

    def counted(figure: Figure, renderer: Any) -> None:
        renderers.append(type(renderer).__name__)
        draw(figure, renderer)

    monkeypatch.setattr(Figure, "draw", counted)

    render_figure(*_jobs()[0])

    assert renderers == ["RendererAgg", "MixedModeRenderer"]  # savefig would lay each out in a draw of its own


@pytest.mark.parametrize("fork", [True, False], ids=["forked-copies", "fresh-copies"])
def test_a_failing_worker_stops_the_report_with_its_error(fork: bool) -> None:
    bad = [(f"bad-{n}", "Bad", ChartSpec("no_such_chart")) for n in range(3)]  # the copies fail too

    with FigureWorkers(count=2, fork=fork) as workers, pytest.raises(RuntimeError, match="KeyError"):
        workers.render(bad, lambda: None)


@pytest.mark.skipif(sys.platform != "linux", reason="reads the process table in /proc")
def test_a_report_that_fails_while_figures_are_drawn_leaves_no_worker_running() -> None:
    units = 100_000  # a funnel plot that takes seconds to draw
    funnel = pl.DataFrame(
        {
            "unit_id": [f"u{n}" for n in range(units)],
            "outcome": "mortality_30d",
            "measure": "oe_ratio",
            "denominator": [1.0 + n % 97 for n in range(units)],
            "value": [(n % 13) / 6 for n in range(units)],
            "target": 1.0,
            "flag": "as_expected",
            "phi": None,
            "tau2": None,
        },
        schema_overrides={"phi": pl.Float64, "tau2": pl.Float64},
    )
    data = funnel_data(funnel, "mortality_30d", "oe_ratio", {}, Disclosure("internal", 11), (0.95, 0.998))
    slow = [(f"slow-{n}", "Slow", ChartSpec("funnel", {"data": data, "unit_noun": "surgeon"})) for n in range(4)]

    def failing_tables() -> None:
        folder = Path(workers._folder.name if workers._folder else "")
        deadline = time.monotonic() + 60
        while len(list(folder.glob("taken-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)  # until the worker and its copy are both drawing
        raise ValueError("a table failed")

    with pytest.raises(ValueError, match="a table failed"), FigureWorkers(count=2) as workers:
        group = workers._process.pid if workers._process else 0
        workers.render(slow, failing_tables)

    deadline = time.monotonic() + 2
    while _running_in_group(group) and time.monotonic() < deadline:
        time.sleep(0.02)  # a killed process takes a moment to end
    assert _running_in_group(group) == []  # neither the worker nor the copy it forked


def _running_in_group(group: int) -> list[int]:
    running = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command name: state, ppid, pgrp
            if int(fields[2]) == group and fields[0] != "Z":  # a killed copy stays a zombie until init reaps it
                running.append(int(stat.parent.name))
    return running


def test_each_job_is_taken_by_one_process_costliest_first(tmp_path: Path) -> None:
    jobs = [(f"job-{n}", "", None) for n in range(5)]
    order = queue_order([1.0, 2.5, 1.0, 2.0, 1.5])
    (tmp_path / JOBS_FILE).write_bytes(pickle.dumps([(i, jobs[i]) for i in order]))

    first, second = take_jobs(tmp_path), take_jobs(tmp_path)  # two drawers, taking turns
    taken = [next(first)[0], next(second)[0], next(second)[0], next(first)[0], *(i for i, _ in second)]

    assert order == [1, 3, 4, 0, 2]
    assert taken == order
    assert list(first) == []


@pytest.mark.skipif(sys.platform != "linux", reason="the worker forks its copies on Linux only")
def test_the_worker_runs_one_thread_once_it_has_imported_plotting() -> None:
    probe = "from ector.report.worker import preload, single_threaded; preload(); print(single_threaded())"
    env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)} | WORKER_ENVIRONMENT

    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "True"  # else the copies are fresh interpreters: a second slower
