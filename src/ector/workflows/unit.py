"""The shared surgeon and site view: one implementation, parameterised by the unit column.

The mart's projection is read once into memory (`workflows.load`); every aggregate is a plan over it, and the
plans are collected together (polars runs them side by side); what follows works on those small per-unit
results. A mart larger than `load.PART_CASES` is read a part of whole units at a time, and the parts' per-unit
results are put together before the rest (`unit_tables`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, Literal

import polars as pl

from ector.materialise import InMemory, Materialiser
from ector.settings import AnalysisSettings, RiskModel
from ector.workflows import load
from ector.workflows.case_mix import CHARACTERISTICS, case_mix_plan, case_mix_table
from ector.workflows.funnels import unit_funnels
from ector.workflows.load import load_view, parts_by, probe_availability
from ector.workflows.mart import OUTCOMES, Availability, availability_table, conform_mart, usable_strata
from ector.workflows.monitoring import MONITORED, ChartLimits, cusum_limits, cusum_table
from ector.workflows.order import as_text, sorted_by
from ector.workflows.outcomes import (
    METRICS,
    long_outcomes,
    outcome_cells,
    outcome_rates,
    stratum_rates,
    wide_outcomes,
)
from ector.workflows.plan import Frame
from ector.workflows.signals import signal_table
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
    signals, availability (see `unit_tables`)."""
    return as_text_tables(unit_tables(mart, unit, analysis, out or InMemory())[0])


def unit_tables(
    mart: pl.LazyFrame,
    unit: Unit,
    analysis: AnalysisSettings,
    out: Materialiser,
    *,
    extra: Sequence[str] = (),
    more: More | None = None,
    part_cases: int | None = None,
) -> tuple[dict[str, Frame], Availability]:
    """Return the tables every unit view has (summary, by_family, by_period, outcomes, case_mix, cusum, funnel,
    signals, availability), with those `more` builds from the projection, and the mart's availability. Units,
    families and periods are Enums in the per-unit tables (`order.as_keys`): the view's own function turns its
    tables to text.

    summary/by_family/by_period: one row per unit (and family or period) with volume, median and IQR of
    operative minutes and LOS, and `<outcome>_<metric>` for every outcome. outcomes: the same metrics in long
    form over the three scopes. Columns are documented in docs/workflows.md. `extra` names more mart columns
    to load for `more`, which returns tables of whole units from (a part of) the projection.

    A mart of more than `part_cases` cases (default `load.PART_CASES`) is loaded a part at a time, each part
    whole units: the availability, the stratum rates and the CUSUMs' decision limits are the whole mart's, and
    what each part gives is added up, so every table is the same.
    """
    keys = [unit, "procedure_family", "period", *analysis.risk_strata]
    columns = [*unit_columns(unit, analysis), *extra]
    parts = parts_by(mart, unit, part_cases or load.PART_CASES, out)
    if len(parts) == 1:
        frame, availability = load_view(mart, columns, analysis, out, keys=keys)
        strata = usable_strata(analysis, availability)
        limits = cusum_limits(frame.lazy(), availability, analysis.cusum, out)
        pieces = _pieces(frame, unit, availability, strata, limits, out, None, more, analysis.risk_model)
    else:
        availability = probe_availability(mart, analysis, out)
        strata = usable_strata(analysis, availability)
        rates = stratum_rates(
            conform_mart(mart, analysis.period), availability, strata, out.collect, analysis.risk_model
        )
        limits = cusum_limits(mart, availability, analysis.cusum, out)
        collected = []
        for part in parts:  # one after the other: memory holds one part's projection
            frame, _ = load_view(mart.filter(part), columns, analysis, out, keys=keys)
            pieces = _pieces(frame, unit, availability, strata, limits, out, rates, more, analysis.risk_model)
            collected.append({name: as_text(table) for name, table in pieces.items()})
            del frame
        pieces = _added_up(collected)
    cells, mix = pieces.pop("__cells"), pieces.pop("__mix")
    wide: dict[str, pl.DataFrame] = {}
    long_parts = []
    for scope, (table, scope_keys) in SCOPES.items():
        keys = ["unit_id", *scope_keys]
        volume = sorted_by(pieces.pop(f"__volume_{scope}"), keys)
        long = long_outcomes(volume, outcome_rates(cells, keys), keys, availability)
        wide[table] = volume.join(wide_outcomes(long, keys), on=keys, how="left", nulls_equal=True)
        value = pl.col(scope_keys[0]).cast(pl.String) if scope_keys else pl.lit("all")
        long_parts.append(long.with_columns(scope=pl.lit(scope), scope_value=value))
        if scope == "overall":
            wide["funnel"] = unit_funnels(long, analysis)
    tables: dict[str, Frame] = {name: _sorted(frame) for name, frame in wide.items()}
    tables["outcomes"] = _sort_outcomes(pl.concat(long_parts, how="diagonal"))
    tables["case_mix"] = case_mix_table(mix, availability)
    tables["availability"] = availability_table(availability, analysis, strata)
    tables["signals"] = signal_table(as_text(pieces["cusum"]), as_text(wide["funnel"]), analysis)
    return tables | pieces, availability


More = Callable[[pl.DataFrame], dict[str, pl.DataFrame]]
# The key columns of the pieces: as text while parts are added up, then Enums of their values again.
_PIECE_KEYS: Final = ("unit_id", "procedure_family", "period")


def _pieces(
    frame: pl.DataFrame,
    unit: Unit,
    availability: Availability,
    strata: Sequence[str],
    limits: dict[str, ChartLimits],
    out: Materialiser,
    rates: pl.DataFrame | None,
    more: More | None,
    risk_model: RiskModel,
) -> dict[str, pl.DataFrame]:
    """What the unit tables are made of, from the projection of whole units: the outcome cells, the case mix and
    the volumes per unit (private names), and the tables of whole units (cusum, and what `more` adds)."""
    lazy = frame.lazy()
    plans = [
        outcome_cells(frame, unit, availability, strata, collect=out.collect, whole_rates=rates, risk_model=risk_model),
        case_mix_plan(lazy, unit),
        *(
            volume_plan(lazy, unit, keys, UNIT_ATTRIBUTES[unit], patients=True)
            if scope == "overall"
            else volume_plan(lazy, unit, keys)
            for scope, (_, keys) in SCOPES.items()
        ),
    ]
    cells, mix, *volumes = out.collect_all(plans)
    pieces = {"__cells": cells, "__mix": mix} | {f"__volume_{s}": v for s, v in zip(SCOPES, volumes, strict=True)}
    pieces["cusum"] = cusum_table(frame, unit, limits, out)
    return pieces | (more(frame) if more is not None else {})


def _added_up(parts: Sequence[dict[str, pl.DataFrame]]) -> dict[str, pl.DataFrame]:
    """The pieces of whole units, part after part (units in sorted order), with their keys as Enums of all the
    parts' values, so that cells, volumes and mix join as in one part."""
    joined = {name: pl.concat([part[name] for part in parts], how="vertical") for name in parts[0]}
    private = {name: frame for name, frame in joined.items() if name.startswith("__")}
    for column in _PIECE_KEYS:
        values = pl.concat([f[column].cast(pl.String) for f in private.values() if column in f.columns], how="vertical")
        enum = pl.Enum(values.unique().drop_nulls().sort())
        private = {n: f.with_columns(pl.col(column).cast(enum)) if column in f else f for n, f in private.items()}
    return joined | private


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
