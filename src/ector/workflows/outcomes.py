"""Outcome rates of units: n/N, Wilson interval, expected count, O/E with its exact Poisson interval, adjusted rate.

Observed and expected counts are computed once per unit x procedure family x period ("cells"); expected
counts are sums, so every coarser scope (overall, per family, per period) is a cheap re-aggregation of the
cells, and the stratum rates of indirect standardisation are always those of the whole mart.

Indirect standardisation, E = sum over strata of (unit's cases in the stratum x overall stratum rate), is
computed as the sum of each case's stratum rate: the same number (tests check it against
`stats.standardisation.expected_by_strata`), but grouping cells by unit x family x period x strata, as that
function would, makes tens of millions of groups at 10M cases (83 s, 2.5 GB measured), while joining the
few hundred stratum rates back onto the cases streams. Rates and intervals come from `stats.intervals`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import polars as pl

from ector.settings import RiskModel
from ector.stats.intervals import poisson_ratio_bounds, wilson_bounds, z_for_level
from ector.stats.standardisation import risk_adjusted_rate
from ector.workflows.mart import OUTCOMES, Availability
from ector.workflows.order import combined_key

_STRATUM: Final = "__stratum"
# Expected counts are sums of many fractions. Summed as floats, their last bits depend on the order of the terms,
# which polars' parallel group-by changes from run to run, so two runs on the same input wrote different files.
# Each term is taken as a multiple of 2^-64 (exactly so for a term above 2^-11; a smaller one is rounded by at
# most 2.7e-20) and the terms are summed as 128-bit integers: the exact sum, rounded once to a float, whatever
# the order of the terms.
_EXPECTED_SCALE: Final = 2.0**64
LEVEL: Final = 0.95  # the interval level of rates and O/E ratios (issue #6: "Wilson 95% interval")
CELL_KEYS: Final = ("unit_id", "procedure_family", "period")
# Metric columns of an outcome, in output order (long form; the wide form prefixes them with the outcome).
METRICS: Final = (
    "events",
    "cases",
    "rate",
    "rate_lower",
    "rate_upper",
    "expected",
    "oe",
    "oe_lower",
    "oe_upper",
    "risk_adjusted_rate",
)
RATE_METRICS: Final = METRICS[:5]
# The outcomes whose expected risk the case mart carries, and its column (transform's risk models).
MART_EXPECTED: Final = {"mortality_30d": "expected_mortality_30d", "complication_major": "expected_complication_major"}
_MART_METHODS: Final[dict[str, dict[str, str]]] = {
    "strata": {"mortality_30d": "predicted risk (predicted_mortality)"},
    "logistic": {
        "mortality_30d": "predicted risk (predicted_mortality); the case mart's risk model where none is given",
        "complication_major": "the case mart's risk model (logistic regression, or strata where too few events: "
        "see transform/risk_models.parquet)",
    },
}  # what the patient view and trends show: no expected counts there
_CELL_SCHEMA: Final = {
    "unit_id": pl.String,
    "procedure_family": pl.String,
    "period": pl.String,
    "outcome": pl.String,
    "cases": pl.Int64,
    "observed": pl.Int64,
    "expected": pl.Float64,
    "expected_method": pl.String,
}


def outcome_cells(
    frame: pl.DataFrame,
    unit: str,
    availability: Availability,
    strata: Sequence[str],
    *,
    collect: Callable[[pl.LazyFrame], pl.DataFrame],
    whole_rates: pl.DataFrame | None = None,
    risk_model: RiskModel = "strata",
) -> pl.LazyFrame:
    """Return the plan of `unit_id, procedure_family, period, outcome, cases, observed, expected, expected_method`.

    One row per cell and available outcome. The outcomes of `expected_from_mart` take the mart's expected risk
    (mortality's when predicted_mortality is given; under the logistic `risk_model`, every outcome the mart has
    an expected column for: its fitted risk model's); every other outcome is indirectly standardised over
    `strata`. Cases whose outcome (or predicted risk) is null count in none of N, O and E.
    The stratum rates are collected here, with `collect`, from the mart's projection `frame`, unless `frame` is a
    part of the mart: then `whole_rates` holds the whole mart's (`stratum_rates`).
    """
    mart = frame.lazy()
    outcomes = availability.outcomes()
    if not outcomes:
        return pl.LazyFrame(schema=_CELL_SCHEMA)
    from_mart = expected_from_mart(availability, risk_model)
    standardised = [o for o in outcomes if o not in from_mart]
    strata = list(strata)
    cases = mart.select(
        pl.col(unit).alias("unit_id"),
        *(c for c in dict.fromkeys(["procedure_family", "period", *strata, *outcomes, *from_mart.values()])),
    )
    if standardised:
        # Stratum rate = known events / known cases (mean ignores nulls); a null stratum is a stratum of its own.
        # Collected before the join: joined while still being aggregated from the same mart, they made the
        # streaming engine hold the cases meanwhile (10M cases: the cells took 1.14 GB, 0.35 GB this way).
        rate_exprs = [pl.col(o).cast(pl.Float64).mean().alias(f"__rate_{o}") for o in standardised]
        stratum = combined_key(frame, strata) if strata else None
        if whole_rates is not None and strata:
            # A part of the mart: the rates are the whole mart's (`stratum_rates`), keyed by the strata as text.
            as_text = [pl.col(s).cast(pl.String) for s in strata if _is_key(frame.schema[s])]
            cases = cases.with_columns(as_text).join(whole_rates.lazy(), on=strata, how="left", nulls_equal=True)
        elif whole_rates is not None:
            cases = cases.join(whole_rates.lazy(), how="cross")
        elif stratum is not None:
            # The strata as one integer: a join on four columns (text among them) took 1.5 s at 10M cases.
            rates = collect(mart.group_by(stratum.alias(_STRATUM)).agg(rate_exprs)).lazy()
            cases = cases.with_columns(stratum.alias(_STRATUM)).join(rates, on=_STRATUM, how="left")
        elif strata:
            rates = collect(mart.group_by(strata).agg(rate_exprs)).lazy()
            cases = cases.join(rates, on=strata, how="left", nulls_equal=True)
        else:
            cases = cases.join(collect(mart.select(rate_exprs)).lazy(), how="cross")
    aggregations: list[pl.Expr] = []
    for outcome in outcomes:
        risk = pl.col(from_mart.get(outcome, f"__rate_{outcome}"))
        known = pl.col(outcome).is_not_null() & risk.is_not_null()
        # when/then rather than filter inside the aggregation: element-wise, so the group-by streams.
        aggregations += [
            known.cast(pl.Int64).sum().alias(f"{outcome}__cases"),
            pl.when(known).then(pl.col(outcome).cast(pl.Int64)).sum().alias(f"{outcome}__observed"),
            exact_sum(pl.when(known).then(risk.cast(pl.Float64))).alias(f"{outcome}__expected"),
        ]
    cells = cases.group_by(CELL_KEYS).agg(aggregations)
    method = f"indirect standardisation over {' x '.join(strata)}" if strata else "overall rate (no strata)"
    return pl.concat(
        [
            cells.select(
                *CELL_KEYS,
                outcome=pl.lit(outcome),
                cases=pl.col(f"{outcome}__cases"),
                observed=pl.col(f"{outcome}__observed"),
                expected=pl.col(f"{outcome}__expected"),
                expected_method=pl.lit(method if outcome in standardised else _MART_METHODS[risk_model][outcome]),
            )
            for outcome in outcomes
        ]
    )


def exact_sum(terms: pl.Expr) -> pl.Expr:
    """The sum of `terms` (non-negative floats, each taken to a multiple of 2^-64), the same in any order."""
    return (terms * _EXPECTED_SCALE).round().cast(pl.Int128).sum().cast(pl.Float64) / _EXPECTED_SCALE


def outcome_rates(cells: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Return per `keys` and outcome: the METRICS columns and expected_method, from collected cells.

    The risk-adjusted rate is O/E times the outcome's crude rate over the whole mart. O/E and its interval are
    null where nothing is expected (E = 0).
    """
    keys = list(keys)
    crude = cells.group_by("outcome").agg(crude_rate=pl.col("observed").sum() / pl.col("cases").sum())
    grouped = (
        cells.group_by([*keys, "outcome"])
        .agg(
            events=pl.col("observed").sum(),
            cases=pl.col("cases").sum(),
            expected=exact_sum(pl.col("expected")),
            expected_method=pl.col("expected_method").first(),
        )
        .join(crude, on="outcome", how="left")
    )
    lower, upper = poisson_ratio_bounds(grouped["events"].to_numpy(), grouped["expected"].to_numpy(), LEVEL)
    rate_lower, rate_upper = wilson_bounds(pl.col("events"), pl.col("cases"), z_for_level(LEVEL))
    has_expected = pl.col("expected") > 0
    return grouped.with_columns(
        rate=pl.when(pl.col("cases") > 0).then(pl.col("events") / pl.col("cases")),
        rate_lower=rate_lower,
        rate_upper=rate_upper,
        oe=pl.when(has_expected).then(pl.col("events") / pl.col("expected")),
        oe_lower=pl.Series(lower, dtype=pl.Float64).fill_nan(None),
        oe_upper=pl.Series(upper, dtype=pl.Float64).fill_nan(None),
        risk_adjusted_rate=risk_adjusted_rate(pl.col("events"), pl.col("expected"), pl.col("crude_rate")),
    ).select(*keys, "outcome", *METRICS, "expected_method")


def long_outcomes(
    skeleton: pl.DataFrame, rates: pl.DataFrame, keys: Sequence[str], availability: Availability
) -> pl.DataFrame:
    """Return one row per skeleton row (the `keys` present in the mart) and outcome, in OUTCOMES order.

    `available` is false for an outcome that is entirely null in the mart: its metrics stay null, never zero.
    An available outcome with no known value in a cell reads 0 of 0 cases with a null rate.
    """
    keys = list(keys)
    names = pl.DataFrame({"outcome": list(OUTCOMES), "__order": list(range(len(OUTCOMES)))})
    available = pl.col("outcome").is_in(availability.outcomes())
    return (
        skeleton.select(keys)
        .join(names, how="cross")
        # The keys as the skeleton has them (Enums of a view's projection, text when no outcome was counted).
        .join(rates.cast({k: skeleton.schema[k] for k in keys}), on=[*keys, "outcome"], how="left", nulls_equal=True)
        .with_columns(
            available=available,
            events=pl.when(available).then(pl.col("events").fill_null(0)),
            cases=pl.when(available).then(pl.col("cases").fill_null(0)),
        )
        .sort([*keys, "__order"], nulls_last=True)
        .select(*keys, "outcome", "available", *METRICS, "expected_method")
    )


def wide_outcomes(long: pl.DataFrame, keys: Sequence[str], metrics: Sequence[str] = METRICS) -> pl.DataFrame:
    """Return one row per `keys` with `<outcome>_<metric>` columns for every outcome, from the long form."""
    keys = list(keys)
    wide = long.select(keys).unique(maintain_order=True)
    for outcome in OUTCOMES:
        part = long.filter(pl.col("outcome") == outcome).select(
            *keys, *(pl.col(m).alias(f"{outcome}_{m}") for m in metrics)
        )
        wide = wide.join(part, on=keys, how="left", nulls_equal=True, maintain_order="left")
    return wide


def stratum_rates(
    mart: pl.LazyFrame,
    availability: Availability,
    strata: Sequence[str],
    collect: Callable[[pl.LazyFrame], pl.DataFrame],
    risk_model: RiskModel = "strata",
) -> pl.DataFrame:
    """Return the whole mart's rate of each indirectly standardised outcome per stratum (`__rate_<outcome>`), keyed
    by the strata as text: what `outcome_cells` joins to a part of the mart."""
    from_mart = expected_from_mart(availability, risk_model)
    standardised = [o for o in availability.outcomes() if o not in from_mart]
    rate_exprs = [pl.col(o).cast(pl.Float64).mean().alias(f"__rate_{o}") for o in standardised]
    if not strata:
        return collect(mart.select(rate_exprs))
    return collect(mart.group_by(list(strata)).agg(rate_exprs))  # the mart's own dtypes: text, not Enums


def expected_from_mart(availability: Availability, risk_model: RiskModel) -> dict[str, str]:
    """Return outcome -> the mart column holding its expected risk, for the outcomes whose E is the mart's.

    Mortality's when predicted_mortality is given (the mart's column is that risk, the mart's model filling the
    cases without one). Under the logistic risk model, every outcome with an expected column: the mart's risk
    model gives it (its fitted model, or stratum rates where too few events; see transform/risk_models.parquet).
    """
    chosen = {}
    for outcome, column in MART_EXPECTED.items():
        if not (availability[outcome] and availability[column]):
            continue
        if risk_model == "logistic" or (outcome == "mortality_30d" and availability["predicted_mortality"]):
            chosen[outcome] = column
    return chosen


def _is_key(dtype: pl.DataType) -> bool:
    return isinstance(dtype, (pl.Enum, pl.Categorical))
