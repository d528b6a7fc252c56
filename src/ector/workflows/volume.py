"""Volume and durations of units: cases, distinct patients, first and last surgery, median and IQR of times.

Counts, minima and maxima stream. Medians, quantiles and distinct counts do not (stack notes): they run on a
projection of just the grouping columns and the measured column, so the part that falls back to the in-memory
engine holds a few narrow columns rather than the whole mart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

# Skewed measures shown as median and IQR (methods.md: means mislead for LOS and operative time).
SPREAD_MEASURES: Final = ("operative_minutes", "los_days")


def volume_plan(
    mart: pl.LazyFrame, unit: str, keys: Sequence[str], attributes: Sequence[str] = (), *, patients: bool = True
) -> pl.LazyFrame:
    """Return the plan of one row per unit and `keys`: attributes, volume, dates and spread, sorted.

    Columns: `unit_id, *keys, *attributes, cases, patients, first_surgery, last_surgery`, then for each of
    operative_minutes and los_days `<measure>_median, _q1, _q3` (linear interpolation, R type 7) and
    `<measure>_cases` (how many cases have the measure). Without `patients` the distinct-patient count, the
    costliest part (a distinct over every unit x patient pair: 5 s and 1.2 GB at 10M cases), is left out.
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
    distinct = (
        mart.select(*group, "patient_id")
        .filter(pl.col("patient_id").is_not_null())
        .unique()
        .group_by(group)
        .agg(patients=pl.len().cast(pl.Int64))
    )
    spread = mart.select(*group, *SPREAD_MEASURES).group_by(group).agg(*_spread_exprs())
    volume = counts.join(spread, on=group, how="left", nulls_equal=True)
    if patients:
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
            *(["patients"] if patients else []),
            "first_surgery",
            "last_surgery",
            *(f"{m}_{s}" for m in SPREAD_MEASURES for s in ("median", "q1", "q3", "cases")),
        )
        .sort(["unit_id", *keys], nulls_last=True)
    )


def _spread_exprs() -> list[pl.Expr]:
    exprs = []
    for measure in SPREAD_MEASURES:
        x = pl.col(measure).cast(pl.Float64)
        exprs += [
            x.median().alias(f"{measure}_median"),
            x.quantile(0.25, "linear").alias(f"{measure}_q1"),
            x.quantile(0.75, "linear").alias(f"{measure}_q3"),
            x.count().cast(pl.Int64).alias(f"{measure}_cases"),
        ]
    return exprs
