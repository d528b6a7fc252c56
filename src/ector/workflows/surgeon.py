"""The surgeon view: the unit view per surgeon, plus learning curves per surgeon and procedure family."""

from __future__ import annotations

import polars as pl

from ector.settings import AnalysisSettings, Engine
from ector.workflows.mart import Availability, conform_mart, probe_availability
from ector.workflows.monitoring import learning_curve_table
from ector.workflows.plan import Frame, ViewPlan, collect_view_plan, collect_views
from ector.workflows.unit import plan_unit_view


def surgeon_view(mart: pl.LazyFrame, analysis: AnalysisSettings, *, engine: Engine = "auto") -> dict[str, Frame]:
    """Return the surgeon view's tables: the unit view's (unit_id = surgeon_id) and `learning_curve`."""
    mart = conform_mart(mart, analysis.period)
    availability = probe_availability(mart, analysis, engine)
    return collect_views([plan_surgeon_view(mart, analysis, availability, engine=engine)], engine)[0]


def plan_surgeon_view(
    mart: pl.LazyFrame, analysis: AnalysisSettings, availability: Availability, *, engine: Engine = "auto"
) -> ViewPlan:
    """Return the plan of `surgeon_view` over a conformed mart."""
    return plan_unit_view(mart, "surgeon_id", analysis, availability, engine=engine).extend(
        lambda _: {
            "learning_curve": learning_curve_table(
                mart, "surgeon_id", cases=availability.cases, collect=lambda frame: collect_view_plan(frame, engine)
            )
        }
    )
