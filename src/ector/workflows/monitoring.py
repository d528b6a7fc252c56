"""Monitoring over time: learning curves per surgeon and procedure family, risk-adjusted CUSUM and VLAD.

The CUSUMs decide: per monitored outcome an upper chart (deterioration, R_A = 2) and a lower chart
(improvement, R_A = 0.5), each with a decision limit h and restarting at 0 after a signal. h is the same for
every unit: chosen from the risks of all units' monitored cases for the configured false-signal probability
(`cusum_limits`, `stats.decision_limit`), or fixed in settings.

Both are per-case series ordered by surgery_start then case_id (the mart's own order and a deterministic
tie-break); the formulas are `stats.learning_curve` and `stats.cusum`. The mart is already in that order, so
every window runs over the units in row order: no series is sorted, only the thinned result is. The series
are computed over every case, then thinned to a bounded number of points per series (`workflows.thinning`:
final values, per-bin extremes and bin ends kept exactly), so the tables stay chart-sized at any number of
cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product
from typing import Final, NamedTuple

import polars as pl

from ector.materialise import Materialiser
from ector.settings import CusumSettings
from ector.stats.cusum import chart_with_restarts, steiner_weight, vlad
from ector.stats.decision_limit import as_mix, decision_limit, risk_mix_plan
from ector.stats.learning_curve import learning_curve
from ector.workflows.mart import Availability
from ector.workflows.order import sorted_by
from ector.workflows.thinning import thin_series

# Monitored outcome -> the mart column holding each case's predicted risk p_t.
MONITORED: Final[dict[str, str]] = {
    "mortality_30d": "expected_mortality_30d",
    "complication_major": "expected_complication_major",
}
UPPER_ODDS_RATIO: Final = 2.0  # the upper chart watches for a doubling of the odds of the event
LOWER_ODDS_RATIO: Final = 0.5  # the lower chart for a halving
WATCHED: Final = ("moving_median", "cusum")  # a learning curve's columns whose extremes thinning keeps
# The mart columns the learning curves read besides the unit.
LEARNING_CURVE_COLUMNS: Final = ("procedure_family", "case_id", "surgery_date", "approach", "operative_minutes")
CUSUM_COLUMNS: Final = (
    "unit_id",
    "outcome",
    "seq",
    "surgery_date",
    "risk",
    "observed",
    "cusum_weight",
    "cusum_upper",
    "cusum_lower",
    "h_upper",
    "h_lower",
    "signal_upper",
    "signal_lower",
    "vlad",
)
_CUSUM_SCHEMA: Final = {
    "unit_id": pl.String,
    "outcome": pl.String,
    "seq": pl.Int64,
    "surgery_date": pl.Date,
    "risk": pl.Float64,
    "observed": pl.Boolean,
    "cusum_weight": pl.Float64,
    "cusum_upper": pl.Float64,
    "cusum_lower": pl.Float64,
    "h_upper": pl.Float64,
    "h_lower": pl.Float64,
    "signal_upper": pl.Boolean,
    "signal_lower": pl.Boolean,
    "vlad": pl.Float64,
}


class ChartLimits(NamedTuple):
    """The decision limits h of one outcome's upper and lower CUSUM (both positive; the lower chart is drawn
    below 0, so its limit is drawn at -lower)."""

    upper: float
    lower: float


def monitored(availability: Availability) -> dict[str, str]:
    """Return the monitored outcomes whose outcome and risk columns are available, with their risk column."""
    return {outcome: risk for outcome, risk in MONITORED.items() if availability[outcome] and availability[risk]}


def cusum_limits(
    cases: pl.LazyFrame, availability: Availability, settings: CusumSettings, out: Materialiser
) -> dict[str, ChartLimits]:
    """Return the decision limits per monitored outcome with at least one case: `settings.h` when fixed, else
    chosen from the risks of `cases` (every unit's: the whole mart) so that an in-control chart signals within
    `settings.horizon_cases` cases with probability `settings.false_signal_probability`."""
    outcomes = monitored(availability)
    plans = [risk_mix_plan(cases.filter(pl.col(outcome).is_not_null()), risk) for outcome, risk in outcomes.items()]
    limits = {}
    for outcome, groups in zip(outcomes, out.collect_all(plans), strict=True):
        if groups.height == 0:
            continue
        if settings.h is not None:
            limits[outcome] = ChartLimits(settings.h, settings.h)
            continue
        mix = as_mix(groups)
        limits[outcome] = ChartLimits(
            *(
                decision_limit(mix, odds_ratio, settings.false_signal_probability, settings.horizon_cases)
                for odds_ratio in (UPPER_ODDS_RATIO, LOWER_ODDS_RATIO)
            )
        )
    return limits


def learning_curve_table(frame: pl.DataFrame, unit: str, out: Materialiser) -> pl.DataFrame:
    """Return the learning curves of the cases of `frame` (in time order): cases with operative minutes,
    thinned per curve, sorted by unit_id, procedure_family, case_sequence.

    Columns: `unit_id, procedure_family, case_sequence, case_id, surgery_date, approach, operative_minutes,
    moving_median, cusum, cases_used`. The sequence counts every case of the unit in the family (experience
    is every case done); approach is kept so that, e.g., robotic curves can be read on their own. A curve
    longer than `thinning.BINS` cases keeps its first and last case and, per bin, its last case and those
    with the extreme moving median and CUSUM; cases_used is the length of the whole curve.
    """
    keys = ["unit_id", "procedure_family"]
    cases = by_series(frame.select(pl.col(unit).alias("unit_id"), "procedure_family", "operative_minutes"), keys)
    thinned = pl.concat(
        out.collect(thin_series(learning_curve(part.lazy(), by=[RUN], order=None), by=keys, watch=WATCHED), held=True)
        for part in in_slices(cases)
    )
    return _with_case_columns(thinned, frame, ["case_id", "surgery_date", "approach"]).select(
        "unit_id",
        "procedure_family",
        pl.col("case_sequence").cast(pl.Int64),
        "case_id",
        "surgery_date",
        "approach",
        "operative_minutes",
        "moving_median",
        "cusum",
        pl.col("cases_used").cast(pl.Int64),
    )


def cusum_table(frame: pl.DataFrame, unit: str, limits: dict[str, ChartLimits], out: Materialiser) -> pl.DataFrame:
    """Return the risk-adjusted CUSUMs and VLAD per unit for mortality and major complication, from the cases of
    `frame` (in time order); in CUSUM_COLUMNS, sorted by unit_id, outcome, seq.

    cusum_upper is the Steiner chart for R_A = 2 (cusum_weight is its W_t), cusum_lower the chart for
    R_A = 0.5 drawn below 0; each restarts at 0 after a signal (signal_upper: cusum_upper > h_upper;
    signal_lower: cusum_lower < -h_lower). Cases with an unknown outcome or risk are left out (seq counts the
    monitored cases). A series longer than `thinning.BINS` cases keeps its first and last case, every signal
    and, per bin, its last case and those with the extreme values of each chart and the VLAD: the largest seq
    of a series is its length, its last row its final values. An outcome not in `limits` (its column or risk
    not available, or no case) has no rows: the availability table says why.
    """
    if not limits:
        return pl.DataFrame(schema=_CUSUM_SCHEMA)
    outcomes = {outcome: MONITORED[outcome] for outcome in limits}
    columns = [c for pair in outcomes.items() for c in pair]
    units = by_series(frame.select(pl.col(unit).alias("unit_id"), *columns), ["unit_id"])
    parts = []
    # One outcome and slice of units after the other: each holds a dozen columns over its cases.
    for (outcome, risk), part in product(outcomes.items(), in_slices(units)):
        cases = part.lazy().select(
            "unit_id",
            CASE,
            pl.lit(outcome).alias("outcome"),
            pl.col(risk).alias("risk"),
            pl.col(outcome).alias("observed"),
        )
        cases = with_runs(cases.filter(pl.col("risk").is_not_null() & pl.col("observed").is_not_null()), ["unit_id"])
        upper, lower = (
            steiner_weight(pl.col("risk"), pl.col("observed"), r) for r in (UPPER_ODDS_RATIO, LOWER_ODDS_RATIO)
        )
        weighted = out.collect(cases.with_columns(cusum_weight=upper, __lower=lower), held=True)
        h = limits[outcome]
        cusum_upper, signal_upper = chart_with_restarts(weighted, by=RUN, weight="cusum_weight", limit=h.upper)
        cusum_lower, signal_lower = chart_with_restarts(weighted, by=RUN, weight="__lower", limit=h.lower)
        charts = weighted.drop("__lower").with_columns(
            cusum_upper=cusum_upper,
            cusum_lower=-cusum_lower,
            h_upper=pl.lit(h.upper),
            h_lower=pl.lit(h.lower),
            signal_upper=signal_upper,
            signal_lower=signal_lower,
        )
        series = vlad(charts.lazy(), unit=RUN, order=None, risk="risk", outcome="observed")
        series = series.with_columns(seq=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(RUN))
        kept = thin_series(
            series, by=["unit_id"], watch=["cusum_upper", "cusum_lower", "vlad"], keep=["signal_upper", "signal_lower"]
        )
        parts.append(out.collect(kept, held=True))
    thinned = _with_case_columns(pl.concat(parts), frame, ["case_id", "surgery_date"])
    # Each outcome's rows are already by unit and seq: the outcomes are put in their place among them.
    return sorted_by(thinned.select(CUSUM_COLUMNS), ["unit_id", "outcome", "seq"])


RUN: Final = "__series"
CASE: Final = "__case"  # a case's row in the view's projection
SLICE_ROWS: Final = 2_000_000  # cases whose series are computed together


def by_series(cases: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Return `cases` (in time order) sorted by `keys`, time order kept within each series, with CASE (each
    case's row in `cases`) and RUN: the series' number, a sorted integer over which every window runs in row
    order at little cost."""
    numbered = cases.with_row_index(CASE)
    return with_runs(sorted_by(numbered, keys, stable=True).lazy(), keys).collect()


def _with_case_columns(series: pl.DataFrame, frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """Return the thinned `series` with `columns` of their cases, taken from `frame` by CASE: the case columns
    are carried for the kept rows only, not through the sort and windows over every case."""
    return series.with_columns(frame.select(pl.col(columns).gather(series[CASE]))).drop(CASE)


def in_slices(cases: pl.DataFrame) -> list[pl.DataFrame]:
    """Return `by_series` output cut into slices of about SLICE_ROWS rows, each holding whole series (a series
    longer than that is a slice of its own): a series' windows hold a dozen columns over its cases."""
    rows = SLICE_ROWS
    if cases.height <= rows:
        return [cases]
    ends = cases.group_by(RUN, maintain_order=True).len().select(pl.col("len").cum_sum())["len"]
    slices, start, target = [], 0, rows
    for end in ends:
        if end >= target:
            slices.append(cases.slice(start, end - start))
            start, target = end, end + rows
    if start < cases.height:
        slices.append(cases.slice(start, cases.height - start))
    return slices


def with_runs(cases: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """Return `cases` (sorted by `keys`) with RUN, which counts the series up to each row."""
    changed = pl.any_horizontal(*(pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys)).fill_null(value=True)
    return cases.with_columns(changed.cum_sum().cast(pl.UInt32).set_sorted().alias(RUN))
