"""Deduplicate one table by its key: one row per key, the latest version winning.

The winner of a key is decided by, in order: the latest `updated_at` (a null never beats a time); the row from
the later-listed `source_system` in `consolidation.source_priority` (gold-contract.md); the row with fewer nulls;
then a hash of the standardised row, and of the ingested row, so the choice never depends on row order (Polars
does not keep it). Rows without a key cannot be matched to anything: they pass through, and validation
quarantines them as missing_required.

Almost every key arrives once, so the work is split in three, each a plan of its own:
1. `repeated_keys`: the hashes of the keys seen more than once, from the key column alone (a streaming
   group-by on 8-byte values; a hash collision only makes a key a candidate, which then wins alone);
2. `duplicate_rows` / `merge_duplicates`: the rows of those keys, standardised and ranked in memory (they are
   few), giving one winner per key and the counts of rows merged away;
3. `single_rows`: every other row, which streams straight through.
Sorting or windowing the whole table by key would hold it all in memory. Keeping the parts apart also lets the
stage hold the small ones in memory before it streams the large one (see `stage`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from ector.consolidate import rules
from ector.consolidate.columns import RAW_HASH, ROW_HASH, raw_name, repair_name
from ector.consolidate.standardise import standardised_key
from ector.contract import Table

UPDATED_AT: Final = "updated_at"
SOURCE_SYSTEM: Final = "source_system"

KEY_HASH: Final = "__key_hash"
_PRIORITY: Final = "__priority"
_NULLS: Final = "__nulls"
_ROWS: Final = "__rows"
_DISTINCT: Final = "__distinct"
_KEYS: Final = "__keys"
_KEPT: Final = "__kept"
_POSITION: Final = "__position"


@dataclass(frozen=True)
class Merged:
    """The winner of every repeated key, and what the merge took away."""

    winners: pl.LazyFrame  # the columns of the standardised rows, one row per repeated key
    merges: pl.LazyFrame  # one row: duplicate_exact, duplicate_resent, and repair_name(rule) of merged-away rows


def _key_hash(ingested: pl.LazyFrame, table: Table) -> pl.Expr:
    """The hash of the standardised key of each ingested row; null when the row has no key."""
    key = standardised_key(table)
    return pl.when(key.is_not_null()).then(key.hash()).alias(KEY_HASH)


def repeated_keys(ingested: pl.LazyFrame, table: Table) -> pl.LazyFrame:
    """`__key_hash` of every standardised key that `ingested` holds more than once (usually few rows)."""
    return (
        ingested.select(_key_hash(ingested, table))
        .drop_nulls()
        .group_by(KEY_HASH)
        .len()
        .filter(pl.col("len") > 1)
        .select(KEY_HASH)
    )


def duplicate_rows(ingested: pl.LazyFrame, repeated: pl.LazyFrame, table: Table) -> pl.LazyFrame:
    """The ingested rows whose key is repeated (`repeated` from `repeated_keys`)."""
    # The repeated keys are few: they are the build side, the table streams past them.
    hashed = ingested.with_columns(_key_hash(ingested, table))
    return hashed.join(repeated, on=KEY_HASH, how="semi", build_side="force_right")


def single_rows(standardised: pl.LazyFrame, repeated: pl.LazyFrame, table: Table) -> pl.LazyFrame:
    """The standardised rows whose key is not repeated, and the rows without a key."""
    key = pl.col(table.key)
    return (
        standardised.with_columns(pl.when(key.is_not_null()).then(key.hash()).alias(KEY_HASH))
        .join(repeated, on=KEY_HASH, how="anti", build_side="force_right")
        .drop(KEY_HASH)
    )


def merge_duplicates(duplicates: pl.LazyFrame, table: Table, source_priority: Sequence[str]) -> Merged:
    """The winner of each key of the standardised `duplicates`, and the counts of the rows merged away.

    Rows identical in every standardised column are `duplicate_exact`; the other rows merged away are
    `duplicate_resent`.
    """
    key = table.key
    columns = duplicates.collect_schema().names()
    canonical = table.column_names
    order = [UPDATED_AT, _PRIORITY, _NULLS, ROW_HASH, RAW_HASH]
    latest_first = [True, True, False, True, False]
    # Sorted with every tie broken, the first row of each key is its winner, whatever order the rows arrived in.
    winners = (
        duplicates.with_columns(
            _priority(table, source_priority).alias(_PRIORITY),
            pl.sum_horizontal(pl.col(c).is_null() for c in canonical).alias(_NULLS),
            pl.struct(canonical).hash().alias(ROW_HASH),
            pl.struct(raw_name(c) for c in canonical).hash().alias(RAW_HASH),
        )
        .sort([key, *order], descending=[False, *latest_first], nulls_last=True)
        .with_row_index(_POSITION)
        .filter(pl.col(_POSITION) == pl.col(_POSITION).min().over(key))
        .select(columns)
    )
    repair_flags = [repair_name(rule) for rule in rules.REPAIRS]
    arrived = duplicates.select(
        pl.len().alias(_ROWS),
        pl.struct(canonical).n_unique().alias(_DISTINCT),
        *(pl.col(flag).sum().alias(flag) for flag in repair_flags),
    )
    kept = winners.select(pl.len().alias(_KEYS), *(pl.col(flag).sum().alias(f"{flag}{_KEPT}") for flag in repair_flags))
    merges = pl.concat([arrived, kept], how="horizontal").select(
        (pl.col(_ROWS) - pl.col(_DISTINCT)).cast(pl.Int64).alias(rules.DUPLICATE_EXACT),
        (pl.col(_DISTINCT) - pl.col(_KEYS)).cast(pl.Int64).alias(rules.DUPLICATE_RESENT),
        *((pl.col(flag) - pl.col(f"{flag}{_KEPT}")).cast(pl.Int64).alias(flag) for flag in repair_flags),
    )
    return Merged(winners, merges)


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
