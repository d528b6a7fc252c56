"""Funnel plots: control limits and outlier flags per unit, for proportions and O/E ratios.

What is drawn is what is flagged: a unit is flagged exactly when its value lies strictly outside the limit at its
denominator, and the chart's curves come from the same function (`funnel_limits`). No second test overrules the
line. Limits (docs/methods.md, "Funnel plots"), by `method`:
- `exact` (default): Spiegelhalter (2005), appendix A.1.1, the exact limits with interpolation: for the
  p-quantile of the count under the target (Poisson(E) for O/E, Binomial(n, target) for proportions), r_p is the
  smallest r with P(X <= r) >= p, alpha = (P(X <= r_p) - p) / P(X = r_p), and the limit is max(r_p - alpha, 0)
  divided by E (or n). They step at small counts, which is the truth of discrete data: a count of zero at a small
  E is never below the lower line.
- `approximate`: NHS-R FunnelPlotR's continuous limits, for comparison with charts made by it: chi2(a/2; 2E)/2E
  and chi2(1 - a/2; 2(E+1))/2E for O/E; sin^2(asin(sqrt(target)) +/- z / (2 sqrt(n))) for proportions.
- With overdispersion (a positive tau2): SHMI limits exp(+/- z sqrt(1/E + tau2)) for O/E, and
  sin^2(asin(sqrt(target)) +/- z sqrt(1/(4n) + tau2)) for proportions. As FunnelPlotR, when the estimated tau2
  is 0 the limits of `method` are kept.
A unit is never flagged when it has fewer than `min_cases` cases.
"""

from __future__ import annotations

import math
from typing import Final, Literal

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from ector.stats.intervals import poisson_ratio_bounds, z_for_level
from ector.stats.overdispersion import DampingMethod
from ector.stats.overdispersion import overdispersion as estimate_overdispersion

Measure = Literal["proportion", "oe_ratio"]
FunnelMethod = Literal["exact", "approximate"]

HIGH_ALARM: Final = "high_alarm"  # above the outer (99.8%) upper limit
HIGH_ALERT: Final = "high_alert"  # above the inner (95%) upper limit only
AS_EXPECTED: Final = "as_expected"
LOW_ALERT: Final = "low_alert"
LOW_ALARM: Final = "low_alarm"
TOO_FEW_CASES: Final = "too_few_cases"  # listed, never flagged
FLAGS: Final = (HIGH_ALARM, HIGH_ALERT, AS_EXPECTED, LOW_ALERT, LOW_ALARM, TOO_FEW_CASES)

LIMIT_COLUMNS: Final = ("lower_998", "lower_95", "upper_95", "upper_998")
# The shape other tools read from workflow/<view>/funnel.parquet: keep names and order.
FUNNEL_COLUMNS: Final = (
    "unit_id",
    "outcome",
    "measure",
    "denominator",
    "observed",
    "value",
    "target",
    *LIMIT_COLUMNS,
    "flag",
    "phi",
    "tau2",
)


def funnel_table(
    units: pl.DataFrame,
    measure: Measure,
    *,
    min_cases: int,
    method: FunnelMethod = "exact",
    overdispersion: bool = False,
    inner_level: float = 0.95,
    outer_level: float = 0.998,
    trim: float = 0.1,
) -> pl.DataFrame:
    """Return the funnel table, one row per unit and outcome, in `FUNNEL_COLUMNS` order, sorted.

    `units` has one row per unit and outcome: `unit_id`, `outcome`, `cases` (N) and `observed` (events), plus
    `expected` (E) for `oe_ratio`. The denominator is N for `proportion` and E for `oe_ratio`; target, phi and
    tau2 are per outcome, over every unit with a positive denominator (small units too: they carry little
    weight, and docs/methods.md lists them). `phi`/`tau2` are null unless `overdispersion` is on.
    A unit with fewer than `min_cases` cases, or no positive denominator, is flagged `too_few_cases`.
    """
    if method not in ("exact", "approximate"):
        raise ValueError(f"method is 'exact' or 'approximate', got {method!r}")
    if measure not in ("proportion", "oe_ratio"):
        raise ValueError(f"measure is 'proportion' or 'oe_ratio', got {measure!r}")
    if not inner_level < outer_level:
        raise ValueError(f"inner_level {inner_level} must be below outer_level {outer_level}")
    frame = units.lazy()  # in memory already (one row per unit): the lazy API only joins the dispersion in
    needed = ["unit_id", "outcome", "cases", "observed"] + (["expected"] if measure == "oe_ratio" else [])
    missing = [c for c in needed if c not in frame.collect_schema().names()]
    if missing:
        raise ValueError(f"funnel input lacks column(s) {missing}; it needs {needed}")

    scored = _unit_scores(frame, measure)
    if overdispersion:
        damping: DampingMethod = "winsorise" if measure == "proportion" else "truncate"
        dispersion = estimate_overdispersion(
            scored.filter("has_denominator"), by=["outcome"], method=damping, trim=trim
        )
        scored = scored.join(dispersion, on="outcome", how="left")
    else:
        scored = scored.with_columns(phi=pl.lit(None, pl.Float64), tau2=pl.lit(None, pl.Float64))
    table = scored.collect()

    denominator = table["denominator"].fill_null(0.0).to_numpy()
    target = table["target"].fill_null(0.0).to_numpy()
    tau2 = table["tau2"].fill_null(0.0).to_numpy()
    limits: dict[str, NDArray[np.float64]] = {}
    for level, (low_name, high_name) in (
        (inner_level, ("lower_95", "upper_95")),
        (outer_level, ("lower_998", "upper_998")),
    ):
        limits[low_name], limits[high_name] = funnel_limits(measure, method, denominator, target, level, tau2)
    eligible = pl.col("has_denominator") & (pl.col("cases") >= min_cases)
    return (
        table.with_columns(
            # A limit at a zero denominator would be inf or NaN: leave it null.
            **{name: pl.when("has_denominator").then(pl.Series(name, limits[name])) for name in LIMIT_COLUMNS}
        )
        .with_columns(
            measure=pl.lit(measure),
            flag=funnel_flag(pl.col("value"), *(pl.col(c) for c in LIMIT_COLUMNS), eligible=eligible),
        )
        .select(FUNNEL_COLUMNS)
        .sort("outcome", "unit_id")
    )


def funnel_flag(
    value: pl.Expr,
    lower_998: pl.Expr,
    lower_95: pl.Expr,
    upper_95: pl.Expr,
    upper_998: pl.Expr,
    *,
    eligible: pl.Expr,
) -> pl.Expr:
    """Return the flag expression: strictly outside a limit, and `too_few_cases` where not `eligible`."""
    return (
        pl.when(~eligible.fill_null(False))
        .then(pl.lit(TOO_FEW_CASES))
        .when(value > upper_998)
        .then(pl.lit(HIGH_ALARM))
        .when(value > upper_95)
        .then(pl.lit(HIGH_ALERT))
        .when(value < lower_998)
        .then(pl.lit(LOW_ALARM))
        .when(value < lower_95)
        .then(pl.lit(LOW_ALERT))
        .otherwise(pl.lit(AS_EXPECTED))
    )


def funnel_limits(
    measure: Measure,
    method: FunnelMethod,
    denominator: ArrayLike,
    target: ArrayLike,
    level: float,
    tau2: ArrayLike = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the (lower, upper) funnel limits at two-sided coverage `level`, one pair per denominator.

    `denominator` is E for `oe_ratio` (target 1) and the number of cases n for `proportion`. Where `tau2` is
    positive the overdispersed limits replace those of `method`. NaN where the denominator is not positive.
    The flag of a unit and the curve drawn through every denominator of a chart both come from here.
    """
    d = np.asarray(denominator, dtype=np.float64)
    target_, tau2_ = np.broadcast_to(np.asarray(target, np.float64), d.shape), np.asarray(tau2, np.float64)
    z = z_for_level(level)
    with np.errstate(all="ignore"):
        if method == "exact":
            lower, upper = (_exact_limit(measure, d, target_, p) for p in ((1 - level) / 2, 1 - (1 - level) / 2))
        elif measure == "oe_ratio":
            lower, upper = (np.asarray(b, np.float64) for b in poisson_ratio_bounds(d, d, level))
        else:
            lower, upper = _arcsine_limit(target_, d, -z, 0.0), _arcsine_limit(target_, d, z, 0.0)
        adjusted = np.broadcast_to(tau2_ > 0, d.shape)
        if adjusted.any():
            if measure == "oe_ratio":
                spread = np.sqrt(1 / d + tau2_)
                low_od, high_od = np.exp(-z * spread), np.exp(z * spread)
            else:
                low_od, high_od = _arcsine_limit(target_, d, -z, tau2_), _arcsine_limit(target_, d, z, tau2_)
            lower, upper = np.where(adjusted, low_od, lower), np.where(adjusted, high_od, upper)
        positive = d > 0
    return np.where(positive, lower, np.nan), np.where(positive, upper, np.nan)


def _exact_limit(
    measure: Measure, d: NDArray[np.float64], target: NDArray[np.float64], p: float
) -> NDArray[np.float64]:
    """Spiegelhalter's interpolated exact limit at quantile p (see the module docstring)."""
    from scipy import stats  # imported here: scipy costs ~0.3 s and only funnels need it

    positive = d > 0
    if measure == "oe_ratio":
        dist = stats.poisson(np.where(positive, d, 1.0))
    else:
        dist = stats.binom(np.where(positive, np.rint(d), 1).astype(np.int64), np.clip(target, 0.0, 1.0))
    r = dist.ppf(p)
    alpha = (dist.cdf(r) - p) / dist.pmf(r)
    return np.asarray(np.maximum(r - alpha, 0.0) / np.where(positive, d, 1.0), dtype=np.float64)


def _arcsine_limit(
    target: NDArray[np.float64], n: NDArray[np.float64], z: float, tau2: ArrayLike
) -> NDArray[np.float64]:
    """The proportion limit on the arcsine scale at signed normal quantile z (negative for a lower limit).

    The angle is clipped to [0, pi/2] before squaring the sine: past 0 the sine would turn and the lower
    limit would rise again instead of stopping at 0 (likewise past pi/2 at the top).
    """
    angle = np.arcsin(np.sqrt(target)) + z * np.sqrt(1 / (4 * n) + np.asarray(tau2, np.float64))
    return np.asarray(np.sin(np.clip(angle, 0.0, math.pi / 2)) ** 2, dtype=np.float64)


def _unit_scores(frame: pl.LazyFrame, measure: Measure) -> pl.LazyFrame:
    """Return the units with denominator, value, target, z-score and standard error s."""
    denominator = pl.col("cases" if measure == "proportion" else "expected").cast(pl.Float64)
    scored = frame.select(
        "unit_id",
        pl.col("outcome").cast(pl.String),
        "cases",
        pl.col("observed").cast(pl.Int64),
        denominator=denominator,
        has_denominator=(denominator > 0).fill_null(False),
    ).with_columns(
        value=pl.when("has_denominator").then(pl.col("observed") / pl.col("denominator")),
    )
    if measure == "proportion":
        valid = pl.col("has_denominator")
        # Target over the units that have cases: sum(r)/sum(n) per outcome.
        events, n_total = pl.col("observed").filter(valid).sum(), pl.col("denominator").filter(valid).sum()
        theta = (events / n_total).over("outcome")
        scored = scored.with_columns(target=theta.cast(pl.Float64)).with_columns(
            s=1 / (2 * pl.col("denominator").sqrt()),
        )
        return scored.with_columns(
            z=(pl.col("value").sqrt().arcsin() - pl.col("target").sqrt().arcsin()) / pl.col("s"),
        )
    # SHMI: z = sqrt(E) ln(O/E); O = 0 gives -inf, which the truncation handles.
    return scored.with_columns(
        target=pl.lit(1.0),
        s=1 / pl.col("denominator").sqrt(),
        z=pl.col("denominator").sqrt() * pl.col("value").log(),
    )
