"""From a source table to a canonical one: which source column feeds each canonical column, and its dtype.

Ingest is lossless. A value that already has its canonical type (or widens into it) gets that type; a value
that arrives as text stays text, because parsing `05/03/2024` or `Female` is consolidation's job, where a value
that cannot be parsed is quarantined with a reason instead of silently becoming null.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ector.contract import TIMESTAMP, Table
from ector.errors import ContractError
from ector.settings import TableSource

# The dtype a canonical column takes at ingest: wide enough for any source value, dirt included
# (an ASA class of 99 or an operative time in the millions must survive to be quarantined).
_INGEST_DTYPES: dict[type[pl.DataType], pl.DataType] = {
    pl.Int8: pl.Int64(),
    pl.Int16: pl.Int64(),
    pl.Int32: pl.Int64(),
    pl.Int64: pl.Int64(),
    pl.Float32: pl.Float64(),
    pl.Float64: pl.Float64(),
}


def ingest_dtype(canonical: pl.DataType) -> pl.DataType:
    """The dtype a canonical column is stored with in ingest/ when its source type is compatible."""
    return _INGEST_DTYPES.get(type(canonical), canonical)


@dataclass(frozen=True)
class TablePlan:
    """How to read one canonical table from its source table."""

    table: Table
    source_name: str
    source_columns: dict[str, str]  # canonical column -> source column, for the columns the source has


def plan_table(table: Table, mapping: TableSource, available: list[str]) -> TablePlan:
    """Match the canonical columns to the source's columns; ContractError when a required one is missing.

    Unmapped columns match by name, ignoring case (PostgreSQL folds unquoted names to lower case).
    """
    source_name = mapping.name or table.name
    by_lower = {name.lower(): name for name in available}
    unknown = sorted(set(mapping.columns) - set(table.column_names))
    if unknown:
        raise ContractError(
            f"source.tables.{table.name}.columns maps {unknown[0]!r}, which is not a column of {table.name}",
            f"canonical columns: {', '.join(table.column_names)}",
        )
    columns: dict[str, str] = {}
    for column in table.columns:
        wanted = mapping.columns.get(column.name, column.name)
        found = by_lower.get(wanted.lower())
        if found is not None:
            columns[column.name] = found
        elif column.required:
            raise ContractError(
                f"required column {table.name}.{column.name} not found: looked for {wanted!r} "
                f"in source table {source_name!r}",
                f"map it with source.tables.{table.name}.columns.{column.name} in ector.yaml",
            )
    return TablePlan(table, source_name, columns)


def to_canonical(frame: pl.LazyFrame, plan: TablePlan) -> pl.LazyFrame:
    """The source rows under canonical names, in contract order, with canonical (or text) dtypes.

    Optional columns the source lacks are added as nulls, so every ingested table has the same columns.
    """
    schema = frame.collect_schema()
    expressions = []
    for column in plan.table.columns:
        source = plan.source_columns.get(column.name)
        target = ingest_dtype(column.dtype)
        if source is None:
            expressions.append(pl.lit(None, dtype=target).alias(column.name))
        else:
            expressions.append(_convert(pl.col(source), schema[source], target).alias(column.name))
    return frame.select(expressions)


def _convert(value: pl.Expr, source: pl.DataType, target: pl.DataType) -> pl.Expr:
    """`value` in the target dtype when that is lossless, otherwise as text for consolidation to parse."""
    if source == target:
        return value
    if target == pl.String():
        return value.cast(pl.String)
    if source.is_integer() and target in (pl.Int64(), pl.Float64()):
        return value.cast(target)
    if source.is_float() and target == pl.Float64():
        return value.cast(target)
    if isinstance(source, pl.Datetime) and target == TIMESTAMP:
        # Gold timestamps are naive local time: keep the wall clock of a zone-aware source.
        naive = value.dt.replace_time_zone(None) if source.time_zone else value
        return naive.cast(TIMESTAMP)
    if isinstance(source, pl.Datetime) and target == pl.Date():
        return value.dt.date()
    if source == pl.Date() and target == TIMESTAMP:
        return value.cast(TIMESTAMP)
    if source == pl.Null():
        return value.cast(target)
    # Anything else (numbers for a boolean, text for a date, ...) is kept as text and parsed by consolidate.
    return value.cast(pl.String)
