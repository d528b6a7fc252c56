"""Volume and durations of units: cases, distinct patients, first and last surgery, median and IQR of times.

The views aggregate a projection of the mart held in memory (`workflows.load`), so medians, quartiles and
distinct counts are polars' own group aggregations: one group-by per scope computes them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

# Skewed measures shown as median and IQR (docs/methods.md: means mislead for LOS and operative time).
SPREAD_MEASURES: Final = ("operative_minutes", "los_days")


def volume_plan(
    mart: pl.LazyFrame, unit: str, keys: Sequence[str], attributes: Sequence[str] = (), *, patients: bool = False
) -> pl.LazyFrame:
    """Return the plan of one row per unit and `keys`: attributes, volume, dates and spread, sorted.

    Columns: `unit_id, *keys, *attributes, cases, patients, first_surgery, last_surgery`, then for each of
    operative_minutes and los_days `<measure>_median, _q1, _q3` (linear interpolation, R type 7) and
    `<measure>_cases` (how many cases have the measure). `patients` (distinct non-null patient ids) only when
    asked for. An attribute (e.g. specialty) is its largest value within the unit: deterministic, and the only
    value when it comes from the unit's own table.
    """
    group = [unit, *keys]
    volume = mart.group_by(group).agg(
        *(pl.col(a).max() for a in attributes),
        cases=pl.len().cast(pl.Int64),
        **({"patients": pl.col("patient_id").drop_nulls().n_unique().cast(pl.Int64)} if patients else {}),
        first_surgery=pl.col("surgery_date").min(),
        last_surgery=pl.col("surgery_date").max(),
        **{name: value for measure in SPREAD_MEASURES for name, value in spread(measure).items()},
    )
    return volume.rename({unit: "unit_id"}).select(
        "unit_id",
        *keys,
        *attributes,
        "cases",
        *(["patients"] if patients else []),
        "first_surgery",
        "last_surgery",
        *(f"{m}_{s}" for m in SPREAD_MEASURES for s in ("median", "q1", "q3", "cases")),
    )


def spread(measure: str) -> dict[str, pl.Expr]:
    """Return, for a group_by, `<measure>_median, _q1, _q3` (linear, R type 7) and `_cases` (non-null values)."""
    value = pl.col(measure).cast(pl.Float64)
    return {
        f"{measure}_median": value.quantile(0.5, "linear"),
        f"{measure}_q1": value.quantile(0.25, "linear"),
        f"{measure}_q3": value.quantile(0.75, "linear"),
        f"{measure}_cases": value.count().cast(pl.Int64),
    }
