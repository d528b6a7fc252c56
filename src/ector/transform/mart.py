"""The case mart: one row per consolidated case with every derived column and outcome of docs/gold-contract.md.

`case_mart` builds it part by part (`transform.parts`), writing each part through a materialiser (the
runner's scratch files for `ector transform`, memory for the library and the tests), and returns the plan
that reads the parts back in order with the expected rates added: columns, order and dtypes of the case-mart
schema (`schema.CaseMart`, generated from the data dictionary), sorted by surgery_start then case_id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from ector.contract import TABLE_NAMES, table
from ector.errors import InputError, MissingInputError
from ector.materialise import InMemory, Materialiser
from ector.settings import AnalysisSettings
from ector.transform import derive, outcomes
from ector.transform.dictionary import MART_COLUMN_NAMES, MART_COLUMNS, unavailable_columns
from ector.transform.enrich import enrich
from ector.transform.risk import check_strata, with_expected
from ector.transform.risk_models import (
    RiskModels,
    check_factors,
    fit_risk_models,
    pattern_columns,
    pattern_counts,
    supplied_counts,
)
from ector.transform.schema import CaseMart

MART_SORT: tuple[str, str] = ("surgery_start", "case_id")
PART_CASES = 1_000_000  # cases of a part, about (the `mart_part_cases` setting's default)
# Each expected column: the outcome whose stratum rate it is, and the per-case predicted risk that overrides it.
EXPECTED: dict[str, tuple[str, str | None]] = {
    "expected_mortality_30d": ("mortality_30d", "predicted_mortality"),
    "expected_complication_major": ("complication_major", None),
}


@dataclass(frozen=True)
class MartPlan:
    """The case mart's plan, how many parts it was built in, and the risk models of its expected columns."""

    plan: pl.LazyFrame
    parts: int
    risk_models: RiskModels


def case_mart(
    tables: Mapping[str, pl.LazyFrame],
    analysis: AnalysisSettings,
    out: Materialiser | None = None,
    *,
    part_cases: int = PART_CASES,
) -> MartPlan:
    """Return the case mart of consolidated `tables` (cases mandatory, the others optional), built in parts of
    about `part_cases` cases written through `out`.

    Outcomes needing an absent table are null for every case (see `unavailable_outcomes`). Expected rates come
    from the risk models of the whole mart (`risk_models`: fitted, or stratum rates), so filtering the returned
    plan afterwards does not change them. MissingInputError without cases, ConfigError for a risk stratum or
    factor that is not a mart column, or a refused factor.
    """
    from ector.transform.parts import earlier_cases, part_plan, parts_of, surgery_days

    out = out or InMemory()
    check_mart_inputs(tables, analysis)
    window = analysis.outcome_window_days
    cases = tables["cases"].with_columns(derive.surgery_date())
    days = out.collect(surgery_days(cases, part_cases))
    earlier = out.collect(earlier_cases(cases, days))
    parts = parts_of(days)
    mart = out.spill_in_turn("part", (part_plan(tables, part, earlier, window) for part in parts))
    unavailable = unavailable_columns(present_tables(tables))
    wanted = {name: spec for name, spec in EXPECTED.items() if name not in unavailable}
    # The counts the models are fitted on are collected first (one pass over the parts), so the last pass streams.
    supplied = {name: (outcome, given) for name, (outcome, given) in wanted.items() if given is not None}
    collected = out.collect_all(
        [
            pattern_counts(mart, [outcome for outcome, _ in wanted.values()], pattern_columns(analysis)),
            *(supplied_counts(mart, outcome, given) for outcome, given in supplied.values()),
        ]
    )
    models = fit_risk_models(collected[0], wanted, analysis, dict(zip(supplied, collected[1:], strict=True)))
    for name, (outcome, given) in EXPECTED.items():
        if name in unavailable:
            mart = mart.with_columns(pl.lit(None, dtype=pl.Float64).alias(name))
        else:
            rates = models.expected[name]
            mart = with_expected(mart, outcome, rates.keys, name=name, given=given, rates=rates.rates)
    return MartPlan(in_mart_order(mart), len(parts), models)


def check_mart_inputs(tables: Mapping[str, pl.LazyFrame], analysis: AnalysisSettings) -> list[str]:
    """Return the risk strata; MissingInputError without cases, ConfigError for a stratum or factor not in the
    mart, or a refused factor."""
    if "cases" not in tables:
        raise MissingInputError("the case mart needs the cases table", "run `ector consolidate` first")
    outcomes = [c.name for c in MART_COLUMNS if c.outcome]
    check_factors(analysis.risk_factors, MART_COLUMN_NAMES, outcomes)
    return check_strata(analysis.risk_strata, MART_COLUMN_NAMES)


def case_rows(
    cases: pl.LazyFrame,
    tables: Mapping[str, pl.LazyFrame],
    window: int,
    *,
    later: pl.LazyFrame | None = None,
    case_seq: pl.Expr | None = None,
) -> pl.LazyFrame:
    """Return `cases` (with surgery_date) joined and derived into every mart column but the expected rates.

    `tables` gives the parent and event tables; `later` and `case_seq` are for a part of the mart: the cases
    a reoperation is looked for in (see `outcomes.event_outcomes`) and the surgeon_case_seq expression.
    """
    present = present_tables(tables)
    # Event outcomes are computed on a bare projection of the cases table and joined back once: sorting and
    # joining five columns is far cheaper than forty, and a plan used twice would be computed twice.
    events = outcomes.event_outcomes(
        outcomes.case_keys(cases), tables.get("complications"), tables.get("encounters"), window, later=later
    )
    frame = enrich(cases, tables).join(events, on="case_id", how="left")
    frame = frame.with_columns(
        derive.los_days(),
        derive.operative_minutes(),
        derive.age_at(),
        *derive.period_keys(),
        derive.surgeon_case_seq() if case_seq is None else case_seq,
        derive.conversion(),
        outcomes.mortality(window, patients_available="patients" in present),
    )
    return frame.with_columns(derive.age_band())


def in_mart_order(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Return the mart columns of `frame` in dictionary order and dtypes (casts are no-ops unless a dtype drifted)."""
    return CaseMart.cast(frame)


def present_tables(tables: Mapping[str, pl.LazyFrame]) -> list[str]:
    """Return the canonical tables present in `tables`, in contract order."""
    return [name for name in TABLE_NAMES if name in tables]


def unavailable_outcomes(tables: Mapping[str, pl.LazyFrame]) -> list[str]:
    """Return the mart outcomes that are null for every case because a table they need is absent."""
    return unavailable_columns(present_tables(tables), outcomes_only=True)


def check_consolidated(tables: dict[str, pl.LazyFrame]) -> None:
    """Raise InputError when a table lacks a canonical column or holds it in another dtype (footer only)."""
    for name, frame in tables.items():
        schema = frame.collect_schema()
        for column in table(name).columns:
            if column.name not in schema:
                raise InputError(f"consolidated table {name} has no column {column.name}", "rerun `ector consolidate`")
            if schema[column.name] != column.dtype:
                raise InputError(
                    f"consolidated {name}.{column.name} is {schema[column.name]}, not {column.dtype}",
                    "rerun `ector consolidate`",
                )
