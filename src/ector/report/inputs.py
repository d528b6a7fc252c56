"""What the report reads from the work directory: the workflow views' tables, the consolidation summary, the manifest.

Only per-unit tables are collected whole. The per-case series (learning curves, CUSUM) are scanned lazily
and filtered to the surgeons that are charted, so the report's time does not grow with the number of cases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ector.errors import MissingInputError
from ector.materialise import InMemory, Materialiser
from ector.report.reads import SERIES_TABLES, VIEW_TABLES, VIEWS


@dataclass
class ViewData:
    """One workflow view's tables as the report reads them."""

    name: str
    tables: dict[str, pl.DataFrame]
    series: dict[str, pl.LazyFrame] = field(default_factory=dict)
    out: Materialiser = field(default_factory=InMemory)  # what the series are collected with

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
    risk_models: pl.DataFrame | None = None  # transform/risk_models.parquet
    risk_calibration: pl.DataFrame | None = None  # transform/risk_calibration.parquet

    def view(self, name: str) -> ViewData | None:
        return self.views.get(name)


def read_inputs(
    frames: Mapping[str, pl.LazyFrame], manifest: dict[str, Any], out: Materialiser, *, with_names: bool
) -> ReportInputs:
    """Return the report's inputs from the work directory's tables present (`frames`, by input name: `view/table`,
    `consolidation`, `surgeons`, `risk_models`, `risk_calibration`), collected (per-unit tables) or scanned
    (per-case series).

    Raises MissingInputError naming `ector workflow surgeon` (and the other views) when no view has been run.
    A view that has not been run is None: its section says so.
    """
    present = [v for v in VIEWS if f"{v}/summary" in frames]
    if not present:
        raise MissingInputError(
            "no workflow output in the work directory",
            "run `ector workflow surgeon`, `ector workflow site` and `ector workflow patient` first",
        )
    plans: dict[tuple[str, str], pl.LazyFrame] = {}
    series: dict[str, dict[str, pl.LazyFrame]] = {v: {} for v in present}
    for view in present:
        plans |= {(view, t): frames[f"{view}/{t}"] for t in VIEW_TABLES[view] if f"{view}/{t}" in frames}
        series[view] = {t: frames[f"{view}/{t}"] for t in SERIES_TABLES.get(view, ()) if f"{view}/{t}" in frames}
    for view in ("surgeon", "site"):
        if (view, "outcomes") in plans:
            plans[(view, "outcomes")] = _expected_methods(plans[(view, "outcomes")])
    extra: dict[str, pl.LazyFrame] = {}
    for name in ("consolidation", "risk_models", "risk_calibration"):
        if name in frames:
            extra[name] = frames[name]
    if with_names and "surgeons" in frames:
        surgeons = frames["surgeons"]
        if {"surgeon_id", "surgeon_name"} <= set(surgeons.collect_schema().names()):
            extra["names"] = surgeons.select("surgeon_id", "surgeon_name").unique("surgeon_id", keep="first")
    keys = list(plans) + [("", name) for name in extra]
    collected = dict(zip(keys, out.collect_all([*plans.values(), *extra.values()]), strict=True))
    views: dict[str, ViewData | None] = {v: None for v in VIEWS}
    for view in present:
        tables = {t: collected[(view, t)] for t in VIEW_TABLES[view] if (view, t) in collected}
        views[view] = ViewData(view, tables, series[view], out)
    return ReportInputs(
        manifest=manifest,
        views=views,
        consolidation=collected.get(("", "consolidation")),
        surgeon_names=collected.get(("", "names")),
        risk_models=collected.get(("", "risk_models")),
        risk_calibration=collected.get(("", "risk_calibration")),
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
        return view.out.collect(view.series[table].head(0))
    return view.out.collect(view.series[table].filter(pl.col("unit_id").is_in(list(units))))
