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


@dataclass(frozen=True)
class Parts:
    """A table too large to compute at once, as plans of its consecutive parts (the table is their rows in order).

    The workflow stage writes each part to a scratch file, one after the other, then the table from those files:
    one concatenated plan let polars run the parts partly at the same time (10M cases, `per_patient` in 20
    ranges: 0.79 GB, against 0.27 GB part by part). `lazy()` is that concatenated plan, for in-memory use.
    """

    plans: tuple[pl.LazyFrame, ...]

    def lazy(self) -> pl.LazyFrame:
        return pl.concat(self.plans, parallel=False)


Frame = pl.LazyFrame | pl.DataFrame | Parts
# The views' plans and sinks read the mart in each branch (`engine.collect`): their groups of units and patients
# run one after the other, and a scan shared between them would be buffered whole.
SHARED_SCANS = False


def collect_view_plan(frame: pl.LazyFrame, engine: Engine) -> pl.DataFrame:
    """Collect one of a view's plans with `engine`, each branch reading the mart itself."""
    return collect(frame, engine, shared_scans=SHARED_SCANS)


@dataclass(frozen=True)
class ViewPlan:
    """Aggregates to collect, and `finish`, which builds the view's tables from them in the same order.

    Finished tables are small DataFrames, or LazyFrames (per-case series) and Parts (`per_patient` on a large
    mart) for the stage to sink.
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
