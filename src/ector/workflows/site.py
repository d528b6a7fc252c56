"""The site view: the unit view per site, plus the volume trend and the surgeons active per period."""

from __future__ import annotations

import polars as pl

from ector.materialise import InMemory, Materialiser
from ector.settings import AnalysisSettings
from ector.workflows.mart import OUTCOMES
from ector.workflows.order import as_text
from ector.workflows.outcomes import RATE_METRICS
from ector.workflows.plan import Frame
from ector.workflows.unit import as_text_tables, unit_tables


def site_view(mart: pl.LazyFrame, analysis: AnalysisSettings, out: Materialiser | None = None) -> dict[str, Frame]:
    """Return the site view's tables: the unit view's (unit_id = site_id), `volume_trend` and `surgeons_active`."""
    out = out or InMemory()
    tables, _ = unit_tables(
        mart,
        "site_id",
        analysis,
        out,
        extra=["surgeon_id"],
        more=lambda frame: {"surgeons_active": out.collect(surgeons_active_plan(frame.lazy()))},
    )
    rates = [f"{outcome}_{metric}" for outcome in OUTCOMES for metric in RATE_METRICS]
    # Joined as text: the two tables' Enums of units and periods need not hold the same values.
    by_period, active = tables["by_period"], tables["surgeons_active"]
    assert isinstance(by_period, pl.DataFrame) and isinstance(active, pl.DataFrame)  # collected by unit_tables
    by_period, active = as_text(by_period).lazy(), as_text(active)
    trend = (
        by_period.select("unit_id", "period", "cases", *rates)
        .join(active.lazy(), on=["unit_id", "period"], how="left", nulls_equal=True)
        .select("unit_id", "period", "cases", "surgeons_active", *rates)
        .sort("unit_id", "period", nulls_last=True)
    )
    return as_text_tables(tables | {"volume_trend": out.collect(trend)})


def surgeons_active_plan(mart: pl.LazyFrame) -> pl.LazyFrame:
    """Return the plan of `unit_id, period, surgeons_active`: distinct surgeons operating at a site per period."""
    return (
        mart.filter(pl.col("surgeon_id").is_not_null())
        .group_by(pl.col("site_id").alias("unit_id"), "period")
        .agg(surgeons_active=pl.col("surgeon_id").n_unique().cast(pl.Int64))
        .sort("unit_id", "period", nulls_last=True)
    )
