"""Overdispersion of a funnel: the dispersion ratio phi and the between-unit variance tau2.

Spiegelhalter (2005, 2012) additive random-effects method as implemented in NHS-R FunnelPlotR, so the figures
agree with it: the unit z-scores are first damped so that real outliers do not inflate the limits meant to
find them, phi = mean(z^2) over the n units kept, and
tau2 = max(0, (n*phi - (n - 1)) / (sum(w) - sum(w^2) / sum(w))) with w = 1/s^2, tau2 = 0 when n*phi < n - 1.

Damping:
- `winsorise` (proportions): z is clipped to its 10% and 90% quantiles (linear interpolation, R's default
  type 7, as FunnelPlotR); every unit is kept.
- `truncate` (SHMI, NHS Digital): units ranked by z (ties averaged) fall into bands
  floor(rank * k / (n + 1)) with k = 1 / trim; the lowest and highest bands are dropped. With trim = 0.1
  that drops the top and bottom 10%.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

DampingMethod = Literal["winsorise", "truncate"]


def overdispersion(
    units: pl.LazyFrame,
    *,
    by: Sequence[str],
    method: DampingMethod,
    z: str = "z",
    s: str = "s",
    trim: float = 0.1,
) -> pl.LazyFrame:
    """Return one row per group of `by` with `phi` and `tau2` estimated from the unit z-scores and s.e.

    `units` holds one row per unit with its z-score and within-unit standard error s (s > 0). phi is null
    when no unit is kept; tau2 is 0 when fewer than two units are kept (no between-unit spread to estimate).
    For `truncate`, a z of -inf (SHMI unit with O = 0) ranks lowest and is dropped first; one that survives
    the truncation is left out of phi, which it would make infinite.
    """
    if not 0 < trim < 0.5:
        raise ValueError(f"trim is the share damped at each end, strictly between 0 and 0.5, got {trim}")
    z_col = pl.col(z).cast(pl.Float64)
    weight = 1 / pl.col(s).cast(pl.Float64).pow(2)
    if method == "winsorise":
        kept_z = z_col.clip(z_col.quantile(trim, "linear"), z_col.quantile(1 - trim, "linear"))
        kept_w = weight
    elif method == "truncate":
        keep = _truncation_keeps(z_col, trim)
        kept_z = z_col.filter(keep)
        kept_w = weight.filter(keep)
    else:
        raise ValueError(f"unknown damping method {method!r}")
    sums = units.group_by(list(by)).agg(
        n=kept_z.count().cast(pl.Float64),
        phi=kept_z.pow(2).mean(),
        sum_w=kept_w.sum(),
        sum_w2=kept_w.pow(2).sum(),
    )
    return sums.select(
        *by,
        "phi",
        tau2=between_unit_variance(pl.col("n"), pl.col("phi"), pl.col("sum_w"), pl.col("sum_w2")),
    )


def between_unit_variance(n: pl.Expr, phi: pl.Expr, sum_w: pl.Expr, sum_w2: pl.Expr) -> pl.Expr:
    """Return the DerSimonian-Laird tau2 expression from n units kept, phi, sum(w) and sum(w^2)."""
    excess = n * phi - (n - 1)
    # sum(w) - sum(w^2)/sum(w) is 0 for a single unit: guard before dividing.
    tau2 = (excess / (sum_w - sum_w2 / sum_w)).clip(lower_bound=0.0)
    return (
        pl.when(phi.is_null())
        .then(None)
        .when(n < 2)
        .then(0.0)
        .when(excess < 0)  # n*phi < n - 1: no overdispersion
        .then(0.0)
        .otherwise(tau2)
    )


def _truncation_keeps(z: pl.Expr, trim: float) -> pl.Expr:
    """Return a boolean expression (group context) true for the units SHMI truncation keeps."""
    bands = round(1 / trim)
    if abs(bands - 1 / trim) > 1e-9:
        # The band rule needs a whole number of bands, as NHS Digital's and FunnelPlotR's.
        raise ValueError(f"truncation needs 1/trim to be a whole number, got trim={trim}")
    # rank * k and n + 1 are exact in floating point, so an integer quotient floors exactly.
    band = (z.rank("average") * bands / (z.count() + 1)).floor()
    return (band >= 1) & (band <= bands - 2) & z.is_finite()
