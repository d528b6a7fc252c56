"""A view as plans: the aggregates it collects, and how its tables are finished from them.

Splitting the two lets several views share one `collect_all` (one pass over the case mart in `ector all`)
while a single `ector workflow VIEW` runs the same plans on its own: the same code, so the same files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from ector.engine import collect_all
from ector.settings import Engine

Frame = pl.LazyFrame | pl.DataFrame


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
    """Collect every plan's aggregates in one collect_all and finish each view's tables."""
    collected = collect_all([frame for plan in plans for frame in plan.aggregates], engine)
    results, start = [], 0
    for plan in plans:
        stop = start + len(plan.aggregates)
        results.append(plan.finish(collected[start:stop]))
        start = stop
    return results
