"""The surgeon view: the unit view per surgeon, plus learning curves per surgeon and procedure family."""

from __future__ import annotations

import polars as pl

from ector.settings import AnalysisSettings, Engine
from ector.workflows.mart import conform_mart
from ector.workflows.monitoring import learning_curve_plan
from ector.workflows.unit import Frame, unit_view


def surgeon_view(mart: pl.LazyFrame, analysis: AnalysisSettings, *, engine: Engine = "auto") -> dict[str, Frame]:
    """Return the surgeon view's tables: the unit view's (unit_id = surgeon_id) and `learning_curve`."""
    tables = unit_view(mart, "surgeon_id", analysis, engine=engine)
    tables["learning_curve"] = learning_curve_plan(conform_mart(mart, analysis.period), "surgeon_id")
    return tables
