"""Volume and durations of units: cases, distinct patients, first and last surgery, median and IQR of times.

Counts, minima and maxima stream. Medians and quantiles do not (stack notes), so they are computed on reduced
data: a streaming count of each value per group, then the quantiles of those weighted values. Durations take
few distinct values (whole minutes, whole days), so the reduced table is a small fraction of the cases (10M
cases: 0.46M surgeon x minute rows, 65k surgeon x day rows), and the result is the same to the last bit.
Distinct patients are distinct (group, patient) pairs first, counted after (`groups.distinct_patients`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from ector.workflows.groups import distinct_patients

# Skewed measures shown as median and IQR (methods.md: means mislead for LOS and operative time).
SPREAD_MEASURES: Final = ("operative_minutes", "los_days")
_VALUE, _WEIGHT = "__value", "__count"


def volume_plan(
    mart: pl.LazyFrame, unit: str, keys: Sequence[str], attributes: Sequence[str] = (), *, patients: int | None = None
) -> pl.LazyFrame:
    """Return the plan of one row per unit and `keys`: attributes, volume, dates and spread, sorted.

    Columns: `unit_id, *keys, *attributes, cases, patients, first_surgery, last_surgery`, then for each of
    operative_minutes and los_days `<measure>_median, _q1, _q3` (linear interpolation, R type 7) and
    `<measure>_cases` (how many cases have the measure). The distinct-patient count, the costliest part (a
    distinct over every unit x patient pair: 1.4 GB at 10M cases), is there when `patients` gives the mart's
    number of cases, which sets the groups of patients it is counted in (`groups.distinct_patients`).
    An attribute (e.g. specialty) is its largest
    value within the unit: deterministic, and the only value when it comes from the unit's own table.
    """
    group = [unit, *keys]
    counts = mart.group_by(group).agg(
        *(pl.col(a).max() for a in attributes),
        cases=pl.len().cast(pl.Int64),
        first_surgery=pl.col("surgery_date").min(),
        last_surgery=pl.col("surgery_date").max(),
    )
    volume = counts
    for measure in SPREAD_MEASURES:
        volume = volume.join(spread_plan(mart, group, measure), on=group, how="left", nulls_equal=True)
    # A group whose measure is null throughout has no value counts: none measured, spread null.
    volume = volume.with_columns(pl.col(f"{m}_cases").fill_null(0) for m in SPREAD_MEASURES)
    if patients is not None:
        distinct = distinct_patients(mart, group, cases=patients)
        volume = volume.join(distinct, on=group, how="left", nulls_equal=True).with_columns(
            pl.col("patients").fill_null(0)
        )
    return (
        volume.rename({unit: "unit_id"})
        .select(
            "unit_id",
            *keys,
            *attributes,
            "cases",
            *(["patients"] if patients is not None else []),
            "first_surgery",
            "last_surgery",
            *(f"{m}_{s}" for m in SPREAD_MEASURES for s in ("median", "q1", "q3", "cases")),
        )
        .sort(["unit_id", *keys], nulls_last=True)
    )


def spread_plan(mart: pl.LazyFrame, group: Sequence[str], measure: str) -> pl.LazyFrame:
    """Return per `group`: `<measure>_median, _q1, _q3` (linear, R type 7) and `_cases` (non-null values).

    Computed from the count of each distinct value per group, which streams; groups with no value are absent.
    """
    value = pl.col(measure).cast(pl.Float64)
    counts = (
        mart.select(*group, value.alias(_VALUE))
        .filter(pl.col(_VALUE).is_not_null())
        .group_by(*group, _VALUE)
        .agg(pl.len().alias(_WEIGHT))
    )
    return counts.group_by(group).agg(
        weighted_quantile(0.5).alias(f"{measure}_median"),
        weighted_quantile(0.25).alias(f"{measure}_q1"),
        weighted_quantile(0.75).alias(f"{measure}_q3"),
        pl.col(_WEIGHT).sum().cast(pl.Int64).alias(f"{measure}_cases"),
    )


def weighted_quantile(p: float, value: str = _VALUE, weight: str = _WEIGHT) -> pl.Expr:
    """Return, in a group_by over distinct values and their counts, the `p` quantile of the values repeated.

    Linear interpolation (R type 7, polars' "linear"): with n values, h = (n - 1) p, the result is x[floor h] +
    (h - floor h)(x[ceil h] - x[floor h]) over the sorted values, 0-based; x[r] is the first distinct value whose
    cumulative count exceeds r.
    """
    ordered = pl.col(value).sort_by(value)
    cumulative = pl.col(weight).sort_by(value).cum_sum()
    h = (pl.col(weight).sum() - 1).cast(pl.Float64) * p
    low, high = h.floor(), h.ceil()
    x_low = ordered.filter(cumulative > low).first()
    x_high = ordered.filter(cumulative > high).first()
    return x_low + (h - low) * (x_high - x_low)
