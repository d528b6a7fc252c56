"""The shared surgeon and site view: one implementation, parameterised by the unit column.

The mart's projection is read once into memory (`workflows.load`); every aggregate is a plan over it, and the
plans are collected together (polars runs them side by side); what follows works on those small per-unit
results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import polars as pl

from ector.materialise import InMemory, Materialiser
from ector.settings import AnalysisSettings
from ector.workflows.case_mix import CHARACTERISTICS, case_mix_plan, case_mix_table
from ector.workflows.funnels import unit_funnels
from ector.workflows.load import load_view
from ector.workflows.mart import OUTCOMES, Availability, availability_table, usable_strata
from ector.workflows.monitoring import MONITORED, cusum_table
from ector.workflows.order import as_text, sorted_by
from ector.workflows.outcomes import METRICS, long_outcomes, outcome_cells, outcome_rates, wide_outcomes
from ector.workflows.plan import Frame
from ector.workflows.volume import SPREAD_MEASURES, volume_plan

Unit = Literal["surgeon_id", "site_id"]

# Descriptive columns of a unit, shown in its summary row (null when the unit's own table is absent).
UNIT_ATTRIBUTES: Final[dict[str, tuple[str, ...]]] = {
    "surgeon_id": ("specialty",),
    "site_id": ("site_name", "site_type", "region"),
}
# scope -> (table of the wide form, grouping columns besides the unit)
SCOPES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "overall": ("summary", ()),
    "family": ("by_family", ("procedure_family",)),
    "period": ("by_period", ("period",)),
}
OUTCOME_COLUMNS: Final = ("unit_id", "scope", "scope_value", "outcome", "available", *METRICS, "expected_method")


def unit_columns(unit: Unit, analysis: AnalysisSettings) -> list[str]:
    """Return the mart columns the unit view of `unit` reads."""
    monitored = [c for pair in MONITORED.items() for c in pair]
    mix = [column for column, _ in CHARACTERISTICS.values()]
    return list(
        dict.fromkeys(
            [
                unit,
                "patient_id",
                "procedure_family",
                "period",
                "surgery_date",
                *UNIT_ATTRIBUTES[unit],
                *SPREAD_MEASURES,
                *OUTCOMES,
                "expected_mortality_30d",
                *analysis.risk_strata,
                *monitored,
                *mix,
            ]
        )
    )


def unit_view(
    mart: pl.LazyFrame, unit: Unit, analysis: AnalysisSettings, out: Materialiser | None = None
) -> dict[str, Frame]:
    """Return the tables every unit view has: summary, by_family, by_period, outcomes, case_mix, cusum, funnel,
    availability (see `unit_tables`)."""
    return as_text_tables(unit_tables(mart, unit, analysis, out or InMemory())[0])


def unit_tables(
    mart: pl.LazyFrame, unit: Unit, analysis: AnalysisSettings, out: Materialiser, *, extra: Sequence[str] = ()
) -> tuple[dict[str, Frame], pl.DataFrame, Availability]:
    """Return the tables every unit view has (summary, by_family, by_period, outcomes, case_mix, cusum, funnel,
    availability), the projection they were computed from, and the mart's availability. Units, families and
    periods are Enums in all of them (`order.as_keys`): the view's own function turns its tables to text.

    summary/by_family/by_period: one row per unit (and family or period) with volume, median and IQR of
    operative minutes and LOS, and `<outcome>_<metric>` for every outcome. outcomes: the same metrics in long
    form over the three scopes. Columns are documented in docs/workflows.md. `extra` names more mart columns
    to load, for a view that builds more tables from the same projection.
    """
    keys = [unit, "procedure_family", "period", *analysis.risk_strata]
    frame, availability = load_view(mart, [*unit_columns(unit, analysis), *extra], analysis, out, keys=keys)
    lazy = frame.lazy()
    strata = usable_strata(analysis, availability)
    plans = [
        outcome_cells(frame, unit, availability, strata, collect=out.collect),
        case_mix_plan(lazy, unit),
        *(
            volume_plan(lazy, unit, keys, UNIT_ATTRIBUTES[unit], patients=True)
            if scope == "overall"
            else volume_plan(lazy, unit, keys)
            for scope, (_, keys) in SCOPES.items()
        ),
    ]
    cells, mix, *volumes = out.collect_all(plans)
    wide: dict[str, pl.DataFrame] = {}
    long_parts = []
    for (scope, (table, scope_keys)), volume in zip(SCOPES.items(), volumes, strict=True):
        keys = ["unit_id", *scope_keys]
        volume = sorted_by(volume, keys)
        long = long_outcomes(volume, outcome_rates(cells, keys), keys, availability)
        wide[table] = volume.join(wide_outcomes(long, keys), on=keys, how="left", nulls_equal=True)
        value = pl.col(scope_keys[0]).cast(pl.String) if scope_keys else pl.lit("all")
        long_parts.append(long.with_columns(scope=pl.lit(scope), scope_value=value))
        if scope == "overall":
            wide["funnel"] = unit_funnels(long, analysis)
    tables: dict[str, Frame] = {name: _sorted(frame) for name, frame in wide.items()}
    tables["outcomes"] = _sort_outcomes(pl.concat(long_parts, how="diagonal"))
    tables["case_mix"] = case_mix_table(mix, availability)
    tables["cusum"] = cusum_table(frame, unit, availability, out)
    tables["availability"] = availability_table(availability, analysis, strata)
    return tables, frame, availability


def as_text_tables(tables: dict[str, Frame]) -> dict[str, Frame]:
    """Return the view's tables with their Enum key columns as text, as the tables are written."""
    return {name: as_text(table) if isinstance(table, pl.DataFrame) else table for name, table in tables.items()}


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    """Return a wide table sorted by its leading key columns (the funnel is already in its own order)."""
    keys = [c for c in ("unit_id", "procedure_family", "period") if c in frame.collect_schema().names()]
    if "measure" in frame.collect_schema().names():
        return frame
    return frame.sort(keys, nulls_last=True)


def _sort_outcomes(long: pl.DataFrame) -> pl.DataFrame:
    scope_order = pl.col("scope").replace_strict(list(SCOPES), list(range(len(SCOPES))), return_dtype=pl.Int8)
    outcome_order = pl.col("outcome").replace_strict(list(OUTCOMES), list(range(len(OUTCOMES))), return_dtype=pl.Int8)
    return long.sort([pl.col("unit_id"), scope_order, pl.col("scope_value"), outcome_order], nulls_last=True).select(
        OUTCOME_COLUMNS
    )
