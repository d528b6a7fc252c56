"""What the report reads from the work directory: the workflow views' tables, the consolidation summary, the manifest.

Only per-unit tables are collected whole. The per-case series (learning curves, CUSUM) are scanned lazily
and filtered to the surgeons that are charted, so the report's time does not grow with the number of cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import polars as pl

from ector.engine import collect, collect_all
from ector.errors import MissingInputError
from ector.pipeline import StageContext
from ector.settings import Engine

VIEWS: Final = ("patient", "surgeon", "site")
# view -> the per-unit tables the report shows (summary first: a view without it was not run).
VIEW_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "patient": ("summary", "availability"),
    "surgeon": ("summary", "funnel", "case_mix", "availability", "outcomes"),
    "site": ("summary", "funnel", "case_mix", "volume_trend", "availability", "outcomes"),
}
# Per-case series, read filtered to the charted units.
SERIES_TABLES: Final[dict[str, tuple[str, ...]]] = {"surgeon": ("learning_curve", "cusum")}
CONSOLIDATION_SUMMARY: Final = "consolidate/summary.parquet"
SURGEONS_TABLE: Final = "consolidate/surgeons.parquet"


@dataclass
class ViewData:
    """One workflow view's tables as the report reads them."""

    name: str
    tables: dict[str, pl.DataFrame]
    series: dict[str, pl.LazyFrame] = field(default_factory=dict)
    engine: Engine = "auto"  # the engine the series are collected with (settings.engine)

    def table(self, name: str) -> pl.DataFrame | None:
        """Return a collected table of the view, or None when the view did not write it."""
        return self.tables.get(name)


@dataclass
class ReportInputs:
    """Everything the report is built from; a view that was not run is None."""

    manifest: dict[str, Any]
    views: dict[str, ViewData | None]
    consolidation: pl.DataFrame | None
    surgeon_names: pl.DataFrame | None  # surgeon_id, surgeon_name: internal reports only

    def view(self, name: str) -> ViewData | None:
        return self.views.get(name)


def workflow_command(view: str) -> str:
    """Return the command that writes a view, as a hint names it: `workflow surgeon`."""
    return f"workflow {view}"


def read_inputs(context: StageContext, *, with_names: bool) -> ReportInputs:
    """Return the report's inputs, collected (per-unit tables) or scanned (per-case series).

    Raises MissingInputError naming `ector workflow surgeon` (and the other views) when no view has been run.
    A view that has not been run is None: its section says so.
    """
    root = context.workdir
    present = [v for v in VIEWS if root.output(f"workflow/{v}/summary.parquet").is_file()]
    if not present:
        raise MissingInputError(
            f"no workflow output in {root.output('workflow')}",
            "run `ector workflow surgeon`, `ector workflow site` and `ector workflow patient` first",
        )
    plans: dict[tuple[str, str], pl.LazyFrame] = {}
    series: dict[str, dict[str, pl.LazyFrame]] = {v: {} for v in present}
    for view in present:
        for table in VIEW_TABLES[view]:
            relative = f"workflow/{view}/{table}.parquet"
            if root.output(relative).is_file():
                plans[(view, table)] = context.read(relative, produced_by=workflow_command(view))
        for table in SERIES_TABLES.get(view, ()):
            relative = f"workflow/{view}/{table}.parquet"
            if root.output(relative).is_file():
                series[view][table] = context.read(relative, produced_by=workflow_command(view))
    if ("surgeon", "outcomes") in plans:
        plans[("surgeon", "outcomes")] = _expected_methods(plans[("surgeon", "outcomes")])
    if ("site", "outcomes") in plans:
        plans[("site", "outcomes")] = _expected_methods(plans[("site", "outcomes")])
    extra: dict[str, pl.LazyFrame] = {}
    if root.output(CONSOLIDATION_SUMMARY).is_file():
        extra["consolidation"] = context.read(CONSOLIDATION_SUMMARY, produced_by="consolidate")
    if with_names and root.output(SURGEONS_TABLE).is_file():
        surgeons = context.read(SURGEONS_TABLE, produced_by="consolidate")
        if {"surgeon_id", "surgeon_name"} <= set(surgeons.collect_schema().names()):
            extra["names"] = surgeons.select("surgeon_id", "surgeon_name").unique("surgeon_id", keep="first")
    keys = list(plans) + [("", name) for name in extra]
    frames = collect_all([*plans.values(), *extra.values()], context.engine)
    collected = dict(zip(keys, frames, strict=True))
    views: dict[str, ViewData | None] = {v: None for v in VIEWS}
    for view in present:
        tables = {t: collected[(view, t)] for t in VIEW_TABLES[view] if (view, t) in collected}
        views[view] = ViewData(view, tables, series[view], context.engine)
    return ReportInputs(
        manifest=root.read_manifest(),
        views=views,
        consolidation=collected.get(("", "consolidation")),
        surgeon_names=collected.get(("", "names")),
    )


def _expected_methods(outcomes: pl.LazyFrame) -> pl.LazyFrame:
    """Return one row per outcome with how its expected count was computed (for the Methods section)."""
    return (
        outcomes.filter((pl.col("scope") == "overall") & pl.col("expected_method").is_not_null())
        .group_by("outcome")
        .agg(pl.col("expected_method").first())
        .sort("outcome")
    )


def unit_series(view: ViewData | None, table: str, units: Sequence[str]) -> pl.DataFrame | None:
    """Return the per-case series `table` of the given units only, or None when the view has no such table."""
    if view is None or table not in view.series:
        return None
    if not units:
        return collect(view.series[table].head(0), view.engine)
    return collect(view.series[table].filter(pl.col("unit_id").is_in(list(units))), view.engine)
