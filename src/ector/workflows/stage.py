"""The workflow stage bodies: read the case mart, build the views' tables, hand them to the runner to sink.

`workflow_stage` builds one view (`ector workflow VIEW`); `workflows_together` builds several (`ector all`):
the mart is probed once, then view by view its aggregates are collected and its tables sunk. Both run the
same plans, so they write the same files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

import polars as pl

from ector.console import out
from ector.pipeline import StageContext
from ector.settings import AnalysisSettings, Engine
from ector.workflows.mart import Availability, conform_mart, probe_availability
from ector.workflows.patient import patient_view, plan_patient_view
from ector.workflows.plan import SHARED_SCANS, Frame, Parts, ViewPlan, collect_views
from ector.workflows.site import plan_site_view, site_view
from ector.workflows.surgeon import plan_surgeon_view, surgeon_view

View = Literal["patient", "surgeon", "site"]

VIEWS: Final[dict[str, Callable[[pl.LazyFrame, AnalysisSettings, Engine], dict[str, Frame]]]] = {
    "patient": lambda mart, analysis, engine: patient_view(mart, analysis, engine=engine),
    "surgeon": lambda mart, analysis, engine: surgeon_view(mart, analysis, engine=engine),
    "site": lambda mart, analysis, engine: site_view(mart, analysis, engine=engine),
}
# Each view's plan over a conformed mart whose availability is known.
PLANS: Final[dict[str, Callable[[pl.LazyFrame, AnalysisSettings, Availability, Engine], ViewPlan]]] = {
    "patient": lambda mart, analysis, availability, engine: plan_patient_view(mart, analysis, availability),
    "surgeon": lambda mart, analysis, availability, engine: plan_surgeon_view(
        mart, analysis, availability, engine=engine
    ),
    "site": lambda mart, analysis, availability, engine: plan_site_view(mart, analysis, availability, engine=engine),
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
    context.sink(_outputs(context, view, tables), shared_scans=SHARED_SCANS)


def workflows_together(contexts: dict[str, StageContext]) -> None:
    """Build the views of `contexts` (keyed `workflow/<view>`) from one probe of the case mart, and sink them.

    The body `pipeline.run_stages_together` runs for `ector all`; each view's files are those of
    `workflow_stage`. The mart's availability is probed once for all views.
    """
    first = next(iter(contexts.values()))
    marts = [context.read(CASE_MART, produced_by="transform") for context in contexts.values()]  # rows_in of each
    mart = marts[0]
    analysis, engine = first.settings.analysis, first.engine
    mart = conform_mart(mart, analysis.period)
    availability = probe_availability(mart, analysis, engine)
    # View by view: each view's aggregates are collected, then its tables sunk, before the next view starts.
    # One collect_all over the three views read the mart once but held every aggregate's in-memory part
    # (medians, distinct counts, series) at the same time: at 10M cases 5.5 GB against 4.5 GB view by view, for
    # the same CPU (docs/performance.md, Workflows; measured before a view's own aggregates went one by one).
    for name, context in contexts.items():
        view = name.removeprefix("workflow/")
        _build_and_sink(context, view, PLANS[view](mart, analysis, availability, engine), engine)


def _build_and_sink(context: StageContext, view: str, plan: ViewPlan, engine: Engine) -> None:
    """Collect one view's aggregates, then sink its tables. A function of its own so that the view's collected
    tables (at 100M cases, 0.6 GB of thinned series in the surgeon view) are freed before the next view starts."""
    [tables] = collect_views([plan], engine)
    context.sink(_outputs(context, view, tables), shared_scans=SHARED_SCANS)


def _outputs(context: StageContext, view: str, tables: dict[str, Frame]) -> dict[str, pl.LazyFrame]:
    """Warn about inputs not available, record them, and name every table's output file with its plan (a table in
    Parts is written to scratch files here, `_plan_of`)."""
    availability = tables["availability"].lazy().collect()
    missing = availability.filter(~pl.col("available"))["column"].to_list()
    for column in missing:
        out.event(f"{column} not available: shown as such, not as zero", stage=context.name, level="warning")
    context.facts["not_available"] = missing
    return {
        f"workflow/{view}/{name}.parquet": _plan_of(context, f"{view}-{name}", frame)
        for name, frame in sorted(tables.items())
    }


def _plan_of(context: StageContext, name: str, table: Frame) -> pl.LazyFrame:
    """Return the plan that writes `table`: a table in Parts is written to scratch files first, part by part."""
    if not isinstance(table, Parts):
        return table.lazy()
    return context.sink_scratch_in_turn(name, table.plans, shared_scans=SHARED_SCANS)
