"""The case mart's data dictionary: one list of columns that orders and casts the mart and documents it.

`MART_COLUMNS` is the single source of truth: `case_mart` selects and casts its output through it, and
docs/data-dictionary.md is generated from it (`python -m ector.transform.dictionary` rewrites the file; a test
fails when the file is stale), so the documentation cannot drift from the code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

from ector.contract import AGE_BANDS, CASES, CLAVIEN_DINDO, TIMESTAMP


@dataclass(frozen=True)
class MartColumn:
    """One column of the case mart: name, dtype, meaning, and the optional tables it needs."""

    name: str
    dtype: pl.DataType
    meaning: str
    needs: tuple[str, ...] = ()  # optional Gold tables whose absence makes the column null ("not available")
    outcome: bool = False  # a derived outcome (reported in the stage's unavailable_outcomes when it cannot be had)
    nullable: bool = True  # False: every case has a value (a required Gold column, or derived from one)


def _case(name: str) -> MartColumn:
    column = CASES.column(name)
    return MartColumn(name, column.dtype, f"from cases: {column.meaning}", nullable=not column.required)


_GRADES = ", ".join(CLAVIEN_DINDO)

MART_COLUMNS: Final[tuple[MartColumn, ...]] = (
    *(
        _case(name)
        for name in (
            "case_id",
            "patient_id",
            "surgeon_id",
            "site_id",
            "procedure_code",
            "procedure_family",
            "approach",
            "urgency",
            "asa_class",
            "admission_date",
            "discharge_date",
            "surgery_start",
            "surgery_end",
            "discharge_destination",
            "source_system",
            "blood_loss_ml",
            "predicted_mortality",
        )
    ),
    MartColumn("sex", pl.String(), "from patients: F, M or U", ("patients",)),
    MartColumn("specialty", pl.String(), "from surgeons: the operating surgeon's specialty", ("surgeons",)),
    MartColumn("site_name", pl.String(), "from sites: display name of the site", ("sites",)),
    MartColumn("site_type", pl.String(), "from sites: teaching, community or ambulatory", ("sites",)),
    MartColumn("region", pl.String(), "from sites: health region or state", ("sites",)),
    MartColumn(
        "surgery_date",
        pl.Date(),
        "date of surgery_start: the anchor of every outcome window but readmission",
        nullable=False,
    ),
    MartColumn("period_month", pl.String(), "YYYY-MM of surgery_date", nullable=False),
    MartColumn("period_quarter", pl.String(), "YYYY-Qn of surgery_date", nullable=False),
    MartColumn("period_year", pl.Int32(), "calendar year of surgery_date", nullable=False),
    MartColumn(
        "age_at_surgery",
        pl.Int16(),
        "whole years from birth_date to surgery_date (born 29 February: a year older on 1 March)",
        ("patients",),
    ),
    MartColumn("age_band", pl.String(), f"band of age_at_surgery: {', '.join(AGE_BANDS)}", ("patients",)),
    MartColumn("los_days", pl.Int32(), "discharge_date - admission_date in days; null while in hospital", outcome=True),
    MartColumn(
        "operative_minutes",
        pl.Float64(),
        "surgery_end - surgery_start in minutes; null when surgery_end is missing",
        outcome=True,
    ),
    MartColumn(
        "surgeon_case_seq",
        pl.Int32(),
        "1-based rank of the case among its surgeon's cases of the same procedure_family, "
        "by surgery_start then case_id (learning curves)",
        nullable=False,
    ),
    MartColumn(
        "complication_count",
        pl.Int32(),
        "complications with onset 0..window days after surgery_date; one without onset_date counts as within",
        ("complications",),
        outcome=True,
    ),
    MartColumn(
        "worst_clavien_dindo",
        pl.String(),
        f"worst Clavien-Dindo grade ({_GRADES}) among those complications; null when none",
        ("complications",),
        outcome=True,
    ),
    MartColumn(
        "complication_any", pl.Boolean(), "at least one complication within the window", ("complications",), True
    ),
    MartColumn(
        "complication_major",
        pl.Boolean(),
        "a complication of Clavien-Dindo IIIa or worse within the window",
        ("complications",),
        outcome=True,
    ),
    MartColumn(
        "readmission_30d",
        pl.Boolean(),
        "an encounter of the patient not marked planned (planned false or null) admitted 0..window days after "
        "discharge_date; null while in hospital",
        ("encounters",),
        outcome=True,
    ),
    MartColumn(
        "reoperation_30d",
        pl.Boolean(),
        "another case of the same patient with a strictly later surgery_start, its surgery_date 0..window days "
        "after this one's (a same-day second case counts for the first)",
        outcome=True,
    ),
    MartColumn(
        "mortality_30d",
        pl.Boolean(),
        "death_date 0..window days after surgery_date, or discharge_destination died",
        ("patients",),
        outcome=True,
    ),
    MartColumn(
        "conversion",
        pl.Boolean(),
        "converted_to_open of a laparoscopic or robotic case; null for open or unknown approach",
        outcome=True,
    ),
    MartColumn(
        "expected_mortality_30d",
        pl.Float64(),
        "predicted_mortality when given, else the case's risk of mortality_30d from the mart's risk model "
        "(analysis.risk_model: logistic, fitted on analysis.risk_factors, a null factor value being the level "
        "unknown; or strata, and logistic with too few events: the stratum rate over analysis.risk_strata, a null "
        "stratum value a level of its own), fitted on the whole mart before --where/--since/--until; the model is "
        "described in transform/risk_models.parquet",
        ("patients",),
        outcome=True,
    ),
    MartColumn(
        "expected_complication_major",
        pl.Float64(),
        "the case's risk of complication_major from the mart's risk model, computed like expected_mortality_30d",
        ("complications",),
        outcome=True,
    ),
)

MART_SCHEMA: Final = pl.Schema({c.name: c.dtype for c in MART_COLUMNS})
MART_COLUMN_NAMES: Final = tuple(c.name for c in MART_COLUMNS)
DICTIONARY_PATH: Final = Path(__file__).resolve().parents[3] / "docs" / "data-dictionary.md"


def mart_column(name: str) -> MartColumn:
    """Return the dictionary entry of mart column `name`."""
    for column in MART_COLUMNS:
        if column.name == name:
            return column
    raise KeyError(f"the case mart has no column {name!r}")


def unavailable_columns(present_tables: Sequence[str], *, outcomes_only: bool = False) -> list[str]:
    """Return the mart columns that are null throughout because a table they need is absent, in mart order."""
    present = set(present_tables)
    return [
        c.name
        for c in MART_COLUMNS
        if (c.outcome or not outcomes_only) and any(table not in present for table in c.needs)
    ]


def render_dictionary() -> str:
    """Return docs/data-dictionary.md as generated from MART_COLUMNS."""
    lines = [
        "# Case mart data dictionary",
        "",
        "<!-- Generated from src/ector/transform/dictionary.py by `python -m ector.transform.dictionary`;"
        " do not edit by hand. -->",
        "",
        "`transform/cases.parquet`: one row per consolidated case (case_id is the key), sorted by surgery_start then"
        " case_id. A dtype marked *not null* has a value in every case. `ector.transform.schema.CaseMart` is this"
        " table as a dataframely schema.",
        "A column whose source table is absent is null throughout and reported as not available "
        "(`unavailable_outcomes` in the manifest), never false or zero.",
        "",
        "Outcome windows are inclusive whole days: an event counts when (event date - anchor date) is between 0 and "
        "`analysis.outcome_window_days` (default 30); the `_30d` names stay whatever the setting. The anchor is "
        "surgery_date, except for readmission (discharge_date).",
        "",
        "| column | dtype | meaning | null when absent |",
        "|---|---|---|---|",
    ]
    for c in MART_COLUMNS:
        needs = ", ".join(c.needs) or "-"
        dtype = _dtype_name(c.dtype) + ("" if c.nullable else ", *not null*")
        lines.append(f"| {c.name} | {dtype} | {c.meaning} | {needs} |")
    return "\n".join(lines) + "\n"


def _dtype_name(dtype: pl.DataType) -> str:
    return "Datetime(us)" if dtype == TIMESTAMP else str(dtype)


def write_dictionary(path: Path = DICTIONARY_PATH) -> Path:
    """Write the generated data dictionary to `path` and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_dictionary(), encoding="utf-8")
    return path


if __name__ == "__main__":
    target = write_dictionary(Path(sys.argv[1]) if len(sys.argv) > 1 else DICTIONARY_PATH)
    sys.stderr.write(f"wrote {target}\n")
