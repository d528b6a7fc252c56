"""Thinning per-case monitoring series to a bounded number of points per series, keeping what a chart shows.

A CUSUM, VLAD or learning-curve series has one point per case: 10 million rows at 10M cases, while a chart
of one surgeon draws a few hundred. The series are computed over every case (the values are exact), then
thinned: each series is cut into at most `bins` consecutive bins of equal width, and a row is kept when it is
- the first or the last of its series (the final value is exact and always present),
- the last row of its bin,
- the row holding the largest or the smallest value of a watched column within its bin (the first such row
  on ties), so peaks and returns to zero are never smoothed away,
- a row where a `keep` column is true (a CUSUM's signals: every one is kept, however close together).
A series of at most `bins` rows is kept whole. So a series keeps at most bins x (1 + 2 x watched columns) + 1
rows besides those `keep` names, whatever its length. The thinning is a filter over sorted rows: the kept rows
are the full series' rows, values unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

BINS: Final = 250  # per series: a few hundred bins, a few thousand points per surgeon at most


def thin_series(
    series: pl.LazyFrame, *, by: Sequence[str], watch: Sequence[str], keep: Sequence[str] = (), bins: int = BINS
) -> pl.LazyFrame:
    """Return the rows of `series` a chart needs, per series `by`, keeping the row order of `series`.

    `series` must be sorted by `by`, then within each series in the order of the chart's x axis: row positions
    define the bins. `watch` names the columns whose extremes are kept per bin; `keep` boolean columns whose
    true rows are always kept.
    """
    if bins < 1:
        raise ValueError(f"a series is thinned to at least 1 bin, got {bins}")
    # The input is sorted, so series and bins are runs of rows: integer run ids (a change from the previous
    # row, summed) make every window below a cheap aggregate over one sorted integer key, not a string hash.
    changed = pl.any_horizontal(*(pl.col(k).ne_missing(pl.col(k).shift(1)) for k in by), pl.col("__row") == 0)
    framed = (
        series.with_row_index("__row")
        .with_columns(__s=changed.cum_sum().cast(pl.UInt32).set_sorted())
        .with_columns(
            __i=(pl.col("__row") - pl.col("__row").min().over("__s")).cast(pl.Int32),
            __n=pl.len().cast(pl.Int32).over("__s"),
        )
        .with_columns(__bin=pl.col("__i") // ((pl.col("__n") + bins - 1) // bins))  # width ceil(n / bins)
        .with_columns(
            __g=((pl.col("__s") != pl.col("__s").shift(1)) | (pl.col("__bin") != pl.col("__bin").shift(1)))
            .fill_null(True)
            .cum_sum()
            .cast(pl.UInt32)
            .set_sorted()
        )
        .drop("__row", "__s", "__bin")  # narrow integer helpers only, while the whole series is held
    )
    extremes = {f"__{pick}_{c}": getattr(pl.col(c), pick)().over("__g") for c in watch for pick in ("max", "min")}
    # A bin's extreme: the first row holding its largest (smallest) value; none when the bin is all null.
    firsts = [
        pl.col("__i") == pl.when(pl.col(c) == pl.col(f"__{pick}_{c}")).then(pl.col("__i")).min().over("__g")
        for c in watch
        for pick in ("max", "min")
    ]
    kept = pl.any_horizontal(
        *(pl.col(c).fill_null(value=False) for c in keep),
        pl.col("__n") <= bins,
        pl.col("__i") == 0,
        pl.col("__i") == pl.col("__n") - 1,
        pl.col("__i") == pl.col("__i").max().over("__g"),
        *firsts,
    )
    return framed.with_columns(**extremes).filter(kept).drop("__i", "__n", "__g", *extremes)
