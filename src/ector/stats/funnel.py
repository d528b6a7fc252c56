"""Funnel plots: control limits and outlier flags per unit, for proportions and O/E ratios.

Spiegelhalter (2005) as implemented by NHS-R FunnelPlotR (docs/methods.md, "Funnel plots"):
- proportion: target theta = sum(r)/sum(n); arcsine scale y = asin(sqrt(r/n)), s = 1/(2 sqrt(n));
  limits sin^2(asin(sqrt(theta)) +/- z sqrt(s^2 + tau2)), clipped to [0, 1].
- oe_ratio without overdispersion: exact Poisson limits around 1,
  chi2(a/2; 2E)/2E and chi2(1 - a/2; 2(E+1))/2E.
- oe_ratio with overdispersion (SHMI): y = ln(O/E), s = 1/sqrt(E), limits exp(+/- z sqrt(1/E + tau2)).
  As FunnelPlotR, when the estimated tau2 is 0 the exact Poisson limits are kept.
A unit is flagged only when strictly outside a limit, and never when it has fewer than `min_cases` cases.

Counts are discrete and the limits continuous: at a small denominator a unit with no event at all lies below any
positive lower limit although zero events is a likely outcome (37% at E = 1). So a flag also needs the exact tail
probability of a count at least as extreme (Poisson for O/E, binomial at the target for proportions) to be below
that limit's alpha/2; well away from zero counts the two tests agree.
"""

from __future__ import annotations

import math
from typing import Final, Literal

import numpy as np
import polars as pl

from ector.stats.intervals import poisson_ratio_bounds, z_for_level
from ector.stats.overdispersion import DampingMethod
from ector.stats.overdispersion import overdispersion as estimate_overdispersion

Measure = Literal["proportion", "oe_ratio"]

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

    z_inner, z_outer = z_for_level(inner_level), z_for_level(outer_level)
    limits = (
        _proportion_limits(z_inner, z_outer)
        if measure == "proportion"
        else _ratio_limits(table["denominator"], inner_level, outer_level, z_inner, z_outer)
    )
    eligible = pl.col("has_denominator") & (pl.col("cases") >= min_cases)
    low_tail, high_tail = _exact_tails(table, measure)
    return (
        table.with_columns(
            # A limit at a zero denominator would be inf or NaN: leave it null.
            **{name: pl.when("has_denominator").then(expr) for name, expr in limits.items()}
        )
        .with_columns(low_tail=low_tail, high_tail=high_tail)
        .with_columns(
            measure=pl.lit(measure),
            flag=funnel_flag(
                pl.col("value"),
                *(pl.col(c) for c in LIMIT_COLUMNS),
                eligible=eligible,
                low_tail=pl.col("low_tail"),
                high_tail=pl.col("high_tail"),
                inner_alpha=(1 - inner_level) / 2,
                outer_alpha=(1 - outer_level) / 2,
            ),
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
    low_tail: pl.Expr | None = None,
    high_tail: pl.Expr | None = None,
    inner_alpha: float = 0.025,
    outer_alpha: float = 0.001,
) -> pl.Expr:
    """Return the flag expression: strictly outside a limit, and `too_few_cases` where not `eligible`.

    With `low_tail`/`high_tail` (exact P(count <= observed) and P(count >= observed)), a flag also needs that
    probability below the limit's alpha (one side of the two-sided level), so a zero count at a tiny
    denominator is not an alarm.
    """
    low = pl.lit(0.0) if low_tail is None else low_tail.fill_null(0.0)
    high = pl.lit(0.0) if high_tail is None else high_tail.fill_null(0.0)
    return (
        pl.when(~eligible.fill_null(False))
        .then(pl.lit(TOO_FEW_CASES))
        .when((value > upper_998) & (high < outer_alpha))
        .then(pl.lit(HIGH_ALARM))
        .when((value > upper_95) & (high < inner_alpha))
        .then(pl.lit(HIGH_ALERT))
        .when((value < lower_998) & (low < outer_alpha))
        .then(pl.lit(LOW_ALARM))
        .when((value < lower_95) & (low < inner_alpha))
        .then(pl.lit(LOW_ALERT))
        .otherwise(pl.lit(AS_EXPECTED))
    )


def _exact_tails(table: pl.DataFrame, measure: Measure) -> tuple[pl.Series, pl.Series]:
    """Return P(X <= O) and P(X >= O) per unit: Poisson(E) for O/E, Binomial(N, target) for proportions."""
    from scipy import special  # imported here: scipy costs ~0.3 s and only funnels need it

    observed = table["observed"].fill_null(0).to_numpy().astype("float64")
    denominator = table["denominator"].fill_null(0.0).to_numpy()
    with np.errstate(all="ignore"):
        if measure == "oe_ratio":
            low = special.pdtr(observed, denominator)
            high = np.where(observed > 0, special.pdtrc(observed - 1, denominator), 1.0)
        else:
            target = table["target"].fill_null(0.0).to_numpy()
            events, cases = observed.astype("int64"), denominator.astype("int64")  # scipy wants whole counts
            low = special.bdtr(events, cases, target)
            high = np.where(events > 0, special.bdtrc(np.maximum(events - 1, 0), cases, target), 1.0)
    return pl.Series("low_tail", low, dtype=pl.Float64), pl.Series("high_tail", high, dtype=pl.Float64)


def proportion_limit(target: pl.Expr, n: pl.Expr, z: float, tau2: pl.Expr | float = 0.0) -> pl.Expr:
    """Return the proportion funnel limit at signed normal quantile z (negative for a lower limit).

    The angle is clipped to [0, pi/2] before squaring the sine: past 0 the sine would turn and the lower
    limit would rise again instead of stopping at 0 (likewise past pi/2 at the top).
    """
    spread = (1 / (4 * n.cast(pl.Float64)) + tau2).sqrt()
    angle = target.sqrt().arcsin() + z * spread
    return angle.clip(0.0, math.pi / 2).sin().pow(2)


def log_ratio_limit(expected: pl.Expr, z: float, tau2: pl.Expr | float = 0.0) -> pl.Expr:
    """Return the SHMI (log-scale, overdispersed) O/E funnel limit at signed normal quantile z."""
    return (z * (1 / expected.cast(pl.Float64) + tau2).sqrt()).exp()


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


def _proportion_limits(z_inner: float, z_outer: float) -> dict[str, pl.Expr]:
    tau2 = pl.col("tau2").fill_null(0.0)
    target, n = pl.col("target"), pl.col("denominator")
    return {
        "lower_998": proportion_limit(target, n, -z_outer, tau2),
        "lower_95": proportion_limit(target, n, -z_inner, tau2),
        "upper_95": proportion_limit(target, n, z_inner, tau2),
        "upper_998": proportion_limit(target, n, z_outer, tau2),
    }


def _ratio_limits(
    expected: pl.Series, inner_level: float, outer_level: float, z_inner: float, z_outer: float
) -> dict[str, pl.Expr]:
    # Exact Poisson limits need a chi-square quantile per unit: computed on the collected, one-row-per-unit
    # frame with a vectorised scipy.special call (O = E in the O/E interval gives the limits around 1).
    e = expected.to_numpy()
    lower_95, upper_95 = poisson_ratio_bounds(e, e, inner_level)
    lower_998, upper_998 = poisson_ratio_bounds(e, e, outer_level)
    exact = {"lower_998": lower_998, "lower_95": lower_95, "upper_95": upper_95, "upper_998": upper_998}
    signed_z = {"lower_998": -z_outer, "lower_95": -z_inner, "upper_95": z_inner, "upper_998": z_outer}
    adjusted = pl.col("tau2").fill_null(0.0) > 0
    return {
        name: pl.when(adjusted)
        .then(log_ratio_limit(pl.col("denominator"), signed_z[name], pl.col("tau2")))
        .otherwise(pl.lit(pl.Series(name, exact[name], dtype=pl.Float64)))
        for name in LIMIT_COLUMNS
    }
