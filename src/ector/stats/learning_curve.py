"""Learning curves: operative minutes against a surgeon's case sequence number.

Per surgeon (and procedure family, or any grouping the caller passes), in time order:
- `case_sequence`: 1, 2, 3... over all of the surgeon's cases, with or without recorded minutes, because
  experience is every case done;
- `moving_median`: median of the last `window` cases with minutes. The window is trailing (what was known
  at the time) and a value appears only once the window is full: medians over 3 cases beside medians over
  10 would add noise exactly where the learning is read. The default 10 is the usual learning-curve block
  size; a median of 10 shrugs off one or two long, complex cases and shows a first value at case 10;
- `cusum`: running sum of (x - mean), mean over the surgeon's series. It ends at 0 and its peak marks where
  the surgeon turned from slower to faster than their own average; the peak moves as cases are added;
- `cases_used`: how many cases with minutes the curve rests on (state it beside the chart).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import polars as pl

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

DEFAULT_WINDOW = 10


def learning_curve(
    cases: FrameT,
    *,
    by: str | Sequence[str],
    order: str | Sequence[str] | None,
    minutes: str = "operative_minutes",
    window: int = DEFAULT_WINDOW,
) -> FrameT:
    """Return the cases that have minutes, with `case_sequence`, `moving_median`, `cusum` and `cases_used`.

    Sorted by `by` and case sequence. Give `order` a tie-break (e.g. surgery start, then case id) so that
    the sequence numbers are deterministic. `order=None` when `cases` is already sorted by `by` then time:
    the windows then follow the row order, and the result is in that order (sorting once is cheaper than a
    sort per window expression).
    """
    if window < 1:
        raise ValueError(f"the moving-median window is at least 1 case, got {window}")
    groups: list[str] = _names(by)
    x = pl.col(minutes).cast(pl.Float64)

    def over(expr: pl.Expr) -> pl.Expr:
        return expr.over(groups) if order is None else expr.over(groups, order_by=_names(order))

    curves = (
        cases.with_columns(case_sequence=over(pl.int_range(1, pl.len() + 1)))
        .filter(x.is_not_null())
        .with_columns(
            moving_median=over(x.rolling_median(window, min_samples=window)),
            cusum=over((x - x.mean()).cum_sum()),
            cases_used=pl.len().over(groups),
        )
    )
    return curves if order is None else curves.sort([*groups, "case_sequence"])


def _names(columns: str | Sequence[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)
