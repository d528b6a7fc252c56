"""The transform stage: consolidate/<table>.parquet -> transform/cases.parquet (the case mart).

The body reads whichever consolidated tables exist (cases is mandatory), builds the mart part by part
(`mart.case_mart`), applies the row selection (--where, --since, --until) and sinks it. Outcomes that cannot
be had for lack of a table are recorded in the manifest as `unavailable_outcomes`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from ector.consolidate.stage import STAGE as CONSOLIDATE
from ector.contract import TABLE_NAMES
from ector.stage import Input, Option, Stage

if TYPE_CHECKING:
    import polars as pl

    from ector.runner import StageRun


def _transform(run: StageRun) -> None:
    """Build the case mart of the consolidated tables, filtered by --where/--since/--until, and sink it."""
    from ector.transform.mart import case_mart, present_tables, unavailable_outcomes

    where, since, until = run.options.get("where"), _day(run.options.get("since")), _day(run.options.get("until"))
    check_selection(where, since, until)  # before anything is read
    tables = {name: run.read(name) for name in TABLE_NAMES if name == "cases" or run.has(name)}
    check_contract(tables)
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
    run.sink({"cases": select_cases(mart.plan, where=where, since=since, until=until)})


def _day(value: datetime | date | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def check_selection(where: str | None, since: date | None, until: date | None) -> None:
    """Raise ConfigError when --where is not one valid condition over mart columns, or since is after until."""
    from ector.errors import ConfigError
    from ector.transform.dictionary import MART_COLUMN_NAMES
    from ector.transform.filters import parse_where

    if where is not None:
        parse_where(where, MART_COLUMN_NAMES)
    if since is not None and until is not None and since > until:
        raise ConfigError(f"--since {since} is after --until {until}", "give a since date on or before until")


def select_cases(
    mart: pl.LazyFrame, *, where: str | None = None, since: date | None = None, until: date | None = None
) -> pl.LazyFrame:
    """Return the mart's cases with surgery_date in since..until (inclusive) that satisfy the SQL `where`.

    Applied after the mart is built, so outcomes and expected rates are those of the whole mart: a case's
    reoperation after `until` still counts, and stratum rates do not depend on the selection.
    """
    from ector.transform.dictionary import MART_COLUMN_NAMES
    from ector.transform.filters import date_range
    from ector.transform.filters import where as where_filter

    selected = mart if since is None and until is None else mart.filter(date_range(since, until))
    return selected if where is None else where_filter(selected, where, MART_COLUMN_NAMES)


def check_contract(tables: dict[str, pl.LazyFrame]) -> None:
    """Raise InputError when a table lacks a canonical column or holds it in another dtype (footer only)."""
    from ector.contract import table
    from ector.errors import InputError

    for name, frame in tables.items():
        schema = frame.collect_schema()
        for column in table(name).columns:
            if column.name not in schema:
                raise InputError(f"consolidated table {name} has no column {column.name}", "rerun `ector consolidate`")
            if schema[column.name] != column.dtype:
                raise InputError(
                    f"consolidated {name}.{column.name} is {schema[column.name]}, not {column.dtype}",
                    "rerun `ector consolidate`",
                )


_DATE = ("%Y-%m-%d",)

STAGE = Stage(
    name="transform",
    command=("transform",),
    summary="Build the case mart (one row per case, every derived outcome) from the consolidated tables.",
    example="ector transform -o - --where \"approach = 'robotic'\" | ector workflow surgeon -i - -o - --format csv",
    sections=("analysis",),
    inputs={name: Input(CONSOLIDATE.output(name), CONSOLIDATE.name, optional=name != "cases") for name in TABLE_NAMES},
    outputs=("cases",),
    options=(
        Option("where", ("--where",), "SQL condition over mart columns"),
        Option("since", ("--since",), "first surgery date", kind=datetime, formats=_DATE),
        Option("until", ("--until",), "last surgery date", kind=datetime, formats=_DATE),
    ),
    primary="cases",
    body=_transform,
)
