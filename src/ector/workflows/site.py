"""The site view: the unit view per site, plus the volume trend and the surgeons active per period."""

from __future__ import annotations

import polars as pl

from ector.materialise import InMemory, Materialiser
from ector.settings import AnalysisSettings
from ector.workflows.mart import OUTCOMES
from ector.workflows.outcomes import RATE_METRICS
from ector.workflows.plan import Frame
from ector.workflows.unit import as_text_tables, unit_tables


def site_view(mart: pl.LazyFrame, analysis: AnalysisSettings, out: Materialiser | None = None) -> dict[str, Frame]:
    """Return the site view's tables: the unit view's (unit_id = site_id), `volume_trend` and `surgeons_active`."""
    out = out or InMemory()
    tables, frame, _ = unit_tables(mart, "site_id", analysis, out, extra=["surgeon_id"])
    active = out.collect(surgeons_active_plan(frame.lazy()))
    rates = [f"{outcome}_{metric}" for outcome in OUTCOMES for metric in RATE_METRICS]
    by_period = tables["by_period"].lazy()
    trend = (
        by_period.select("unit_id", "period", "cases", *rates)
        .join(active.lazy(), on=["unit_id", "period"], how="left", nulls_equal=True)
        .select("unit_id", "period", "cases", "surgeons_active", *rates)
        .sort("unit_id", "period", nulls_last=True)
    )
    return as_text_tables(tables | {"surgeons_active": active, "volume_trend": out.collect(trend)})


def surgeons_active_plan(mart: pl.LazyFrame) -> pl.LazyFrame:
    """Return the plan of `unit_id, period, surgeons_active`: distinct surgeons operating at a site per period."""
    return (
        mart.filter(pl.col("surgeon_id").is_not_null())
        .group_by(pl.col("site_id").alias("unit_id"), "period")
        .agg(surgeons_active=pl.col("surgeon_id").n_unique().cast(pl.Int64))
        .sort("unit_id", "period", nulls_last=True)
    )
