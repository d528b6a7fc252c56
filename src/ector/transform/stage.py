"""The transform stage: consolidate/<table>.parquet -> transform/cases.parquet (the case mart).

The body reads whichever consolidated tables exist (cases is mandatory), builds the mart part by part
(`transform.parts`, the same mart as the single plan `case_mart`), applies the row selection (--where, --since,
--until), and hands the plan to the runner, which sinks it. Outcomes that cannot be had for lack of a table are
recorded in the manifest as `unavailable_outcomes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from ector.contract import TABLE_NAMES, table
from ector.errors import ConfigError, InputError
from ector.pipeline import StageContext
from ector.transform.dictionary import MART_COLUMN_NAMES
from ector.transform.filters import date_range, parse_where
from ector.transform.filters import where as where_filter
from ector.transform.mart import case_mart, present_tables, unavailable_outcomes
from ector.transform.parts import mart_in_parts

MART_PATH = "transform/cases.parquet"
PRODUCER = "consolidate"


def transform_stage(
    context: StageContext, where: str | None = None, since: date | None = None, until: date | None = None
) -> None:
    """Stage the case mart of the consolidated tables, filtered by where/since/until, as transform/cases.parquet.

    The mart is built in parts of `mart_part_cases` cases (see `transform.parts`), written to scratch files
    that the runner removes once the stage ends.
    """
    tables = read_selected(context, where, since, until)
    mart = mart_in_parts(context, tables, context.settings.analysis, context.settings.mart_part_cases)
    context.sink({MART_PATH: select_cases(mart, where=where, since=since, until=until)})


def plan_transform(
    context: StageContext, where: str | None = None, since: date | None = None, until: date | None = None
) -> pl.LazyFrame:
    """Return the filtered case-mart plan of the work directory's consolidated tables, as one plan, facts recorded.

    What `ector transform -o` collects; it holds the whole mart in memory, as its result does.
    """
    tables = read_selected(context, where, since, until)
    mart = case_mart(tables, context.settings.analysis)
    return select_cases(mart, where=where, since=since, until=until)


def read_selected(
    context: StageContext, where: str | None, since: date | None, until: date | None
) -> dict[str, pl.LazyFrame]:
    """Check the selection, then return the consolidated tables and record what the manifest says of them.

    The filters are checked before anything is read: a bad --where or since > until is a ConfigError (exit 2).
    """
    check_selection(where, since, until)
    tables = read_consolidated(context)
    context.facts["absent_tables"] = [name for name in TABLE_NAMES if name not in tables]
    context.facts["unavailable_outcomes"] = unavailable_outcomes(tables)
    context.facts["selection"] = {
        # Only whether --where was given: its text may name a patient id, and the manifest is no place for one.
        "where": where is not None,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    return tables


def check_selection(where: str | None, since: date | None, until: date | None) -> None:
    """Raise ConfigError when --where is not one valid condition over mart columns, or since is after until."""
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
    selected = mart if since is None and until is None else mart.filter(date_range(since, until))
    return selected if where is None else where_filter(selected, where, MART_COLUMN_NAMES)


def read_consolidated(context: StageContext) -> dict[str, pl.LazyFrame]:
    """Return a scan of every consolidated table in the work directory; MissingInputError without cases."""
    tables = {"cases": context.read(f"{PRODUCER}/cases.parquet", produced_by=PRODUCER)}
    for name in TABLE_NAMES:
        relative = f"{PRODUCER}/{name}.parquet"
        if name != "cases" and context.workdir.output(relative).is_file():
            tables[name] = context.read(relative, produced_by=PRODUCER)
    check_contract(tables)
    return {name: tables[name] for name in present_tables(tables)}


def check_contract(tables: Mapping[str, pl.LazyFrame]) -> None:
    """Raise InputError when a table lacks a canonical column or holds it in another dtype (footer only)."""
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
