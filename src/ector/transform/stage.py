"""The transform stage: consolidate/<table>.parquet -> transform/cases.parquet (the case mart), with the risk
models of its expected columns (transform/risk_models.parquet, transform/risk_calibration.parquet).

The body reads whichever consolidated tables exist (cases is mandatory), builds the mart part by part
(`mart.case_mart`), applies the row selection (--where, --since, --until) and sinks it. Outcomes that cannot
be had for lack of a table are recorded in the manifest as `unavailable_outcomes`, and the model that gives
each expected column as `risk_models`. The models are fitted on the whole mart, before the selection.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from ector.consolidate.stage import STAGE as CONSOLIDATE
from ector.contract import TABLE_NAMES
from ector.stage import Input, Option, Stage

if TYPE_CHECKING:
    from ector.runner import StageRun


def _transform(run: StageRun) -> None:
    """Build the case mart of the consolidated tables, filtered by --where/--since/--until, and sink it."""
    import polars as pl
    from polars.exceptions import PolarsError

    from ector.transform.filters import check_selection, select_cases, where_failed
    from ector.transform.mart import case_mart, check_consolidated, present_tables, unavailable_outcomes

    where, since, until = run.options.get("where"), _day(run.options.get("since")), _day(run.options.get("until"))
    check_selection(where, since, until)  # before anything is read
    tables = {name: run.read(name) for name in TABLE_NAMES if name == "cases" or run.has(name)}
    check_consolidated(tables)
    run.facts["absent_tables"] = [name for name in TABLE_NAMES if name not in tables]
    run.facts["unavailable_outcomes"] = unavailable_outcomes(tables)
    # Only whether --where was given: its text may name a patient id, and the manifest is no place for one.
    run.facts["selection"] = {
        "where": where is not None,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    mart = case_mart(
        {name: tables[name] for name in present_tables(tables)},
        run.settings.analysis,
        run.outputs,
        part_cases=run.settings.mart_part_cases,
    )
    run.facts["mart_parts"] = mart.parts
    models = mart.risk_models.models
    used = models.filter(pl.col("term").is_null() & pl.col("used"))
    run.facts["risk_models"] = {o: used.filter(pl.col("outcome") == o)["model"].to_list() for o in used["outcome"]}
    try:
        run.sink(
            {
                "cases": select_cases(mart.plan, where=where, since=since, until=until),
                "risk_models": models.lazy(),
                "risk_calibration": mart.risk_models.calibration.lazy(),
            }
        )
    except PolarsError as exc:
        refused = where_failed(exc, where) if where is not None else None
        if refused is not None:
            raise refused from None
        raise


def _day(value: datetime | date | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


_DATE = ("%Y-%m-%d",)

STAGE = Stage(
    name="transform",
    command=("transform",),
    summary="Build the case mart (one row per case, every derived outcome) from the consolidated tables.",
    example="ector transform -o - --where \"approach = 'robotic'\" | ector workflow surgeon -i - -o - --format csv",
    sections=("analysis",),
    inputs={name: Input(CONSOLIDATE.output(name), CONSOLIDATE.name, optional=name != "cases") for name in TABLE_NAMES},
    outputs=("cases", "risk_models", "risk_calibration"),
    options=(
        Option("where", ("--where",), "SQL condition over mart columns"),
        Option("since", ("--since",), "first surgery date", kind=datetime, formats=_DATE),
        Option("until", ("--until",), "last surgery date", kind=datetime, formats=_DATE),
    ),
    primary="cases",
    body=_transform,
)
