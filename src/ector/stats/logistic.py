"""Logistic regression of a binary outcome on categorical factors, fitted on covariate patterns.

With categorical factors only, every case of a covariate pattern (one combination of factor levels) has the same
design row, so the binomial likelihood of the cases is that of the patterns' (events, cases) counts: fitting a
few thousand pattern rows gives the coefficients, standard errors and fitted risks of fitting millions of cases.
The fit is iteratively reweighted least squares (`binomial_glm`), checked against statsmodels in the tests.

Design: treatment (dummy) coding, the reference level of each factor being its most common level (most cases,
then the first in sort order); a missing value is a level of its own, `unknown`. A level whose cases have no
event, or no non-event, has no finite coefficient (the likelihood grows without bound as it tends to -inf or
+inf): it is pooled with the reference level and reported as pooled. A level whose indicator is a linear
combination of the columns before it (the cases with no patient record have both sex and age band unknown) is
aliased: it has no column, its effect being carried by the column it is aliased with, so the fitted risks are
those of the full design.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Levels = Mapping[str, npt.ArrayLike]  # factor -> its level (text) in each pattern
UNKNOWN: Final = "unknown"  # the level of a missing factor value
INTERCEPT: Final = "(intercept)"
Z95: Final = 1.959963984540054


@dataclass(frozen=True)
class Factor:
    """One factor of the design: its reference level, the levels with a coefficient, and those pooled."""

    name: str
    reference: str
    levels: tuple[str, ...]  # each has its own column in the design, in this order
    pooled: tuple[str, ...] = ()  # no event or no non-event: counted as the reference level
    aliased: tuple[str, ...] = ()  # its indicator is a combination of earlier columns: not estimable

    def term(self, level: str) -> str:
        """The name of a level's term: `asa_class=3`."""
        return f"{self.name}={level}"


@dataclass(frozen=True)
class LogisticFit:
    """A fitted model: its factors, coefficients (intercept first, then each factor's levels) and standard errors."""

    factors: tuple[Factor, ...]
    coefficients: FloatArray
    std_errors: FloatArray
    converged: bool

    @property
    def terms(self) -> list[str]:
        """The term of each coefficient, in order: `(intercept)`, then `factor=level`."""
        return [INTERCEPT, *(f.term(level) for f in self.factors for level in f.levels)]

    @property
    def parameters(self) -> int:
        """The number of coefficients, intercept included."""
        return len(self.coefficients)

    def odds_ratios(self, z: float = Z95) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return exp(coefficient) and its Wald interval exp(coefficient ± z·se), per term."""
        b, se = self.coefficients, self.std_errors
        return np.exp(b), np.exp(b - z * se), np.exp(b + z * se)

    def linear_predictor(self, levels: Levels, rows: int) -> FloatArray:
        """Return the log-odds of `rows` patterns of `levels` (factor -> level per pattern; NaN at an unseen level)."""
        return linear_predictor(self, levels, rows)


def design_factors(levels: Levels, events: FloatArray, cases: FloatArray) -> tuple[Factor, ...]:
    """Return the factors of a design on the patterns with cases: reference, levels with a coefficient, pooled
    and aliased levels."""
    factors = []
    has_cases = cases > 0
    for name, values in levels.items():
        column = np.asarray(values, dtype=object)[has_cases]
        names, inverse = np.unique(column.astype(str), return_inverse=True)
        if not len(names):
            factors.append(Factor(name, UNKNOWN, ()))
            continue
        level_cases = np.bincount(inverse, weights=cases[has_cases], minlength=len(names))
        level_events = np.bincount(inverse, weights=events[has_cases], minlength=len(names))
        reference = str(names[np.argmax(level_cases)])  # the first most common level, in sort order
        degenerate = (level_events == 0) | (level_events == level_cases)
        kept = tuple(str(n) for n, d in zip(names, degenerate, strict=True) if not d and n != reference)
        pooled = tuple(str(n) for n, d in zip(names, degenerate, strict=True) if d and n != reference)
        factors.append(Factor(name, reference, kept, pooled))
    chosen = {n: np.asarray(v, dtype=object)[has_cases] for n, v in levels.items()}
    return _without_aliased(tuple(factors), chosen, int(has_cases.sum()))


def _without_aliased(factors: tuple[Factor, ...], levels: Levels, rows: int) -> tuple[Factor, ...]:
    """Return `factors` with each level whose indicator adds nothing to the rank of the columns before it moved
    from `levels` to `aliased` (columns taken in design order, the intercept first); `rows` patterns."""
    design = design_matrix(factors, levels, rows)
    # The rank of X is that of its small Gram matrix X^T X (columns x columns): cheap at any number of patterns.
    gram = design.T @ design
    if rows == 0 or np.linalg.matrix_rank(gram) == design.shape[1]:
        return factors
    kept_columns = [0]
    index = 1
    result = []
    for factor in factors:
        kept, aliased = [], []
        for level in factor.levels:
            trial = [*kept_columns, index]
            if np.linalg.matrix_rank(gram[np.ix_(trial, trial)]) > len(kept_columns):
                kept_columns.append(index)
                kept.append(level)
            else:
                aliased.append(level)
            index += 1
        result.append(Factor(factor.name, factor.reference, tuple(kept), factor.pooled, tuple(aliased)))
    return tuple(result)


def design_matrix(factors: Sequence[Factor], levels: Levels, rows: int) -> FloatArray:
    """Return the design (intercept, then one indicator per factor level with a coefficient) of `rows` patterns.

    A row whose level of some factor is neither the reference, nor pooled, nor a coefficient's gets NaN.
    """
    columns: list[FloatArray] = [np.ones(rows)]
    unseen = np.zeros(rows, dtype=bool)
    for factor in factors:
        values = np.asarray(levels[factor.name], dtype=object).astype(str)
        for level in factor.levels:
            columns.append((values == level).astype(np.float64))
        unseen |= ~np.isin(values, [factor.reference, *factor.levels, *factor.pooled, *factor.aliased])
    design = np.column_stack(columns)
    design[unseen] = np.nan
    return design


def parameter_count(factors: Sequence[Factor]) -> int:
    """Return the coefficients of a design of `factors`: the intercept and one per level with a coefficient."""
    return 1 + sum(len(f.levels) for f in factors)


def fit_patterns(
    levels: Levels,
    events: npt.ArrayLike,
    cases: npt.ArrayLike,
    factors: Sequence[Factor] | None = None,
) -> LogisticFit:
    """Return the binomial GLM (logit link) of `events` out of `cases` per pattern on the factors' `levels`.

    Patterns without cases are left out of the fit. `factors` defaults to `design_factors` of the patterns.
    """
    events_ = np.asarray(events, dtype=np.float64)
    cases_ = np.asarray(cases, dtype=np.float64)
    factors = tuple(factors) if factors is not None else design_factors(levels, events_, cases_)
    used = cases_ > 0
    chosen = {name: np.asarray(v, dtype=object)[used] for name, v in levels.items()}
    design = design_matrix(factors, chosen, int(used.sum()))
    fit = binomial_glm(events_[used], cases_[used], design)
    return LogisticFit(factors, fit.coefficients, fit.std_errors, fit.converged)


@dataclass(frozen=True)
class GlmFit:
    """A binomial GLM's coefficients, their standard errors (from the inverse information), and convergence."""

    coefficients: FloatArray
    std_errors: FloatArray
    converged: bool


def binomial_glm(
    events: FloatArray, cases: FloatArray, design: FloatArray, offset: FloatArray | None = None, *, maxiter: int = 100
) -> GlmFit:
    """Return the maximum-likelihood binomial GLM (logit link) of `events` out of `cases` per row of `design`.

    Iteratively reweighted least squares (Fisher scoring, Newton's method for the canonical link), started as
    statsmodels starts it (mu = (y + 1/2) / (n + 1)); converged when no coefficient moves by more than 1e-10
    (relative), which Newton's quadratic convergence reaches a step or two after the deviance settles. Written
    here rather than imported: importing statsmodels (pandas, scipy.stats, patsy) took 2.1 s of a 1M-case
    transform of 8 s. The tests compare the two, fitted case by case, to 1e-6.
    """
    offset_ = np.zeros(len(events)) if offset is None else np.asarray(offset, dtype=np.float64)
    tiny = np.finfo(np.float64).eps
    mu = (events + 0.5) / (cases + 1.0)
    eta = np.log(mu / (1.0 - mu))
    coefficients = np.zeros(design.shape[1])
    converged = False
    # A diverging fit overflows exp on its way to not converging; a pattern at mu = 0 or 1 has no weight.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(maxiter):
            weight = cases * mu * (1.0 - mu)
            working = eta - offset_ + (events - cases * mu) / weight
            root = np.sqrt(weight)
            step, *_ = np.linalg.lstsq(design * root[:, None], working * root, rcond=None)
            if not np.all(np.isfinite(step)):
                break
            moved = float(np.max(np.abs(step - coefficients) / (1.0 + np.abs(step)), initial=0.0))
            coefficients = np.asarray(step, dtype=np.float64)
            eta = design @ coefficients + offset_
            mu = np.clip(expit(eta), tiny, 1.0 - tiny)
            if moved < 1e-10:
                converged = True
                break
        weight = cases * mu * (1.0 - mu)
        covariance = np.linalg.pinv(design.T @ (design * weight[:, None]))
    return GlmFit(coefficients, np.sqrt(np.clip(np.diag(covariance), 0.0, None)), converged)


def linear_predictor(fit: LogisticFit, levels: Levels, rows: int) -> FloatArray:
    """Return the log-odds of `rows` patterns of `levels` under `fit` (NaN where a level is unknown to the fit)."""
    design = design_matrix(fit.factors, levels, rows)
    return np.asarray(design @ fit.coefficients, dtype=np.float64)


def expit(x: FloatArray) -> FloatArray:
    """Return the logistic function of `x`, 1 / (1 + exp(-x)), without overflow."""
    from scipy.special import expit as _expit

    return np.asarray(_expit(x), dtype=np.float64)
