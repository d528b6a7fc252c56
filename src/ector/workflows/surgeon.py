"""The surgeon view: the unit view per surgeon, plus learning curves per surgeon and procedure family."""

from __future__ import annotations

import polars as pl

from ector.materialise import InMemory, Materialiser
from ector.settings import AnalysisSettings
from ector.workflows.monitoring import LEARNING_CURVE_COLUMNS, learning_curve_table
from ector.workflows.plan import Frame
from ector.workflows.unit import as_text_tables, unit_tables


def surgeon_view(mart: pl.LazyFrame, analysis: AnalysisSettings, out: Materialiser | None = None) -> dict[str, Frame]:
    """Return the surgeon view's tables: the unit view's (unit_id = surgeon_id) and `learning_curve`."""
    out = out or InMemory()
    tables, _ = unit_tables(
        mart,
        "surgeon_id",
        analysis,
        out,
        extra=LEARNING_CURVE_COLUMNS,
        more=lambda frame: {"learning_curve": learning_curve_table(frame, "surgeon_id", out)},
    )
    return as_text_tables(tables)
