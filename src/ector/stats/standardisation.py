"""Case-mix adjustment: expected counts per unit, and the risk-adjusted rate.

docs/methods.md, "Expected counts": E is the sum of the per-case predicted risks when the Gold layer has them;
otherwise indirect standardisation, E = sum over strata of (unit's cases in the stratum x overall rate in the
stratum). Both return the funnel input shape: `unit_id, outcome, cases, observed, expected`.

Cases whose outcome (or predicted risk) is null are left out of O, E and N alike, so that O/E compares the
same cases on both sides.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl


def expected_by_strata(
    cases: pl.DataFrame | pl.LazyFrame,
    *,
    unit: str,
    outcome: str,
    strata: Sequence[str],
) -> pl.LazyFrame:
    """Return per unit `unit_id, outcome, cases, observed, expected` with E by indirect standardisation.

    `outcome` is a 0/1 or boolean column. A null stratum value is a stratum of its own. With no strata,
    E = N x the overall rate. Sorted by unit_id.
    """
    events = pl.col(outcome).cast(pl.Int64)
    known = cases.lazy().filter(pl.col(outcome).is_not_null())
    strata = list(strata)
    # Aggregate to unit x stratum first: only sums stream, and the join is on a small frame.
    cells = known.group_by([unit, *strata]).agg(n=pl.len(), events=events.sum())
    if strata:
        rates = cells.group_by(strata).agg(rate=pl.col("events").sum() / pl.col("n").sum())
        cells = cells.join(rates, on=strata, how="left", nulls_equal=True)
    else:
        cells = cells.with_columns(rate=pl.col("events").sum() / pl.col("n").sum())
    return (
        cells.group_by(unit)
        .agg(
            cases=pl.col("n").sum().cast(pl.Int64),
            observed=pl.col("events").sum(),
            expected=(pl.col("n") * pl.col("rate")).sum(),
        )
        .select(
            pl.col(unit).alias("unit_id"),
            pl.lit(outcome).alias("outcome"),
            "cases",
            "observed",
            "expected",
        )
        .sort("unit_id")
    )


def expected_from_risk(
    cases: pl.DataFrame | pl.LazyFrame,
    *,
    unit: str,
    outcome: str,
    risk: str,
) -> pl.LazyFrame:
    """Return per unit `unit_id, outcome, cases, observed, expected` with E = the sum of predicted risks.

    Only cases with both an outcome and a predicted risk count. Sorted by unit_id.
    """
    known = cases.lazy().filter(pl.col(outcome).is_not_null() & pl.col(risk).is_not_null())
    return (
        known.group_by(unit)
        .agg(
            cases=pl.len().cast(pl.Int64),
            observed=pl.col(outcome).cast(pl.Int64).sum(),
            expected=pl.col(risk).cast(pl.Float64).sum(),
        )
        .select(
            pl.col(unit).alias("unit_id"),
            pl.lit(outcome).alias("outcome"),
            "cases",
            "observed",
            "expected",
        )
        .sort("unit_id")
    )


def risk_adjusted_rate(observed: pl.Expr, expected: pl.Expr, crude_rate: pl.Expr | float) -> pl.Expr:
    """Return the risk-adjusted rate expression, O/E x the overall crude rate (null where E <= 0)."""
    expected_f = expected.cast(pl.Float64)
    return pl.when(expected_f > 0).then(observed.cast(pl.Float64) / expected_f * crude_rate)
