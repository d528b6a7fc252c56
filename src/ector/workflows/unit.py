"""The shared surgeon and site view: one implementation, parameterised by the unit column.

Everything that aggregates the mart is planned first and collected (`plan.collect_views`, one aggregate after
the other); what follows works on those small per-unit results. The CUSUM series are collected a group of
units at a time on a large mart, else left as a plan for the runner to sink.
"""

from __future__ import annotations

from typing import Final, Literal

import polars as pl

from ector.settings import AnalysisSettings, Engine
from ector.workflows.case_mix import case_mix_plan, case_mix_table
from ector.workflows.funnels import unit_funnels
from ector.workflows.mart import (
    OUTCOMES,
    Availability,
    availability_table,
    conform_mart,
    probe_availability,
    usable_strata,
)
from ector.workflows.monitoring import cusum_table
from ector.workflows.outcomes import METRICS, long_outcomes, outcome_cells, outcome_rates, wide_outcomes
from ector.workflows.plan import Frame, ViewPlan, collect_view_plan, collect_views
from ector.workflows.volume import volume_plan

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


def unit_view(
    mart: pl.LazyFrame, unit: Unit, analysis: AnalysisSettings, *, engine: Engine = "auto"
) -> dict[str, Frame]:
    """Return the tables every unit view has: summary, by_family, by_period, outcomes, case_mix, cusum, funnel,
    availability.

    summary/by_family/by_period: one row per unit (and family or period) with volume, median and IQR of
    operative minutes and LOS, and `<outcome>_<metric>` for every outcome. outcomes: the same metrics in long
    form over the three scopes. Columns are documented in docs/workflows.md.
    """
    mart = conform_mart(mart, analysis.period)
    availability = probe_availability(mart, analysis, engine)
    return collect_views([plan_unit_view(mart, unit, analysis, availability, engine=engine)], engine)[0]


def plan_unit_view(
    mart: pl.LazyFrame, unit: Unit, analysis: AnalysisSettings, availability: Availability, *, engine: Engine = "auto"
) -> ViewPlan:
    """Return the plan of `unit_view` over a conformed mart: everything that aggregates the mart, to collect,
    and the per-unit tables finished from those small results. The CUSUM series are collected with
    `engine`, a group of units at a time (`monitoring.cusum_table`)."""
    strata = usable_strata(analysis, availability)
    plans = [
        outcome_cells(mart, unit, availability, strata, collect=lambda frame: collect_view_plan(frame, engine)),
        case_mix_plan(mart, unit),
        *(
            volume_plan(mart, unit, keys, UNIT_ATTRIBUTES[unit], patients=availability.cases)
            if scope == "overall"
            else volume_plan(mart, unit, keys)
            for scope, (_, keys) in SCOPES.items()
        ),
    ]

    def finish(frames: list[pl.DataFrame]) -> dict[str, Frame]:
        cells, mix, *volumes = frames
        wide: dict[str, pl.DataFrame] = {}
        long_parts = []
        for (scope, (table, scope_keys)), volume in zip(SCOPES.items(), volumes, strict=True):
            keys = ["unit_id", *scope_keys]
            long = long_outcomes(volume, outcome_rates(cells, keys), keys, availability)
            wide[table] = volume.join(wide_outcomes(long, keys), on=keys, how="left", nulls_equal=True)
            value = pl.col(scope_keys[0]).cast(pl.String) if scope_keys else pl.lit("all")
            long_parts.append(long.with_columns(scope=pl.lit(scope), scope_value=value))
            if scope == "overall":
                wide["funnel"] = unit_funnels(long, analysis)
        tables: dict[str, Frame] = {name: _sorted(frame) for name, frame in wide.items()}
        tables["outcomes"] = _sort_outcomes(pl.concat(long_parts, how="diagonal"))
        tables["case_mix"] = case_mix_table(mix, availability)
        tables["cusum"] = cusum_table(mart, unit, availability, collect=lambda frame: collect_view_plan(frame, engine))
        tables["availability"] = availability_table(availability, analysis, strata)
        return tables

    return ViewPlan(plans, finish)


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
