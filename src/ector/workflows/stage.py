"""The workflow stage body: read the case mart, build one view's tables, hand them to the runner to sink."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

import polars as pl

from ector.console import out
from ector.pipeline import StageContext
from ector.settings import AnalysisSettings, Engine
from ector.workflows.patient import patient_view
from ector.workflows.site import site_view
from ector.workflows.surgeon import surgeon_view
from ector.workflows.unit import Frame

View = Literal["patient", "surgeon", "site"]

VIEWS: Final[dict[str, Callable[[pl.LazyFrame, AnalysisSettings, Engine], dict[str, Frame]]]] = {
    "patient": lambda mart, analysis, engine: patient_view(mart, analysis, engine=engine),
    "surgeon": lambda mart, analysis, engine: surgeon_view(mart, analysis, engine=engine),
    "site": lambda mart, analysis, engine: site_view(mart, analysis, engine=engine),
}
CASE_MART: Final = "transform/cases.parquet"


def workflow_stage(context: StageContext, view: View, mart: pl.LazyFrame | None = None) -> None:
    """Build one view from the case mart (transform/cases.parquet, or `mart` from stdin) and sink every table.

    Tables go to workflow/<view>/<table>.parquet; summary.parquet is the primary one. Raises MissingInputError
    naming `ector transform` when there is no case mart and none was given.
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; views are {', '.join(VIEWS)}")
    if mart is None:
        mart = context.read(CASE_MART, produced_by="transform")
    tables = VIEWS[view](mart, context.settings.analysis, context.engine)
    availability = tables["availability"].lazy().collect()
    missing = availability.filter(~pl.col("available"))["column"].to_list()
    for column in missing:
        out.event(f"{column} not available: shown as such, not as zero", stage=context.name, level="warning")
    context.facts["not_available"] = missing
    context.sink({f"workflow/{view}/{name}.parquet": frame.lazy() for name, frame in sorted(tables.items())})
