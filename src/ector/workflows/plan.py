"""A view as plans: the aggregates it collects, and how its tables are finished from them.

Splitting the two lets `ector all` probe the mart once for several views while a single `ector workflow VIEW`
runs the same plans on its own: the same code, so the same files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from ector.engine import collect
from ector.settings import Engine

Frame = pl.LazyFrame | pl.DataFrame
# The views' plans and sinks read the mart in each branch (`engine.collect`): their groups of units and patients
# run one after the other, and a scan shared between them would be buffered whole.
SHARED_SCANS = False


def collect_view_plan(frame: pl.LazyFrame, engine: Engine) -> pl.DataFrame:
    """Collect one of a view's plans with `engine`, each branch reading the mart itself."""
    return collect(frame, engine, shared_scans=SHARED_SCANS)


@dataclass(frozen=True)
class ViewPlan:
    """Aggregates to collect, and `finish`, which builds the view's tables from them in the same order.

    Finished tables are small DataFrames, or LazyFrames (per-case series) for the runner to sink.
    """

    aggregates: list[pl.LazyFrame]
    finish: Callable[[list[pl.DataFrame]], dict[str, Frame]]

    def extend(self, more: Callable[[dict[str, Frame]], dict[str, Frame]]) -> ViewPlan:
        """The same plan with tables added by `more`, which gets the finished tables."""
        inner = self.finish

        def finish(frames: list[pl.DataFrame]) -> dict[str, Frame]:
            tables = inner(frames)
            return tables | more(tables)

        return ViewPlan(self.aggregates, finish)


def collect_views(plans: Sequence[ViewPlan], engine: Engine) -> list[dict[str, Frame]]:
    """Collect every plan's aggregates, one after the other, and finish each view's tables.

    One `collect_all` over the aggregates would read the mart once, but it runs every aggregate's in-memory part
    (medians, distinct counts, the outcome cells) at the same time; measured at 10M cases, collecting them in
    turn held about half the memory for about a tenth more CPU (docs/performance.md, Workflows).
    """
    return [plan.finish([collect_view_plan(frame, engine) for frame in plan.aggregates]) for plan in plans]
