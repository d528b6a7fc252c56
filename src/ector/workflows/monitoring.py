"""Monitoring over time: learning curves per surgeon and procedure family, risk-adjusted CUSUM and VLAD.

Both are per-case series ordered by surgery_start then case_id (the mart's own order and a deterministic
tie-break); the formulas are `stats.learning_curve` and `stats.cusum`. The mart is already in that order, so
every window runs over the units in row order: no series is sorted, only the thinned result is. The series
are computed over every case, then thinned to a bounded number of points per series (`workflows.thinning`:
final values, per-bin extremes and bin ends kept exactly), so the tables stay chart-sized at any number of
cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from ector.materialise import Materialiser
from ector.stats.cusum import risk_adjusted_cusum, vlad
from ector.stats.learning_curve import learning_curve
from ector.workflows.mart import Availability
from ector.workflows.order import sorted_by
from ector.workflows.thinning import thin_series

# Monitored outcome -> the mart column holding each case's predicted risk p_t.
MONITORED: Final[dict[str, str]] = {
    "mortality_30d": "expected_mortality_30d",
    "complication_major": "expected_complication_major",
}
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
    "cusum",
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
    "cusum": pl.Float64,
    "vlad": pl.Float64,
}


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
    cases = by_series(frame.select(pl.col(unit).alias("unit_id"), *LEARNING_CURVE_COLUMNS), keys)
    curves = learning_curve(cases.lazy(), by=[RUN], order=None)
    thinned = thin_series(curves, by=keys, watch=["moving_median", "cusum"]).select(
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
    return out.collect(thinned)


def cusum_table(frame: pl.DataFrame, unit: str, availability: Availability, out: Materialiser) -> pl.DataFrame:
    """Return Steiner CUSUM (R_A = 2) and VLAD series per unit for mortality and major complication, from the
    cases of `frame` (in time order); in CUSUM_COLUMNS, sorted by unit_id, outcome, seq.

    Cases with an unknown outcome or risk are left out (seq counts the monitored cases). A series longer than
    `thinning.BINS` cases keeps its first and last case and, per bin, its last case and those with the extreme
    CUSUM and VLAD: the largest seq of a series is its length, its last row its final values. An outcome whose
    column or risk is not available has no rows: the availability table says why.
    """
    monitored = {outcome: risk for outcome, risk in MONITORED.items() if availability[outcome] and availability[risk]}
    if not monitored:
        return pl.DataFrame(schema=_CUSUM_SCHEMA)
    columns = [c for pair in monitored.items() for c in pair]
    units = by_series(frame.select(pl.col(unit).alias("unit_id"), "case_id", "surgery_date", *columns), ["unit_id"])
    plans = []
    for outcome, risk in monitored.items():
        cases = units.lazy().select(
            "unit_id",
            pl.lit(outcome).alias("outcome"),
            "case_id",
            "surgery_date",
            pl.col(risk).alias("risk"),
            pl.col(outcome).alias("observed"),
        )
        cases = with_runs(cases.filter(pl.col("risk").is_not_null() & pl.col("observed").is_not_null()), ["unit_id"])
        series = risk_adjusted_cusum(cases, unit=RUN, order=None, risk="risk", outcome="observed")
        series = vlad(series, unit=RUN, order=None, risk="risk", outcome="observed")
        series = series.with_columns(seq=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(RUN))
        plans.append(thin_series(series, by=["unit_id"], watch=["cusum", "vlad"]).select(CUSUM_COLUMNS))
    # Each outcome's rows are already by unit and seq: the outcomes are put in their place among them.
    return sorted_by(pl.concat(out.collect_all(plans)), ["unit_id", "outcome", "seq"])


RUN: Final = "__series"


def by_series(cases: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Return `cases` (in time order) sorted by `keys`, time order kept within each series, with RUN: the
    series' number, a sorted integer over which every window runs in row order at little cost."""
    return with_runs(sorted_by(cases, keys, stable=True).lazy(), keys).collect()


def with_runs(cases: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """Return `cases` (sorted by `keys`) with RUN, which counts the series up to each row."""
    changed = pl.any_horizontal(*(pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys)).fill_null(value=True)
    return cases.with_columns(changed.cum_sum().cast(pl.UInt32).set_sorted().alias(RUN))
