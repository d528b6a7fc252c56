"""The case mart: one row per consolidated case with every derived column and outcome of gold-contract.md.

`case_mart` is a pure function of LazyFrames: it reads and writes nothing, and returns one lazy plan whose
columns, order and dtypes are those of the data dictionary (`dictionary.MART_COLUMNS`), sorted by
surgery_start then case_id.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from ector.contract import TABLE_NAMES
from ector.errors import MissingInputError
from ector.settings import AnalysisSettings
from ector.transform import derive, outcomes
from ector.transform.dictionary import MART_COLUMN_NAMES, MART_COLUMNS, unavailable_columns
from ector.transform.enrich import enrich
from ector.transform.risk import check_strata, expected_rate

MART_SORT: tuple[str, str] = ("surgery_start", "case_id")
# Each expected column: the outcome whose stratum rate it is, and the per-case predicted risk that overrides it.
EXPECTED: dict[str, tuple[str, str | None]] = {
    "expected_mortality_30d": ("mortality_30d", "predicted_mortality"),
    "expected_complication_major": ("complication_major", None),
}


def case_mart(tables: Mapping[str, pl.LazyFrame], analysis: AnalysisSettings) -> pl.LazyFrame:
    """Return the case-mart plan built from consolidated `tables` (cases mandatory, the others optional).

    Outcomes needing an absent table are null for every case (see `unavailable_outcomes`). Expected rates are
    stratum rates over the whole mart, so filtering the returned plan afterwards does not change them.
    One plan holds every case at once; `transform.parts` builds the same mart part by part.
    """
    strata = check_mart_inputs(tables, analysis)
    cases = tables["cases"].with_columns(derive.surgery_date())
    frame = case_rows(cases, tables, analysis.outcome_window_days)
    frame = frame.with_columns(_expected_rates(strata, unavailable_columns(present_tables(tables))))
    # Joins do not keep row order: this one sort is what makes the output deterministic.
    return in_mart_order(frame).sort(*MART_SORT)


def check_mart_inputs(tables: Mapping[str, pl.LazyFrame], analysis: AnalysisSettings) -> list[str]:
    """Return the risk strata; MissingInputError without cases, ConfigError for a stratum not in the mart."""
    if "cases" not in tables:
        raise MissingInputError("the case mart needs the cases table", "run `ector consolidate` first")
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
    return frame.select(pl.col(c.name).cast(c.dtype) for c in MART_COLUMNS)


def _expected_rates(strata: list[str], unavailable: list[str]) -> list[pl.Expr]:
    # Windows over the strata rather than group_by + join back: the join would compute the frame twice.
    return [
        (pl.lit(None, dtype=pl.Float64) if name in unavailable else expected_rate(outcome, strata, given=given)).alias(
            name
        )
        for name, (outcome, given) in EXPECTED.items()
    ]


def present_tables(tables: Mapping[str, pl.LazyFrame]) -> list[str]:
    """Return the canonical tables present in `tables`, in contract order."""
    return [name for name in TABLE_NAMES if name in tables]


def unavailable_outcomes(tables: Mapping[str, pl.LazyFrame]) -> list[str]:
    """Return the mart outcomes that are null for every case because a table they need is absent."""
    return unavailable_columns(present_tables(tables), outcomes_only=True)
