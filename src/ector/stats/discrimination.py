"""Discrimination of a risk model: the c-statistic (area under the ROC curve) with its DeLong interval.

Computed from grouped counts (events and non-events per distinct predicted risk), so a model fitted on
covariate patterns is assessed on the patterns, not on millions of cases. The c-statistic is the Mann-Whitney
form: over every (event, non-event) pair, the share where the event has the higher risk, ties counting 1/2,
i.e. U / (n1 · n0).

DeLong, DeLong & Clarke-Pearson (1988): each event's placement V10 is the share of non-events it outranks (ties
1/2), each non-event's V01 the share of events that outrank it; var(c) = S10/n1 + S01/n0 with S10, S01 the
sample variances of the placements. Cases with the same risk share their placement, so the sums run over groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ector.stats.logistic import Z95


@dataclass(frozen=True)
class CStatistic:
    """The c-statistic, its standard error and its interval (clipped to [0, 1])."""

    value: float
    std_error: float
    lower: float
    upper: float


def grouped_by_risk(
    risk: npt.ArrayLike, events: npt.ArrayLike, cases: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return the distinct risks in ascending order with the events and non-events of each, summed over groups."""
    risk_ = np.asarray(risk, dtype=np.float64)
    events_ = np.asarray(events, dtype=np.float64)
    cases_ = np.asarray(cases, dtype=np.float64)
    distinct, inverse = np.unique(risk_, return_inverse=True)
    e = np.bincount(inverse, weights=events_, minlength=len(distinct)).astype(np.float64)
    n = np.bincount(inverse, weights=cases_ - events_, minlength=len(distinct)).astype(np.float64)
    return distinct, e, n


def c_statistic(risk: npt.ArrayLike, events: npt.ArrayLike, cases: npt.ArrayLike, z: float = Z95) -> CStatistic:
    """Return the c-statistic of `risk` for `events` out of `cases` per group, with its DeLong interval.

    NaN throughout without an event or without a non-event; the interval is NaN with a single one of either.
    """
    _, e, n = grouped_by_risk(risk, events, cases)
    n1, n0 = e.sum(), n.sum()
    if n1 == 0 or n0 == 0:
        return CStatistic(np.nan, np.nan, np.nan, np.nan)
    below = np.cumsum(n) - n  # non-events with a lower risk
    above = n1 - np.cumsum(e)  # events with a higher risk
    v10 = (below + n / 2) / n0
    v01 = (above + e / 2) / n1
    value = float((e * v10).sum() / n1)
    if n1 < 2 or n0 < 2:
        return CStatistic(value, np.nan, np.nan, np.nan)
    s10 = (e * (v10 - value) ** 2).sum() / (n1 - 1)
    s01 = (n * (v01 - value) ** 2).sum() / (n0 - 1)
    se = float(np.sqrt(s10 / n1 + s01 / n0))
    return CStatistic(value, se, max(0.0, value - z * se), min(1.0, value + z * se))
