"""The decision limit h of a risk-adjusted CUSUM, chosen for an in-control false-signal probability.

A chart X_t = max(0, X_{t-1} + W_t) signals when X_t > h. In control (each case's outcome drawn with its own
predicted risk p) the probability that a chart signals within its first n cases falls as h rises; h is the
value at which it equals the stated false-signal probability (say 1% over 1,000 cases).

The weights of a case are W = ln(R_A)·y - ln(1 + (R_A - 1)·p) (R0 = 1, `stats.cusum.steiner_weight`), so the
in-control increments are known from the case mix alone: a risk mix is the monitored cases' risks grouped
(`risk_mix`), each group with its mean risk and its share of cases.

Two ways to the signal probability, checked against each other in the tests:
- `markov_signal_probability`: Brook & Evans (1972). The chart's range [0, h] becomes states 0, Δ, 2Δ, ..., h
  (Δ = h / states); a step lands between two grid points and its mass is split between them in proportion
  to the distance (so the mean step is kept exactly, however small against Δ: a case of risk 0.5% moves the
  chart down by 0.005 only); below 0 it lands on 0, above h it is absorbed (a signal). The probability of a
  signal within n cases is the mass absorbed after n steps from state 0.
- `simulated_signal_probability`: seeded Monte Carlo runs of the chart itself, on continuous values.
"""

from __future__ import annotations

import math
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl

STATES: Final = 200  # intervals of [0, h] in the finer grid: within 2% of a 3,000-interval grid (tests)
TOLERANCE: Final = 1e-4  # h is found to this absolute precision


class RiskMix(NamedTuple):
    """Risk groups of the monitored cases: each group's mean risk and its share of the cases."""

    risk: npt.NDArray[np.float64]
    share: npt.NDArray[np.float64]


def risk_mix_plan(cases: pl.LazyFrame, risk: str, *, step: float = 0.02) -> pl.LazyFrame:
    """Return the plan of `risk, cases`: the cases' risks grouped by ln(risk) rounded to `step` (2% apart), each
    group with its mean risk and its number of cases, sorted by risk. Null risks are left out."""
    p = pl.col(risk).cast(pl.Float64).clip(1e-12, 1.0 - 1e-12)
    return (
        cases.select(p.alias("risk"))
        .drop_nulls()
        .group_by((pl.col("risk").log() / step).round(0).alias("__g"))
        .agg(pl.col("risk").mean(), pl.len().alias("cases"))
        .select("risk", pl.col("cases").cast(pl.Int64))
        .sort("risk")
    )


def as_mix(groups: pl.DataFrame) -> RiskMix:
    """Return the RiskMix of a `risk_mix_plan` result (merged over parts by adding cases per risk first)."""
    cases = groups["cases"].to_numpy().astype(np.float64)
    if cases.sum() <= 0:
        raise ValueError("no monitored case has a risk: the risk mix is empty")
    return RiskMix(groups["risk"].to_numpy().astype(np.float64), cases / cases.sum())


def increments(mix: RiskMix, odds_ratio: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return the in-control steps of the chart for `odds_ratio` (R_A, with R0 = 1) and their probabilities:
    per risk group, W for y = 0 with probability (1 - p)·share and W for y = 1 with probability p·share."""
    base = -np.log1p((odds_ratio - 1.0) * mix.risk)
    steps = np.concatenate([base, base + math.log(odds_ratio)])
    probabilities = np.concatenate([(1.0 - mix.risk) * mix.share, mix.risk * mix.share])
    return steps, probabilities


def markov_signal_probability(h: float, mix: RiskMix, odds_ratio: float, horizon: int, states: int = STATES) -> float:
    """Return the probability that the in-control chart for `odds_ratio` signals (X > h) within `horizon` cases,
    by the Markov-chain approximation: on grids of `states` / 2 and `states` intervals of [0, h], extrapolated to
    a fine grid (Richardson: the error falls with the square of the grid's step, (4 P(2m) - P(m)) / 3)."""
    if h <= 0:
        return 1.0
    coarse = _grid_signal_probability(h, mix, odds_ratio, horizon, states // 2)
    fine = _grid_signal_probability(h, mix, odds_ratio, horizon, states)
    return float(min(max((4.0 * fine - coarse) / 3.0, 0.0), 1.0))


def _grid_signal_probability(h: float, mix: RiskMix, odds_ratio: float, horizon: int, states: int) -> float:
    """The Markov chain on the grid 0, Δ, ..., h (Δ = h / states): the mass absorbed within `horizon` steps."""
    steps, probabilities = increments(mix, odds_ratio)
    size = states + 1
    delta = h / states
    landing = (np.arange(size) * delta)[:, None] + steps[None, :]  # from every grid point, every step
    kept = landing <= h  # above h: absorbed, a signal
    position = np.clip(landing, 0.0, None)[kept] / delta  # below 0: the chart stays at 0
    lower = np.minimum(np.floor(position).astype(np.int64), states)
    upper_share = position - lower
    mass = np.broadcast_to(probabilities, landing.shape)[kept]
    row = np.broadcast_to(np.arange(size)[:, None], landing.shape)[kept] * size
    matrix = (
        np.bincount(row + lower, weights=mass * (1.0 - upper_share), minlength=size * size)
        + np.bincount(row + np.minimum(lower + 1, states), weights=mass * upper_share, minlength=size * size)
    ).reshape(size, size)
    # From state 0, step by step: a vector times the matrix stays on one thread in the BLAS, where the matrix
    # powers' products (threaded) were 20 to 40 times slower beside another busy process.
    mass_at = np.zeros(size)
    mass_at[0] = 1.0
    for _ in range(horizon):
        mass_at = mass_at @ matrix
    return float(1.0 - mass_at.sum())


def simulated_signal_probability(
    h: float, mix: RiskMix, odds_ratio: float, horizon: int, *, runs: int = 20_000, seed: int = 0
) -> float:
    """Return the share of `runs` seeded in-control charts for `odds_ratio` that signal (X > h) within `horizon`
    cases: each case's risk drawn from the mix, its outcome drawn with that risk."""
    rng = np.random.default_rng(seed)
    chart = np.zeros(runs)
    signalled = np.zeros(runs, dtype=bool)
    for _ in range(horizon):
        risk = mix.risk[rng.choice(len(mix.risk), size=runs, p=mix.share)]
        event = rng.random(runs) < risk
        chart = np.maximum(0.0, chart + event * math.log(odds_ratio) - np.log1p((odds_ratio - 1.0) * risk))
        signalled |= chart > h
    return float(signalled.mean())


def decision_limit(
    mix: RiskMix, odds_ratio: float, false_signal_probability: float, horizon: int, states: int = STATES
) -> float:
    """Return h such that the in-control chart for `odds_ratio` signals within `horizon` cases with probability
    `false_signal_probability`, by the Markov chain.

    The probability falls about exponentially in h, so the root is sought on its logarithm: bracketed by
    doubling, then narrowed by regula falsi (Illinois) to TOLERANCE; the upper end is returned, so the
    probability is at most the one asked for.
    """
    if not 0 < false_signal_probability < 1:
        raise ValueError(f"a false-signal probability is strictly between 0 and 1, got {false_signal_probability}")
    target = math.log(false_signal_probability)

    def excess(h: float) -> float:  # > 0: h signals too often
        return math.log(max(markov_signal_probability(h, mix, odds_ratio, horizon, states), 1e-300)) - target

    low, high = 0.0, 1.0
    f_low, f_high = -target, excess(high)  # at h = 0 every chart signals at its first step up: P = 1
    while f_high > 0:
        low, f_low, high = high, f_high, 2.0 * high
        if high > 1e4:  # a chart that can hardly come down (risks near 1): no useful limit
            raise ValueError("no decision limit below 10,000 gives that false-signal probability")
        f_high = excess(high)
    side = 0
    while high - low > TOLERANCE:
        middle = (low * f_high - high * f_low) / (f_high - f_low)
        middle = min(max(middle, low + TOLERANCE / 4), high - TOLERANCE / 4)
        f_middle = excess(middle)
        if f_middle > 0:
            low, f_low = middle, f_middle
            f_high, side = (f_high / 2, side) if side == 1 else (f_high, 1)
        else:
            high, f_high = middle, f_middle
            f_low, side = (f_low / 2, side) if side == -1 else (f_low, -1)
        if abs(f_middle) < 1e-4:  # within 0.01% of the probability asked for
            high = middle
            break
    return round(math.ceil(round(high / TOLERANCE, 6)) * TOLERANCE, 4)
