"""The case mart as the workflows read it: columns, outcomes, periods, and which inputs are available.

The mart (docs/data-dictionary.md) is written by `ector transform`, or arrives on stdin from any tool. Columns
the spec marks as coming from optional tables may be missing from a foreign mart: they are added as typed
nulls, so "absent" and "all null" mean the same thing downstream ("not available", never zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

from ector.errors import ContractError
from ector.settings import AnalysisSettings, Period
from ector.transform.dictionary import MART_SCHEMA

# The binary outcomes every view reports, in report order. Names are the case-mart columns.
OUTCOMES: Final = (
    "complication_any",
    "complication_major",
    "readmission_30d",
    "reoperation_30d",
    "mortality_30d",
    "conversion",
)

# Why an outcome or attribute may be entirely null: the Gold table (or column) it is derived from is absent.
SOURCE_OF: Final[dict[str, str]] = {
    "complication_any": "the complications table",
    "complication_major": "the complications table",
    "complication_count": "the complications table",
    "readmission_30d": "the encounters table (or discharge dates)",
    "reoperation_30d": "cases",
    "mortality_30d": "the patients table and discharge_destination",
    "conversion": "converted_to_open for laparoscopic or robotic cases",
    "predicted_mortality": "cases.predicted_mortality",
    "expected_mortality_30d": "mortality_30d",
    "expected_complication_major": "the complications table",
    "sex": "the patients table",
    "age_band": "the patients table",
    "age_at_surgery": "the patients table",
    "specialty": "the surgeons table",
    "site_name": "the sites table",
    "site_type": "the sites table",
    "region": "the sites table",
    "asa_class": "cases.asa_class",
    "urgency": "cases.urgency",
    "approach": "cases.approach",
    "operative_minutes": "cases.surgery_end",
    "los_days": "cases.discharge_date",
}

# Columns without which no view can be computed: they come from required Gold columns of `cases`.
REQUIRED: Final = ("case_id", "patient_id", "surgeon_id", "site_id", "procedure_family", "surgery_start")

# Every other column the workflows read; absent ones become typed nulls, of the mart's dtype.
OPTIONAL: Final[dict[str, pl.DataType]] = {
    name: MART_SCHEMA[name]
    for name in (
        "approach",
        "urgency",
        "asa_class",
        "sex",
        "specialty",
        "site_name",
        "site_type",
        "region",
        "age_at_surgery",
        "age_band",
        "los_days",
        "operative_minutes",
        "complication_count",
        "predicted_mortality",
        "expected_mortality_30d",
        "expected_complication_major",
        *OUTCOMES,
    )
}

PERIOD_COLUMNS: Final[dict[str, str]] = {
    "month": "period_month",
    "quarter": "period_quarter",
    "year": "period_year",
}

# Inputs whose availability a view reports; probed in one pass over the mart.
PROBED: Final = (
    *OUTCOMES,
    "complication_count",
    "predicted_mortality",
    "expected_mortality_30d",
    "expected_complication_major",
    "sex",
    "age_band",
    "asa_class",
    "urgency",
    "approach",
    "specialty",
    "site_name",
    "operative_minutes",
    "los_days",
)


def conform_mart(mart: pl.LazyFrame, period: Period) -> pl.LazyFrame:
    """Return the mart with every optional column present (typed nulls if absent) and a String `period`.

    Raises ContractError naming the required columns a mart lacks.
    """
    names = mart.collect_schema().names()
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ContractError(
            f"the case mart lacks required column(s) {', '.join(missing)}",
            "the case mart is written by `ector transform` (docs/data-dictionary.md)",
        )
    added = [pl.lit(None, dtype).alias(name) for name, dtype in OPTIONAL.items() if name not in names]
    if "surgery_date" not in names:
        added.append(pl.col("surgery_start").dt.date().alias("surgery_date"))
    mart = mart.with_columns(added) if added else mart
    return mart.with_columns(period=_period_expr(period, names))


def _period_expr(period: Period, names: list[str]) -> pl.Expr:
    column = PERIOD_COLUMNS[period]
    if column in names:
        return pl.col(column).cast(pl.String)
    # A foreign mart without period columns: derive them as transform does, from the surgery date.
    date = pl.col("surgery_start").dt.date()
    year = date.dt.year().cast(pl.String)
    if period == "year":
        return year
    if period == "month":
        return date.dt.strftime("%Y-%m")
    return pl.concat_str(year, pl.lit("-Q"), date.dt.quarter().cast(pl.String))


@dataclass(frozen=True)
class Availability:
    """Which probed mart columns hold at least one value, and how many cases the mart has."""

    available: dict[str, bool]
    cases: int

    def __getitem__(self, column: str) -> bool:
        return self.available.get(column, False)

    def outcomes(self) -> list[str]:
        """Return the outcomes with at least one known value, in report order."""
        return [o for o in OUTCOMES if self[o]]

    def missing(self) -> list[str]:
        """Return the probed columns that are entirely null, in probe order."""
        return [c for c, ok in self.available.items() if not ok]


def usable_strata(analysis: AnalysisSettings, availability: Availability) -> list[str]:
    """Return analysis.risk_strata less the strata that are entirely null in the mart."""
    return [s for s in analysis.risk_strata if availability[s]]


def availability_table(availability: Availability, analysis: AnalysisSettings, strata: list[str]) -> pl.DataFrame:
    """Return one row per probed input and risk stratum: `column, role, available, note`, sorted."""
    rows: list[tuple[str, str, bool, str]] = []
    for column, ok in availability.available.items():
        if column not in PROBED:
            continue  # a stratum outside the usual inputs: reported once, below
        role = "outcome" if column in OUTCOMES else "input"
        note = (
            "available" if ok else f"not available: all null in the case mart (from {SOURCE_OF.get(column, 'cases')})"
        )
        rows.append((column, role, ok, note))
    for stratum in analysis.risk_strata:
        used = stratum in strata
        note = "used in indirect standardisation" if used else "not available: dropped from the risk strata"
        rows.append((stratum, "risk_stratum", used, note))
    schema = {"column": pl.String, "role": pl.String, "available": pl.Boolean, "note": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row").sort("role", "column")
