"""Tiny ingested tables for consolidation tests, and the collected outcome of consolidating them.

The base is `tests.gold.tiny_gold()`: six small tables that consolidate with no repair, merge or quarantine,
so a test edits one value and asserts what consolidation makes of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from ector.consolidate import consolidate_in_memory
from ector.contract import TABLES
from ector.settings import ConsolidationSettings
from tests.gold import tiny_gold

RUN_DATE = date(2025, 1, 1)


def gold(*tables: str) -> dict[str, pl.DataFrame]:
    """The tiny Gold layer in ingest dtypes (integers widened to Int64): only `tables` and the mandatory
    `cases` when tables are named, else all six."""
    frames = tiny_gold()
    wanted = {"cases", *tables} if tables else set(frames)
    return {name: _widened(frame) for name, frame in frames.items() if name in wanted}


def _widened(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Int8, pl.Int32).cast(pl.Int64))


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text, the way ingest keeps a column whose source type did not fit."""
    return frame.with_columns(pl.all().cast(pl.String))


def edit(frame: pl.DataFrame, row: int, **values: Any) -> pl.DataFrame:
    """`frame` with `values` set in row `row`; a text value turns a non-text column into text."""
    for column, value in values.items():
        if isinstance(value, str) and frame.schema[column] != pl.String():
            frame = frame.with_columns(pl.col(column).cast(pl.String))
        dtype = frame.schema[column]
        series = frame.get_column(column).to_list()
        series[row] = value
        frame = frame.with_columns(pl.Series(column, series, dtype=dtype))
    return frame


def append(frame: pl.DataFrame, row: int, **values: Any) -> pl.DataFrame:
    """`frame` with a copy of row `row` added at the end, `values` changed in the copy."""
    copy = edit(frame.slice(row, 1), 0, **values)
    return pl.concat([frame.cast(copy.schema) if copy.schema != frame.schema else frame, copy])


@dataclass(frozen=True)
class Outcome:
    """A consolidation, collected."""

    clean: dict[str, pl.DataFrame]
    quarantine: dict[str, pl.DataFrame]
    summary: pl.DataFrame

    def count(self, table: str, rule: str, kind: str | None = None, column: str | None = None) -> int:
        """The summary's rows for `table` and `rule` (and kind, column), 0 when it has none."""
        rows = self.summary.filter(pl.col("table") == table, pl.col("rule") == rule)
        if kind is not None:
            rows = rows.filter(pl.col("kind") == kind)
        if column is not None:
            rows = rows.filter(pl.col("column") == column)
        return int(rows["rows"].sum())

    def quarantined(self, table: str) -> dict[str, list[str]]:
        """Raw key of each quarantined row of `table` -> the rules it broke."""
        frame = self.quarantine[table]
        key = TABLES[table].key
        return dict(zip(frame[key].cast(pl.String).to_list(), frame["rules"].to_list(), strict=True))

    def reason(self, table: str, key: str) -> str:
        frame = self.quarantine[table].filter(pl.col(TABLES[table].key) == key)
        return str(frame["reason"].item())


def run(tables: dict[str, pl.DataFrame], run_date: date = RUN_DATE, **settings: Any) -> Outcome:
    """Consolidate `tables` with `settings` (consolidation settings)."""
    result = consolidate_in_memory(
        {k: v.lazy() for k, v in tables.items()}, ConsolidationSettings(**settings), run_date
    )
    return Outcome(clean=result.clean, quarantine=result.quarantine, summary=result.summary)
