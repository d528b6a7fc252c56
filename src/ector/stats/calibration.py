"""Calibration of a risk model on grouped counts: logistic recalibration, Brier score, tenths of predicted risk.

Logistic recalibration (Cox 1958): the outcome regressed on the model's log-odds lp. The **slope** is b of
logit P(y) = a + b·lp (1 when the risks are neither too extreme nor too modest); the **intercept** is a of
logit P(y) = a + lp, lp as an offset (calibration-in-the-large: 0 when as many events are predicted as occur).
On its own training data a maximum-likelihood logistic model with an intercept has slope 1 and intercept 0
exactly: its score equations say Σ(y - p) = 0 and Σ(y - p)·lp = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ector.stats.logistic import binomial_glm

RISK_FLOOR = 1e-12  # a supplied risk of exactly 0 or 1 has infinite log-odds: it is held this far inside


@dataclass(frozen=True)
class Calibration:
    """Calibration intercept (in the large) and slope, and the Brier score."""

    intercept: float
    slope: float
    brier: float


def calibration(risk: npt.ArrayLike, events: npt.ArrayLike, cases: npt.ArrayLike) -> Calibration:
    """Return the calibration of `risk` for `events` out of `cases` per group (groups without cases left out).

    NaN intercept and slope without an event or without a non-event (the recalibration has no finite fit); NaN
    slope when every group has the same risk (nothing to regress on).
    """
    p, e, c = _arrays(risk, events, cases)
    brier = float(((e * (1 - p) ** 2 + (c - e) * p**2).sum()) / c.sum()) if c.sum() > 0 else np.nan
    if e.sum() == 0 or e.sum() == c.sum():
        return Calibration(np.nan, np.nan, brier)
    clipped = np.clip(p, RISK_FLOOR, 1 - RISK_FLOOR)
    lp = np.log(clipped / (1 - clipped))
    in_the_large = binomial_glm(e, c, np.ones((len(p), 1)), offset=lp)
    intercept = float(in_the_large.coefficients[0]) if in_the_large.converged else np.nan
    if np.ptp(lp) == 0:
        return Calibration(intercept, np.nan, brier)
    slope = binomial_glm(e, c, np.column_stack([np.ones(len(p)), lp]))
    return Calibration(intercept, float(slope.coefficients[1]) if slope.converged else np.nan, brier)


def by_tenth(risk: npt.ArrayLike, events: npt.ArrayLike, cases: npt.ArrayLike) -> dict[str, npt.NDArray[np.float64]]:
    """Return observed against expected by tenth of predicted risk: `tenth` (1-10), `cases`, `events`,
    `observed` (events / cases) and `expected` (mean predicted risk), one entry per tenth that has cases.

    Groups are ranked by risk and each goes whole to the tenth holding the middle of its cases in the cumulative
    count, so cases of equal risk are never split and a large group may leave a tenth empty.
    """
    p, e, c = _arrays(risk, events, cases)
    order = np.argsort(p, kind="stable")
    p, e, c = p[order], e[order], c[order]
    total = c.sum()
    middle = np.cumsum(c) - c / 2
    tenth = np.minimum(np.floor(10 * middle / total), 9).astype(np.int64) + 1 if total > 0 else np.zeros(0, np.int64)
    cases_ = np.bincount(tenth, weights=c, minlength=11)[1:].astype(np.float64)
    events_ = np.bincount(tenth, weights=e, minlength=11)[1:].astype(np.float64)
    expected = np.bincount(tenth, weights=c * p, minlength=11)[1:].astype(np.float64)
    has = cases_ > 0
    return {
        "tenth": np.arange(1, 11)[has].astype(np.float64),
        "cases": cases_[has],
        "events": events_[has],
        "observed": events_[has] / cases_[has],
        "expected": expected[has] / cases_[has],
    }


def _arrays(
    risk: npt.ArrayLike, events: npt.ArrayLike, cases: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    p = np.asarray(risk, dtype=np.float64)
    e = np.asarray(events, dtype=np.float64)
    c = np.asarray(cases, dtype=np.float64)
    keep = (c > 0) & np.isfinite(p)
    return p[keep], e[keep], c[keep]
