"""The site view: the unit view per site, plus the volume trend and the surgeons active per period."""

from __future__ import annotations

import polars as pl

from ector.settings import AnalysisSettings, Engine
from ector.workflows.mart import OUTCOMES, Availability, conform_mart, probe_availability
from ector.workflows.outcomes import RATE_METRICS
from ector.workflows.plan import Frame, ViewPlan, collect_views
from ector.workflows.unit import plan_unit_view


def site_view(mart: pl.LazyFrame, analysis: AnalysisSettings, *, engine: Engine = "auto") -> dict[str, Frame]:
    """Return the site view's tables: the unit view's (unit_id = site_id), `volume_trend` and `surgeons_active`."""
    mart = conform_mart(mart, analysis.period)
    availability = probe_availability(mart, analysis, engine)
    return collect_views([plan_site_view(mart, analysis, availability, engine=engine)], engine)[0]


def plan_site_view(
    mart: pl.LazyFrame, analysis: AnalysisSettings, availability: Availability, *, engine: Engine = "auto"
) -> ViewPlan:
    """Return the plan of `site_view` over a conformed mart."""
    active = surgeons_active_plan(mart)
    rates = [f"{outcome}_{metric}" for outcome in OUTCOMES for metric in RATE_METRICS]

    def more(tables: dict[str, Frame]) -> dict[str, Frame]:
        trend = (
            tables["by_period"]
            .lazy()
            .select("unit_id", "period", "cases", *rates)
            .join(active, on=["unit_id", "period"], how="left", nulls_equal=True)
            .select("unit_id", "period", "cases", "surgeons_active", *rates)
            .sort("unit_id", "period", nulls_last=True)
        )
        return {"surgeons_active": active, "volume_trend": trend}

    return plan_unit_view(mart, "site_id", analysis, availability, engine=engine).extend(more)


def surgeons_active_plan(mart: pl.LazyFrame) -> pl.LazyFrame:
    """Return the plan of `unit_id, period, surgeons_active`: distinct surgeons operating at a site per period.

    Distinct counts do not stream: distinct (site, period, surgeon) triples first, which do, then count them.
    """
    return (
        mart.select(pl.col("site_id").alias("unit_id"), "period", "surgeon_id")
        .filter(pl.col("surgeon_id").is_not_null())
        .unique()
        .group_by("unit_id", "period")
        .agg(surgeons_active=pl.len().cast(pl.Int64))
        .sort("unit_id", "period", nulls_last=True)
    )
