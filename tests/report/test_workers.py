"""Figures drawn by worker processes are the figures this process draws; a worker's failure is reported."""

from __future__ import annotations

import polars as pl
import pytest

from ector.report.chartdata import ChartSpec, funnel_data
from ector.report.disclosure import Disclosure
from ector.report.workers import FigureWorkers


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


def test_figures_drawn_by_workers_are_those_drawn_here() -> None:
    jobs = _jobs()

    with FigureWorkers(count=3) as workers:  # more workers than jobs: one gets nothing to do
        parallel, tables = workers.render(jobs, lambda: "tables")
    with FigureWorkers(count=1) as workers:
        serial, _ = workers.render(jobs, lambda: "tables")

    assert tables == "tables"
    assert [f.name for f in parallel] == ["funnel", "trend"]
    assert [(f.png, f.svg) for f in parallel] == [(f.png, f.svg) for f in serial]
    assert "<text" in parallel[0].svg and ">A<" in parallel[0].svg  # the outlier's label, as text


def test_a_failing_worker_stops_the_report_with_its_error() -> None:
    with FigureWorkers(count=2) as workers, pytest.raises(RuntimeError, match="KeyError"):
        workers.render([("bad", "Bad", ChartSpec("no_such_chart"))], lambda: None)
