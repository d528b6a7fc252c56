"""The patient view: the cohort described by age band, sex, ASA, urgency, procedure family, approach and period,
with every outcome rate; and a per-patient summary that stays inside the work directory.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from ector.contract import AGE_BANDS, APPROACHES, SEXES, URGENCIES
from ector.settings import AnalysisSettings, Engine
from ector.stats.intervals import wilson_bounds, z_for_level
from ector.workflows.groups import distinct_patients, in_patient_ranges, patient_ranges, patient_sample_plan
from ector.workflows.mart import (
    OUTCOMES,
    Availability,
    availability_table,
    conform_mart,
    probe_availability,
    usable_strata,
)
from ector.workflows.outcomes import LEVEL, RATE_METRICS
from ector.workflows.plan import Frame, ViewPlan, collect_views

# Cohort dimensions, in report order; "all" is the whole cohort, one cell.
DIMENSIONS: Final = ("all", "age_band", "sex", "asa_class", "urgency", "procedure_family", "approach", "period")
# Dimensions from required columns: known for every case.
_ALWAYS: Final = ("all", "procedure_family", "period")
# Levels with a natural order (the contract's code lists); others sort as text.
_LEVEL_ORDER: Final[dict[str, tuple[str, ...]]] = {
    "age_band": AGE_BANDS,
    "sex": SEXES,
    "urgency": URGENCIES,
    "approach": APPROACHES,
}


def patient_view(mart: pl.LazyFrame, analysis: AnalysisSettings, *, engine: Engine = "auto") -> dict[str, Frame]:
    """Return the patient view's tables: `summary` (cohort cells), `per_patient` and `availability`.

    summary: one row per dimension and level: `dimension, level, available, cases, patients` and for every
    outcome `<outcome>_events, _cases, _rate, _rate_lower, _rate_upper` (Wilson 95%). A dimension entirely
    null in the mart (e.g. sex without a patients table) is one cell with a null level and available = false.
    """
    mart = conform_mart(mart, analysis.period)
    availability = probe_availability(mart, analysis, engine)
    return collect_views([plan_patient_view(mart, analysis, availability)], engine)[0]


def plan_patient_view(mart: pl.LazyFrame, analysis: AnalysisSettings, availability: Availability) -> ViewPlan:
    """Return the plan of `patient_view` over a conformed mart: one cohort plan per dimension, and the sample
    of patient ids that splits the per-patient table into ranges on a large mart."""
    cases = availability.cases

    def finish(frames: list[pl.DataFrame]) -> dict[str, Frame]:
        *cells, sample = frames
        summary = pl.concat([_cohort_rates(c, availability) for c in cells])
        ranges = patient_ranges(sample, cases=cases)
        return {
            "summary": _sort_cells(summary),
            "per_patient": in_patient_ranges(lambda part: per_patient_plan(part, availability), mart, ranges),
            "availability": availability_table(availability, analysis, usable_strata(analysis, availability)),
        }

    cohorts = [_cohort_plan(mart, d, cases=cases) for d in DIMENSIONS]
    return ViewPlan([*cohorts, patient_sample_plan(mart, cases=cases)], finish)


def _cohort_plan(mart: pl.LazyFrame, dimension: str, *, cases: int) -> pl.LazyFrame:
    """Return the plan of cases, patients and per-outcome known/event counts per level of `dimension`."""
    level = pl.lit("all") if dimension == "all" else pl.col(dimension).cast(pl.String)
    framed = mart.with_columns(__level=level)
    counts = framed.group_by("__level").agg(
        pl.len().cast(pl.Int64).alias("cases"),
        *(pl.col(o).count().cast(pl.Int64).alias(f"{o}_cases") for o in OUTCOMES),
        *(pl.col(o).cast(pl.Int64).sum().alias(f"{o}_events") for o in OUTCOMES),
    )
    patients = distinct_patients(framed, ["__level"], cases=cases)
    return counts.join(patients, on="__level", how="left", nulls_equal=True).with_columns(
        dimension=pl.lit(dimension), level=pl.col("__level"), patients=pl.col("patients").fill_null(0)
    )


def _cohort_rates(cells: pl.DataFrame, availability: Availability) -> pl.DataFrame:
    dimension = cells["dimension"][0] if cells.height else None
    columns: list[pl.Expr] = [
        pl.col("dimension"),
        pl.col("level"),
        pl.lit(dimension in _ALWAYS or (dimension is not None and availability[dimension])).alias("available"),
        pl.col("cases"),
        pl.col("patients"),
    ]
    z = z_for_level(LEVEL)
    for outcome in OUTCOMES:
        ok = availability[outcome]
        events, cases = pl.col(f"{outcome}_events"), pl.col(f"{outcome}_cases")
        lower, upper = wilson_bounds(events, cases, z)
        metrics = {
            "events": events,
            "cases": cases,
            "rate": pl.when(cases > 0).then(events / cases),
            "rate_lower": lower,
            "rate_upper": upper,
        }
        # Not available: null, never 0 of N.
        columns += [pl.when(ok).then(metrics[m]).alias(f"{outcome}_{m}") for m in RATE_METRICS]
    return cells.select(columns)


def _sort_cells(summary: pl.DataFrame) -> pl.DataFrame:
    dimension_order = pl.col("dimension").replace_strict(
        list(DIMENSIONS), list(range(len(DIMENSIONS))), return_dtype=pl.Int8
    )
    level_rank = pl.lit(None, pl.Int32)
    for dimension, codes in _LEVEL_ORDER.items():
        rank = pl.col("level").replace_strict(list(codes), list(range(len(codes))), default=None, return_dtype=pl.Int32)
        level_rank = pl.when(pl.col("dimension") == dimension).then(rank).otherwise(level_rank)
    return summary.sort([dimension_order, level_rank, pl.col("level")], nulls_last=True)


def per_patient_plan(mart: pl.LazyFrame, availability: Availability) -> pl.LazyFrame:
    """Return the plan of one row per patient, sorted by patient_id; it stays inside the work directory.

    Columns: `patient_id, procedures, first_surgery, last_surgery, bed_days, complications,
    cases_with_complication, readmissions, died_within_window`. bed_days sums the known lengths of stay
    (null when none is known); an outcome column is null when the outcome is not available, or not known
    for any of the patient's cases.
    """

    def known(column: str, value: pl.Expr) -> pl.Expr:
        return pl.when(pl.lit(availability[column]) & (pl.col(column).count() > 0)).then(value)

    return (
        mart.group_by("patient_id")
        .agg(
            procedures=pl.len().cast(pl.Int64),
            first_surgery=pl.col("surgery_date").min(),
            last_surgery=pl.col("surgery_date").max(),
            bed_days=known("los_days", pl.col("los_days").cast(pl.Int64).sum()),
            complications=known("complication_count", pl.col("complication_count").cast(pl.Int64).sum()),
            cases_with_complication=known("complication_any", pl.col("complication_any").cast(pl.Int64).sum()),
            readmissions=known("readmission_30d", pl.col("readmission_30d").cast(pl.Int64).sum()),
            died_within_window=known("mortality_30d", pl.col("mortality_30d").any()),
        )
        .sort("patient_id", nulls_last=True)
    )
