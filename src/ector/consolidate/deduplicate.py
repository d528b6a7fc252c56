"""Deduplicate checked rows by key: one row per key, the latest version winning.

The winner of a key is decided by, in order: the latest `updated_at` (a null never beats a time); the row from
the later-listed `source_system` in `consolidation.source_priority` (docs/gold-contract.md); the row with fewer nulls;
then a hash of the standardised row, and of the ingested row, so the choice never depends on row order (Polars
does not keep it). Rows without a key cannot be matched to anything: they pass through, and validation
quarantines them as missing_required.

Deduplication runs on a range of keys already sorted by key (`ranges`), so the rows of a repeated key are
neighbours: finding them costs a comparison with the next row, and only those few rows are ranked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from ector.consolidate import rules
from ector.consolidate.columns import RAW_HASH, ROW, ROW_HASH
from ector.contract import Table

UPDATED_AT: Final = "updated_at"
SOURCE_SYSTEM: Final = "source_system"

_PRIORITY: Final = "__priority"
_NULLS: Final = "__nulls"


@dataclass(frozen=True)
class Merge:
    """What deduplicating one range of keys decided: the rows merged away, and how many were exact copies."""

    merged_away: pl.Series  # ROW of every row folded into another row of its key
    exact: int  # rows identical to another row of their key once standardised (duplicate_exact)
    resent: int  # other rows merged away (duplicate_resent)


def repeated(key: str) -> pl.Expr:
    """True for the rows of a key that occurs more than once, in a frame sorted by key (never for a null key)."""
    column = pl.col(key)
    neighbour = (column == column.shift(1)).fill_null(False) | (column == column.shift(-1)).fill_null(False)
    return column.is_not_null() & neighbour


def merge_repeated(duplicates: pl.DataFrame, table: Table, source_priority: Sequence[str]) -> Merge:
    """Return what merging `duplicates` (every row of the repeated keys, with ROW and RAW_HASH) decides.

    Rows identical in every standardised column are `duplicate_exact`; the other rows merged away are
    `duplicate_resent`.
    """
    if duplicates.is_empty():
        return Merge(pl.Series(ROW, [], dtype=pl.UInt64), 0, 0)
    key = table.key
    canonical = table.column_names
    order = [UPDATED_AT, _PRIORITY, _NULLS, ROW_HASH, RAW_HASH]
    latest_first = [True, True, False, True, False]
    # Sorted with every tie broken, the first row of each key is its winner, whatever order the rows arrived in.
    ranked = (
        duplicates.with_columns(
            _priority(table, source_priority).alias(_PRIORITY),
            pl.sum_horizontal(pl.col(c).is_null() for c in canonical).alias(_NULLS),
            pl.struct(canonical).hash().alias(ROW_HASH),
        )
        .sort([key, *order], descending=[False, *latest_first], nulls_last=True)
        .with_columns(pl.col(key).is_first_distinct().alias("__winner"))
    )
    rows = duplicates.height
    distinct = duplicates.select(pl.struct(canonical).n_unique()).item()
    keys = duplicates.select(pl.col(key).n_unique()).item()
    merged_away = ranked.filter(~pl.col("__winner"))[ROW]
    return Merge(merged_away, exact=rows - distinct, resent=distinct - keys)


def _priority(table: Table, source_priority: Sequence[str]) -> pl.Expr:
    """The rank of a row's source_system in source_priority (later listed = higher); -1 when unlisted or absent."""
    if SOURCE_SYSTEM not in table.column_names or not source_priority:
        return pl.lit(-1, dtype=pl.Int32)
    ranks = {name.strip().lower(): rank for rank, name in enumerate(source_priority)}
    return (
        pl.col(SOURCE_SYSTEM)
        .str.strip_chars()
        .str.to_lowercase()
        .replace_strict(ranks, default=-1, return_dtype=pl.Int32)
        .fill_null(-1)
    )


MERGE_RULES: Final = (rules.DUPLICATE_EXACT, rules.DUPLICATE_RESENT)
