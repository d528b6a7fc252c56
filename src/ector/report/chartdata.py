"""The data behind each chart: small aggregates with disclosure control applied, ready for a builder.

Charts draw aggregates only: funnel points are one per unit, limit curves a fixed grid, per-case series
are cut into a bounded number of bins. So drawing takes the same time for 10 thousand or 10 million cases.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import numpy as np
import polars as pl

from ector.report.disclosure import Disclosure, suppress_counts
from ector.stats.funnel import FunnelMethod, Measure, funnel_limits

CURVE_POINTS: Final = 160
MAX_LABELS: Final = 12  # labels on a funnel plot: alarms first, then alerts
LINE_POINTS: Final = 200  # per series, for moving medians and CUSUM/VLAD paths
LEARNING_BINS: Final = 40
HIGH_FLAGS: Final = ("high_alarm", "high_alert")
OUTER_FLAGS: Final = ("high_alarm", "low_alarm")
FLAGGED: Final = ("high_alarm", "high_alert", "low_alert", "low_alarm")


@dataclass(frozen=True)
class ChartSpec:
    """A chart to draw: the name of a builder in `charts.BUILDERS` and its (picklable) arguments.

    Charts are described here and built where they are drawn, in a worker process when there are several:
    a plotnine ggplot does not pickle, its data does.
    """

    builder: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FunnelData:
    """One funnel plot's data: points (one per unit), limit curves and the funnel's target, phi and tau2."""

    outcome: str
    measure: str
    points: pl.DataFrame  # label, denominator, value, flag, labelled
    curves: pl.DataFrame  # x, limit, y
    target: float
    phi: float | None
    tau2: float | None
    levels: tuple[float, float]


def funnel_data(
    funnel: pl.DataFrame,
    outcome: str,
    measure: str,
    labels: Mapping[str, str],
    disclosure: Disclosure,
    levels: tuple[float, float],
    unit_cases: Mapping[str, int] | None = None,
    method: FunnelMethod = "exact",
) -> FunnelData | None:
    """Return one outcome's funnel data, or None when no unit has a positive denominator.

    External: units with fewer than k cases are left out (their position would show their volume), and
    labels are pseudonyms. At most MAX_LABELS units outside a limit are labelled, alarms first.
    """
    rows = funnel.filter(
        (pl.col("outcome") == outcome) & (pl.col("measure") == measure) & (pl.col("denominator") > 0)
    ).filter(pl.col("value").is_not_null())
    if disclosure.external and unit_cases is not None:
        rows = rows.filter(
            pl.col("unit_id").replace_strict(dict(unit_cases), default=0, return_dtype=pl.Int64)
            >= disclosure.min_cell_size
        )
    if rows.height == 0:
        return None
    # Label the units outside a limit, at most MAX_LABELS of them: alarms before alerts, larger units first
    # (their distance from the target is the most credible). More labels would hide the chart.
    ranked = rows.filter(pl.col("flag").is_in(FLAGGED)).with_columns(
        __severity=pl.when(pl.col("flag").is_in(OUTER_FLAGS)).then(0).otherwise(1)
    )
    chosen = ranked.sort(["__severity", "denominator", "unit_id"], descending=[False, True, False]).head(MAX_LABELS)
    points = rows.select(
        label=pl.col("unit_id").replace_strict(dict(labels), default=None, return_dtype=pl.String),
        denominator=pl.col("denominator"),
        value=pl.col("value"),
        flag=pl.col("flag"),
        labelled=pl.col("unit_id").is_in(chosen["unit_id"].implode()),
    ).sort("denominator", "label")
    target = float(rows["target"][0])
    phi = rows["phi"].drop_nulls()
    tau2 = rows["tau2"].drop_nulls()
    low, high = float(points["denominator"].min()), float(points["denominator"].max())  # type: ignore[arg-type]
    curves = funnel_curves(measure, target, tau2[0] if tau2.len() else None, low, high, levels, method)
    return FunnelData(
        outcome, measure, points, curves, target, phi[0] if phi.len() else None, tau2[0] if tau2.len() else None, levels
    )


def funnel_curves(
    measure: str,
    target: float,
    tau2: float | None,
    low: float,
    high: float,
    levels: tuple[float, float],
    method: FunnelMethod = "exact",
) -> pl.DataFrame:
    """Return the limit curves `x, limit, side, y` on a grid over [low, high], by `stats.funnel.funnel_limits`: the
    function the flags come from, so a point outside a curve is a flagged unit.

    limit is `95%`-style text of the level; lower and upper curves share it (drawn as one dashed style). For
    exact proportion limits the grid is whole numbers of cases, the only denominators there are.
    """
    start = max(low * 0.9, 0.5)
    x = np.geomspace(start, max(high * 1.05, start * 1.01), CURVE_POINTS)
    if measure == "proportion" and method == "exact":
        x = np.unique(np.maximum(np.rint(x), 1.0))
    kind: Measure = "proportion" if measure == "proportion" else "oe_ratio"
    parts = []
    for level in levels:
        lower, upper = funnel_limits(kind, method, x, target, level, tau2 or 0.0)
        bounds = pl.DataFrame({"x": x, "lower": lower, "upper": upper})
        name = f"{level * 100:g}%"
        for side in ("lower", "upper"):
            parts.append(bounds.select("x", limit=pl.lit(name), side=pl.lit(side), y=pl.col(side)))
    return pl.concat(parts).filter(pl.col("y").is_finite())


def monitored_units(
    funnel: pl.DataFrame | None,
    highlight: Sequence[str],
    known: Sequence[str],
    limit: int,
    signals: pl.DataFrame | None = None,
) -> tuple[list[str], list[str], int]:
    """Return (units to chart, highlighted ids not found, flagged units left out by `limit`).

    Highlighted surgeons come first and are always charted; then units with a high flag on any outcome or a
    signal on an upper CUSUM, most severe first (funnel alarms, then CUSUM signals, then alerts), then by id.
    """
    present = set(known)
    chosen = [u for u in dict.fromkeys(highlight) if u in present]
    missing = [u for u in dict.fromkeys(highlight) if u not in present]
    counts = []
    if funnel is not None and funnel.height:
        counts.append(
            funnel.filter(pl.col("flag").is_in(HIGH_FLAGS))
            .group_by("unit_id")
            .agg(
                alarms=(pl.col("flag") == "high_alarm").sum().cast(pl.Int64),
                alerts=(pl.col("flag") == "high_alert").sum().cast(pl.Int64),
            )
        )
    if signals is not None and signals.height:
        counts.append(
            signals.filter(pl.col("chart") == "cusum_upper").group_by("unit_id").agg(signals=pl.len().cast(pl.Int64))
        )
    flagged: list[str] = []
    if counts:
        joined = pl.concat(counts, how="diagonal")
        measures = ("alarms", "signals", "alerts")
        joined = joined.with_columns(pl.lit(0, dtype=pl.Int64).alias(c) for c in measures if c not in joined.columns)
        severity = joined.group_by("unit_id").agg(pl.col(c).fill_null(0).sum() for c in measures)
        ranked = severity.sort(["alarms", "signals", "alerts", "unit_id"], descending=[True, True, True, False])
        flagged = [u for u in ranked["unit_id"].to_list() if u not in chosen and u in present]
    room = max(0, limit - len(chosen))
    return chosen + flagged[:room], missing, max(0, len(flagged) - room)


def learning_data(
    series: pl.DataFrame, labels: Mapping[str, str], disclosure: Disclosure
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (moving-median lines, binned medians) of learning curves, per panel (unit label) and family.

    Bins hold at least k cases for an external audience, and series of fewer than k cases are dropped, so no
    point stands for fewer than k operations. Lines keep at most LINE_POINTS points per series. The medians are
    over the rows the surgeon view wrote: every case of a curve of up to `workflows.thinning.BINS` cases, the
    thinned rows of a longer one (docs/workflows.md).
    """
    k = disclosure.min_cell_size if disclosure.external else 1
    kept = series.filter(pl.col("cases_used") >= k)
    # Each panel says how many cases its curves rest on (docs/methods.md: the CUSUM peak moves with it): the
    # curves' lengths, not the rows here, which are thinned for long curves (workflows.thinning).
    used = (
        kept.group_by("unit_id", "procedure_family")
        .agg(pl.col("cases_used").first())
        .group_by("unit_id")
        .agg(pl.col("cases_used").sum().alias("__used"))
    )
    keyed = (
        kept.join(used, on="unit_id", how="left")
        .with_columns(
            unit=pl.col("unit_id").replace_strict(dict(labels), default=None, return_dtype=pl.String),
            __n=pl.len().over("unit_id", "procedure_family"),
            __i=pl.int_range(pl.len()).over("unit_id", "procedure_family", order_by="case_sequence"),
        )
        .with_columns(panel=pl.format("{} ({} cases with minutes)", pl.col("unit"), pl.col("__used")))
    )
    step = (pl.col("__n") / LINE_POINTS).ceil().cast(pl.Int64).clip(1)
    lines = (
        keyed.filter(pl.col("moving_median").is_not_null() & ((pl.col("__i") % step) == 0))
        .select("panel", "procedure_family", "case_sequence", "moving_median")
        .sort("panel", "procedure_family", "case_sequence")
    )
    width = pl.max_horizontal((pl.col("__n") / LEARNING_BINS).ceil().cast(pl.Int64), pl.lit(k))
    bins = (
        keyed.with_columns(__bin=pl.col("__i") // width)
        .group_by("panel", "procedure_family", "__bin")
        .agg(
            case_sequence=pl.col("case_sequence").median(),
            minutes=pl.col("operative_minutes").median(),
            cases=pl.len(),
        )
        .filter(pl.col("cases") >= k)
        .drop("__bin", "cases")
        .sort("panel", "procedure_family", "case_sequence")
    )
    return lines, bins


class CusumData(NamedTuple):
    """What the CUSUM and VLAD charts draw: paths per unit label and outcome, each outcome's limits, signals."""

    paths: pl.DataFrame  # unit, outcome, seq, cusum_upper, cusum_lower, vlad
    limits: pl.DataFrame  # outcome, h_upper, h_lower
    signals: pl.DataFrame  # unit, outcome, chart (cusum_upper | cusum_lower), seq, value (the chart's), vlad


def cusum_data(series: pl.DataFrame, labels: Mapping[str, str]) -> CusumData:
    """Return CUSUM and VLAD paths per unit label and outcome, at most LINE_POINTS points each, with the
    decision limits and the signals.

    Each bin keeps its highest upper CUSUM and lowest lower CUSUM (so a peak is never smoothed away) and its
    last VLAD value; the signals are drawn as points from the series' own rows, at their exact case.
    """
    keyed = series.with_columns(
        unit=pl.col("unit_id").replace_strict(dict(labels), default=None, return_dtype=pl.String),
        __n=pl.col("seq").max().over("unit_id", "outcome"),  # the series' length: long ones arrive thinned
    )
    width = (pl.col("__n") / LINE_POINTS).ceil().cast(pl.Int64).clip(1)
    paths = (
        keyed.with_columns(__bin=(pl.col("seq") - 1) // width)
        .group_by("unit", "outcome", "__bin")
        .agg(
            seq=pl.col("seq").max(),
            cusum_upper=pl.col("cusum_upper").max(),
            cusum_lower=pl.col("cusum_lower").min(),
            vlad=pl.col("vlad").sort_by("seq").last(),
        )
        .drop("__bin")
        .sort("unit", "outcome", "seq")
    )
    limits = series.group_by("outcome").agg(pl.col("h_upper").first(), pl.col("h_lower").first()).sort("outcome")
    signals = pl.concat(
        [
            keyed.filter(f"signal_{side}").select(
                "unit", "outcome", chart=pl.lit(f"cusum_{side}"), seq="seq", value=f"cusum_{side}", vlad="vlad"
            )
            for side in ("upper", "lower")
        ]
    ).sort("unit", "outcome", "seq")
    return CusumData(paths, limits, signals)


def volume_order(summary: pl.DataFrame, labels: Mapping[str, str]) -> list[str]:
    """Return unit labels by volume, largest first (ties by label): the order of rows in site charts."""
    ranked = summary.select(
        label=pl.col("unit_id").replace_strict(dict(labels), default=None, return_dtype=pl.String),
        cases=pl.col("cases"),
    ).sort(["cases", "label"], descending=[True, False])
    return [str(label) for label in ranked["label"].to_list()]


def trend_data(trend: pl.DataFrame, labels: Mapping[str, str], disclosure: Disclosure) -> pl.DataFrame:
    """Return `unit, period, cases` per site and period; external: counts withheld by site and by period."""
    frame = trend.select(
        unit=pl.col("unit_id").replace_strict(dict(labels), default=None, return_dtype=pl.String),
        period=pl.col("period").cast(pl.String),
        cases=pl.col("cases"),
    )
    if disclosure.external:
        frame = suppress_counts(frame, ["cases"], disclosure.min_cell_size, lines=[["unit"], ["period"]])
    return frame.sort("unit", "period")


def case_mix_data(mix: pl.DataFrame, labels: Mapping[str, str], disclosure: Disclosure) -> pl.DataFrame:
    """Return `unit, characteristic, cases, count, percent, all_percent` for available characteristics."""
    frame = mix.filter(pl.col("available")).select(
        unit=pl.col("unit_id").replace_strict(dict(labels), default=None, return_dtype=pl.String),
        characteristic=pl.col("characteristic"),
        cases=pl.col("cases"),
        count=pl.col("count"),
        percent=pl.col("percent"),
        all_percent=pl.col("all_percent"),
    )
    if disclosure.external:
        # Units' counts add up to the published all-units count of each characteristic.
        frame = suppress_counts(
            frame,
            ["cases", "count"],
            disclosure.min_cell_size,
            lines=[["characteristic"]],
            dependents={"count": ["percent"], "cases": ["percent"]},
        )
    return frame.sort("characteristic", "unit")


def finite_or_none(value: float | None) -> float | None:
    """Return the value when it is a finite number, else None."""
    return value if value is not None and math.isfinite(value) else None
