"""Monitoring a binary outcome over time: Steiner risk-adjusted CUSUM and VLAD, as polars window expressions.

Steiner et al. (2000): for case t with predicted risk p and outcome y (1 = event), the log-likelihood
ratio weight of odds ratio R_A against R0 is W_t = ln[(1 - p + R0 p) R_A^y / ((1 - p + R_A p) R0^y)] and
the chart is X_t = max(0, X_{t-1} + W_t), X_0 = 0. R_A = 2 watches for a doubling of the odds, R_A = 0.5
for a halving.

The recursion is not a cumulative sum, but it has a closed form that is: with S_t = W_1 + ... + W_t,
    X_t = S_t - min(0, S_1, ..., S_t).
Proof by induction, writing m_t = min(0, S_1, ..., S_t): X_0 = 0 = S_0 - m_0, and if
X_{t-1} = S_{t-1} - m_{t-1} then X_t = max(0, S_t - m_{t-1}) = S_t - min(S_t, m_{t-1}) = S_t - m_t.
So X runs as cum_sum and cum_min inside `.over(unit, order_by=time)`, lazily and without a Python loop.
Where the recursion resets to 0, S_t == m_t exactly, so the zeros stay exact zeros.

A chart that decides signals when X_t > h and restarts at 0 after the signal (`chart_with_restarts`). The
restart is not in the closed form, but the chart after a restart is the same closed form over the cases that
follow it. So the chart is computed over every case, then over the cases after each series' first signal
only, and so on: one pass per signal of the series that signals most, each over fewer cases.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

import polars as pl

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


def steiner_weight(
    risk: pl.Expr, outcome: pl.Expr, odds_ratio_alternative: float = 2.0, odds_ratio_null: float = 1.0
) -> pl.Expr:
    """Return the Steiner CUSUM weight W_t expression for predicted risk p and a 0/1 (or bool) outcome."""
    if odds_ratio_alternative <= 0 or odds_ratio_null <= 0:
        raise ValueError("odds ratios must be positive")
    p = risk.cast(pl.Float64)
    y = outcome.cast(pl.Float64)
    # ln(1 - p + R p) = log1p((R - 1) p): accurate for the small risks typical of surgery.
    return (
        y * math.log(odds_ratio_alternative / odds_ratio_null)
        + ((odds_ratio_null - 1) * p).log1p()
        - ((odds_ratio_alternative - 1) * p).log1p()
    )


def cusum_path(weight: pl.Expr) -> pl.Expr:
    """Return X_t = max(0, X_{t-1} + W_t) from the weights; apply `.over(unit, order_by=time)` to it.

    Uses X_t = S_t - min(0, min_{k<=t} S_k) with S the cumulative sum (proof in the module docstring).
    """
    running = weight.cum_sum()
    return running - pl.min_horizontal(running.cum_min(), pl.lit(0.0))


def chart_with_restarts(series: pl.DataFrame, *, by: str, weight: str, limit: float) -> tuple[pl.Series, pl.Series]:
    """Return (X_t, signal) for `series` sorted by `by` and in time order within each series: X_t restarts at 0
    after each signal, and `signal` is true at the cases where X_t > `limit`.

    `weight` holds W_t, never null. The first pass is `cusum_path` over every case; each further pass covers,
    per series, the cases after its latest signal (the closed form again, from 0), until no series signals.
    """
    chart = series.select(cusum_path(pl.col(weight)).over(by)).to_series().alias("chart")
    signal = pl.Series("signal", [False] * series.height)
    pending = series.select(by, weight).with_row_index("__row").with_columns(chart)
    over = pl.col("chart") > limit
    while pending.height:
        crossed = pending.filter(over)[by].unique()
        if crossed.is_empty():
            break
        # Only the series that crossed go on: the windows below then run over fewer rows each pass.
        pending = pending.filter(pl.col(by).is_in(crossed.implode()))
        seen = pending.with_columns(__crossed=over.cast(pl.UInt32).cum_sum().over(by))
        signal.scatter(seen.filter(over & (pl.col("__crossed") == 1))["__row"], True)
        after = seen.filter((pl.col("__crossed") - over.cast(pl.UInt32)) > 0).drop("__crossed", "chart")
        pending = after.with_columns(cusum_path(pl.col(weight)).over(by).alias("chart"))
        chart.scatter(pending["__row"], pending["chart"])
    return chart, signal


def vlad_path(risk: pl.Expr, outcome: pl.Expr) -> pl.Expr:
    """Return the VLAD expression, the running sum of (p - y); apply `.over(unit, order_by=time)` to it."""
    return (risk.cast(pl.Float64) - outcome.cast(pl.Float64)).cum_sum()


def risk_adjusted_cusum(
    cases: FrameT,
    *,
    unit: str | Sequence[str],
    order: str | Sequence[str] | None,
    risk: str,
    outcome: str,
    odds_ratio_alternative: float = 2.0,
    odds_ratio_null: float = 1.0,
) -> FrameT:
    """Return `cases` with `cusum_weight` (W_t) and `cusum` (X_t) per unit, in the order of `order`.

    Rows keep their input order; each unit's series is computed in `order` (ties: add a tie-break column
    such as the case id, or the series is not deterministic); `order=None` when the rows are already in time
    order within each unit (sorting once is cheaper than a sort per window). Rows with a null risk or outcome
    carry a null weight and are skipped by the running sums.
    """
    weight = steiner_weight(pl.col(risk), pl.col(outcome), odds_ratio_alternative, odds_ratio_null)
    return cases.with_columns(
        cusum_weight=weight,
        cusum=_over(cusum_path(weight), unit, order),
    )


def vlad(
    cases: FrameT,
    *,
    unit: str | Sequence[str],
    order: str | Sequence[str] | None,
    risk: str,
    outcome: str,
) -> FrameT:
    """Return `cases` with `vlad`, the running sum of (p - y) per unit in `order` (lives gained).

    `order=None`: the rows are already in time order within each unit.
    """
    return cases.with_columns(vlad=_over(vlad_path(pl.col(risk), pl.col(outcome)), unit, order))


def _over(path: pl.Expr, unit: str | Sequence[str], order: str | Sequence[str] | None) -> pl.Expr:
    """The running `path` per unit, in `order`, or in row order when `order` is None."""
    if order is None:
        return path.over(_names(unit))
    return path.over(_names(unit), order_by=_names(order))


def _names(columns: str | Sequence[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)
