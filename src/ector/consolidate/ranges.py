"""How a large table is cut for consolidation: chunks of rows to check, ranges of keys to deduplicate and write.

Checking a row (parsing its text, its references and rules) needs only the row, so the ingested table is read
a chunk of rows at a time. Deduplicating and writing need the rows in key order, so the checked rows are then
cut into ranges of consecutive keys: every row of a key falls in one range, a range holds about a chunk's rows,
and the ranges written in order are the table sorted by key. Null keys go to the last range (they sort last).

Sorting a whole table by a text key is what makes that slow: measured with polars 2.1 at 10M shuffled case ids,
an arg-sort of the key took 7.5 s and a table sorted by it 9 s, while ten ranges of 1M took 0.35 s each.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Final

import polars as pl

# Rows checked at a time, and about the rows of one key range (the `chunk_rows` setting's default): measured at 10M
# cases, chunks of 1M, 2M and 4M rows took the same time (39-42 s) and peaked at 2.2, 3.0 and 5.1 GB.
CHUNK_ROWS: Final = 1_000_000
# Keys drawn (by hash) to place the range boundaries: their balance depends on it, not the result.
SAMPLED_KEYS: Final = 100_000
RANGE: Final = "__range"


def chunk_count(rows: int, chunk_rows: int = CHUNK_ROWS) -> int:
    """Return how many chunks of at most `chunk_rows` rows `rows` rows make (at least one)."""
    return max(1, ceil(rows / chunk_rows))


def key_sample(keys: pl.LazyFrame, key: str, rows: int) -> pl.LazyFrame:
    """Return the plan of about SAMPLED_KEYS distinct non-null keys of `keys` (a hash sample), sorted."""
    every = max(1, rows // SAMPLED_KEYS)
    drawn = pl.col(key).is_not_null() & (pl.col(key).hash(seed=11) % every == 0)
    return keys.select(key).filter(drawn).unique().sort(key)


@dataclass(frozen=True)
class KeyRanges:
    """Consecutive ranges of keys: range i holds the keys from bounds[i - 1] (inclusive) to bounds[i]."""

    bounds: pl.Series  # sorted inner boundaries; empty: one range

    @property
    def count(self) -> int:
        return self.bounds.len() + 1

    def of(self, key: pl.Expr) -> pl.Expr:
        """Return the range of each key (UInt32); a null key is in the last range."""
        if self.bounds.is_empty():
            return pl.lit(0, dtype=pl.UInt32)
        position = pl.lit(self.bounds).search_sorted(key, side="right").cast(pl.UInt32)
        return pl.when(key.is_null()).then(pl.lit(self.count - 1, dtype=pl.UInt32)).otherwise(position)


def key_ranges(sample: pl.Series, ranges: int) -> KeyRanges:
    """Return `ranges` ranges (fewer when the sample is small) cut at evenly spaced keys of the sorted `sample`."""
    count = min(ranges, sample.len())
    bounds = [sample[(sample.len() * i) // count] for i in range(1, count)] if count > 1 else []
    return KeyRanges(pl.Series(list(dict.fromkeys(bounds)), dtype=pl.String))


ONE_RANGE: Final = KeyRanges(pl.Series([], dtype=pl.String))
