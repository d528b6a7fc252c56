"""Confidence intervals for rates and for observed/expected ratios.

Wilson score interval for a proportion, as a scalar function and as polars expressions so a workflow can
compute thousands of units in one lazy plan; exact Poisson interval for an O/E ratio.

The Poisson quantiles come from `scipy.special.gammaincinv`, the inverse of the regularised lower incomplete
gamma function: chi2.ppf(q, 2k) / 2 == gammaincinv(k, q). scipy.special is well kept and exact, and it
takes non-integer k, which the funnel limits need (k = E). scipy is therefore a runtime dependency of this
module; it is imported inside the function that uses it because its import costs ~0.3 s and the CLI must
start fast.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray


def z_for_level(level: float) -> float:
    """Return the two-sided standard normal quantile for a confidence level (0.95 -> 1.959964)."""
    _check_level(level)
    # The stdlib inverse normal (Wichura AS241) is exact to double precision: no scipy needed here.
    return NormalDist().inv_cdf(1 - (1 - level) / 2)


def wilson_interval(events: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Return the (lower, upper) Wilson score interval of the proportion events / n.

    Raises ValueError unless 0 <= events <= n and n > 0: a rate without cases has no interval.
    """
    if n <= 0 or events < 0 or events > n:
        raise ValueError(f"need 0 <= events <= n and n > 0, got events={events}, n={n}")
    z = z_for_level(level)
    p = events / n
    shrink = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / shrink
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / shrink
    # At p = 0 or 1 one bound is 0 or 1 exactly in theory; rounding can step just outside [0, 1].
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_bounds(events: pl.Expr, n: pl.Expr, z: float) -> tuple[pl.Expr, pl.Expr]:
    """Return (lower, upper) expressions of the Wilson score interval of events / n at normal quantile z.

    Null where n is not positive. Counts are not checked: pass events within 0..n.
    """
    n_f = n.cast(pl.Float64)
    p = events.cast(pl.Float64) / n_f
    z2 = z * z
    shrink = 1 + z2 / n_f
    centre = (p + z2 / (2 * n_f)) / shrink
    half = z * (p * (1 - p) / n_f + z2 / (4 * n_f * n_f)).sqrt() / shrink
    has_cases = n_f > 0
    lower = pl.when(has_cases).then((centre - half).clip(0.0, 1.0))
    upper = pl.when(has_cases).then((centre + half).clip(0.0, 1.0))
    return lower, upper


def poisson_ratio_bounds(
    observed: ArrayLike, expected: ArrayLike, level: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return (lower, upper) arrays of the exact Poisson interval of observed / expected, element-wise.

    lower = chi2(a/2; 2O) / 2E, upper = chi2(1 - a/2; 2(O + 1)) / 2E, with lower = 0 when O = 0.
    O need not be an integer: with O = E this gives the funnel limits of an SR around target 1.
    NaN where expected is not positive or observed is negative.
    """
    from scipy.special import gammaincinv  # deferred: the import costs ~0.3 s

    _check_level(level)
    o = np.asarray(observed, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    alpha = 1 - level
    # Dividing by NaN instead of 0 keeps numpy silent (warnings are errors in the test suite).
    e_safe = np.where(e > 0, e, np.nan)
    o_safe = np.where(o >= 0, o, np.nan)
    # Observed counts repeat heavily (a few thousand distinct values among 300k cells at 10M cases) and each
    # gammaincinv costs microseconds: each distinct count is evaluated once, with the same function and input.
    counts, position = np.unique(o_safe, return_inverse=True)
    position = position.reshape(o_safe.shape)
    # gammaincinv(0, q) is undefined; the chi-square with 0 degrees of freedom is a point mass at 0.
    lower_q = np.where(counts > 0, gammaincinv(np.where(counts > 0, counts, 1.0), alpha / 2), 0.0)[position]
    upper_q = gammaincinv(counts + 1, 1 - alpha / 2)[position]
    lower = np.asarray(np.where(np.isnan(o_safe), np.nan, lower_q) / e_safe, dtype=np.float64)
    upper = np.asarray(upper_q / e_safe, dtype=np.float64)
    return lower, upper


def poisson_ratio_interval(observed: float, expected: float, level: float = 0.95) -> tuple[float, float]:
    """Return the (lower, upper) exact Poisson interval of the ratio observed / expected.

    Raises ValueError unless observed >= 0 and expected > 0.
    """
    if observed < 0 or expected <= 0:
        raise ValueError(f"need observed >= 0 and expected > 0, got observed={observed}, expected={expected}")
    lower, upper = poisson_ratio_bounds([observed], [expected], level)
    return float(lower[0]), float(upper[0])


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"a confidence level is strictly between 0 and 1, got {level}")
