"""The workflow stage body: read the case mart, build one view's tables, hand them to the runner to sink.

`workflow_stage` builds one view (`ector workflow VIEW`); `ector all` runs it for each view in turn. The view
functions are the library's own (`surgeon_view`, ...), given the runner's materialiser: the tests call what
the command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

import polars as pl

from ector.console import out
from ector.materialise import Materialiser
from ector.pipeline import StageContext, StageOutputs
from ector.settings import AnalysisSettings
from ector.workflows.patient import patient_view
from ector.workflows.plan import Frame
from ector.workflows.site import site_view
from ector.workflows.surgeon import surgeon_view

View = Literal["patient", "surgeon", "site"]

VIEWS: Final[dict[str, Callable[[pl.LazyFrame, AnalysisSettings, Materialiser], dict[str, Frame]]]] = {
    "patient": patient_view,
    "surgeon": surgeon_view,
    "site": site_view,
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
    tables = VIEWS[view](mart, context.settings.analysis, StageOutputs(context))
    _record_availability(context, tables)
    StageOutputs(context).sink({name: frame.lazy() for name, frame in sorted(tables.items())})


def _record_availability(context: StageContext, tables: dict[str, Frame]) -> None:
    """Warn about inputs not available, and record them in the manifest."""
    availability = tables["availability"].lazy().collect()
    missing = availability.filter(~pl.col("available"))["column"].to_list()
    for column in missing:
        out.event(f"{column} not available: shown as such, not as zero", stage=context.name, level="warning")
    context.facts["not_available"] = missing
