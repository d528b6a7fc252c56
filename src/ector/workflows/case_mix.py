"""Case mix of units against all units: share of patients aged 80+, ASA >= 3, emergency and robotic cases.

A unit's outcomes can only be read beside its case mix: a surgeon taking the emergencies will have worse
crude rates. Each share is over the unit's cases where the characteristic is known; the reference is the
same share over every case of the mart.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from ector.workflows.mart import Availability

# characteristic -> (mart column, condition). Each share's denominator is the cases with the column known.
CHARACTERISTICS: Final[dict[str, tuple[str, pl.Expr]]] = {
    "age_80_plus": ("age_band", pl.col("age_band") == "80+"),
    "asa_3_plus": ("asa_class", pl.col("asa_class") >= 3),
    "emergency": ("urgency", pl.col("urgency") == "emergency"),
    "robotic": ("approach", pl.col("approach") == "robotic"),
}


def case_mix_plan(mart: pl.LazyFrame, unit: str) -> pl.LazyFrame:
    """Return the plan of one row per unit with `<characteristic>__known` and `<characteristic>__count` (streams)."""
    exprs = []
    for name, (column, condition) in CHARACTERISTICS.items():
        exprs += [
            pl.col(column).is_not_null().sum().cast(pl.Int64).alias(f"{name}__known"),
            condition.fill_null(False).sum().cast(pl.Int64).alias(f"{name}__count"),
        ]
    return mart.group_by(unit).agg(exprs).rename({unit: "unit_id"})


def case_mix_table(per_unit: pl.DataFrame, availability: Availability) -> pl.DataFrame:
    """Return the long case-mix table, sorted by unit_id and characteristic order.

    Columns: `unit_id, characteristic, available, cases, count, percent, all_cases, all_count, all_percent`;
    percent is 0-100 over the cases with the characteristic known. A characteristic whose column is entirely
    null in the mart has available = false and null counts and percentages, never zeros.
    """
    parts = []
    for order, (name, (column, _)) in enumerate(CHARACTERISTICS.items()):
        ok = availability[column]
        known, count = pl.col(f"{name}__known"), pl.col(f"{name}__count")
        parts.append(
            per_unit.select(
                "unit_id",
                characteristic=pl.lit(name),
                __order=pl.lit(order),
                available=pl.lit(ok),
                cases=pl.when(ok).then(known),
                count=pl.when(ok).then(count),
                all_cases=pl.when(ok).then(known.sum()),
                all_count=pl.when(ok).then(count.sum()),
            )
        )
    table = pl.concat(parts)
    return (
        table.with_columns(
            percent=_percent(pl.col("count"), pl.col("cases")),
            all_percent=_percent(pl.col("all_count"), pl.col("all_cases")),
        )
        .sort("unit_id", "__order", nulls_last=True)
        .select(
            "unit_id",
            "characteristic",
            "available",
            "cases",
            "count",
            "percent",
            "all_cases",
            "all_count",
            "all_percent",
        )
    )


def _percent(count: pl.Expr, cases: pl.Expr) -> pl.Expr:
    return pl.when(cases > 0).then(100 * count / cases)
