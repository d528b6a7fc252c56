"""Monitoring over time: learning curves per surgeon and procedure family, risk-adjusted CUSUM and VLAD.

Both are per-case series ordered by surgery_start then case_id (the mart's own order and a deterministic
tie-break); the formulas are `stats.learning_curve` and `stats.cusum`. Window functions over time do not
stream, so each plan first projects the few columns it needs and sorts them once (unit, then time): every
window then runs in row order instead of sorting again. The series are computed over every case, then
thinned to a bounded number of points per series (`workflows.thinning`: final values, per-bin extremes and
bin ends kept exactly), so the tables stay chart-sized at any number of cases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import polars as pl

from ector.stats.cusum import risk_adjusted_cusum, vlad
from ector.stats.learning_curve import learning_curve
from ector.workflows.groups import in_unit_groups
from ector.workflows.mart import Availability
from ector.workflows.thinning import thin_series

ORDER: Final = ("surgery_start", "case_id")
# Monitored outcome -> the mart column holding each case's predicted risk p_t.
MONITORED: Final[dict[str, str]] = {
    "mortality_30d": "expected_mortality_30d",
    "complication_major": "expected_complication_major",
}
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


def learning_curve_plan(mart: pl.LazyFrame, unit: str) -> pl.LazyFrame:
    """Return the plan of the learning curves: cases with operative minutes, thinned per curve, sorted.

    Columns: `unit_id, procedure_family, case_sequence, case_id, surgery_date, approach, operative_minutes,
    moving_median, cusum, cases_used`. The sequence counts every case of the unit in the family (experience
    is every case done); approach is kept so that, e.g., robotic curves can be read on their own. A curve
    longer than `thinning.BINS` cases keeps its first and last case and, per bin, its last case and those
    with the extreme moving median and CUSUM; cases_used is the length of the whole curve.
    """
    keys = ["unit_id", "procedure_family"]
    cases = mart.select(
        pl.col(unit).alias("unit_id"),
        "procedure_family",
        "case_id",
        "surgery_start",
        "surgery_date",
        "approach",
        "operative_minutes",
    ).sort([*keys, *ORDER], nulls_last=True)
    curves = learning_curve(cases, by=keys, order=None)
    return thin_series(curves, by=keys, watch=["moving_median", "cusum"]).select(
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


def cusum_plan(mart: pl.LazyFrame, unit: str, availability: Availability) -> pl.LazyFrame:
    """Return the plan of Steiner CUSUM (R_A = 2) and VLAD series per unit for mortality and major complication.

    In CUSUM_COLUMNS, sorted by unit_id, outcome, seq. Cases with an unknown outcome or risk are left out (seq
    counts the monitored cases). A series longer than `thinning.BINS` cases keeps its first and last case and,
    per bin, its last case and those with the extreme CUSUM and VLAD: the largest seq of a series is its
    length, its last row its final values. An outcome whose column or risk is not available has no rows: the
    availability table says why.
    """
    plans = []
    for outcome, risk in MONITORED.items():
        if not (availability[outcome] and availability[risk]):
            continue
        cases = mart.select(
            pl.col(unit).alias("unit_id"),
            pl.lit(outcome).alias("outcome"),
            "case_id",
            "surgery_start",
            "surgery_date",
            pl.col(risk).alias("risk"),
            pl.col(outcome).alias("observed"),
        ).filter(pl.col("risk").is_not_null() & pl.col("observed").is_not_null())
        cases = cases.sort(["unit_id", *ORDER], nulls_last=True)
        series = risk_adjusted_cusum(cases, unit="unit_id", order=None, risk="risk", outcome="observed")
        series = vlad(series, unit="unit_id", order=None, risk="risk", outcome="observed")
        series = series.with_columns(seq=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("unit_id"))
        plans.append(thin_series(series, by=["unit_id"], watch=["cusum", "vlad"]))
    if not plans:
        return pl.LazyFrame(schema=_CUSUM_SCHEMA)
    return pl.concat(plans).select(CUSUM_COLUMNS).sort("unit_id", "outcome", "seq", nulls_last=True)


def cusum_table(
    mart: pl.LazyFrame,
    unit: str,
    availability: Availability,
    *,
    collect: Callable[[pl.LazyFrame], pl.DataFrame],
) -> pl.LazyFrame | pl.DataFrame:
    """Return `cusum_plan`'s table, computed a group of units at a time on a large mart (`groups.in_unit_groups`)."""
    return in_unit_groups(
        lambda frame: cusum_plan(frame, unit, availability),
        mart,
        unit,
        cases=availability.cases,
        order=("unit_id", "outcome", "seq"),
        collect=collect,
    )


def learning_curve_table(
    mart: pl.LazyFrame, unit: str, *, cases: int, collect: Callable[[pl.LazyFrame], pl.DataFrame]
) -> pl.LazyFrame | pl.DataFrame:
    """Return `learning_curve_plan`'s table, computed a group of units at a time on a large mart."""
    return in_unit_groups(
        lambda frame: learning_curve_plan(frame, unit),
        mart,
        unit,
        cases=cases,
        order=("unit_id", "procedure_family", "case_sequence"),
        collect=collect,
    )
