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
from itertools import product
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
    units = by_series(frame.select(pl.col(unit).alias("unit_id"), *columns), ["unit_id"])
    parts = []
    # One outcome and slice of units after the other: each holds a dozen window columns over its cases.
    for (outcome, risk), part in product(monitored.items(), in_slices(units)):
        cases = part.lazy().select(
            "unit_id",
            CASE,
            pl.lit(outcome).alias("outcome"),
            pl.col(risk).alias("risk"),
            pl.col(outcome).alias("observed"),
        )
        cases = with_runs(cases.filter(pl.col("risk").is_not_null() & pl.col("observed").is_not_null()), ["unit_id"])
        series = risk_adjusted_cusum(cases, unit=RUN, order=None, risk="risk", outcome="observed")
        series = vlad(series, unit=RUN, order=None, risk="risk", outcome="observed")
        series = series.with_columns(seq=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(RUN))
        parts.append(out.collect(thin_series(series, by=["unit_id"], watch=["cusum", "vlad"]), held=True))
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
