"""Hand-made consolidated tables for edge-case tests: give only the columns a test is about.

Every other column gets a plain default (one patient born 1960-01-01, elective open cholecystectomy on
2024-03-01 08:00 lasting an hour, discharged two days later, home), with canonical dtypes and column order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from ector.contract import TABLES
from ector.settings import AnalysisSettings
from ector.transform import case_mart

START = datetime(2024, 3, 1, 8, 0)
SURGERY_DAY = START.date()


def day(offset: int, anchor: date = SURGERY_DAY) -> date:
    """Return the date `offset` days after `anchor` (default: the default surgery date)."""
    return anchor + timedelta(days=offset)


def _case_defaults(i: int, row: Mapping[str, Any]) -> dict[str, Any]:
    start = row.get("surgery_start", START)
    return {
        "case_id": f"C{i:03d}",
        "patient_id": "P1",
        "surgeon_id": "S1",
        "site_id": "H1",
        "procedure_code": "47562",
        "procedure_family": "cholecystectomy",
        "approach": "open",
        "urgency": "elective",
        "asa_class": 2,
        "admission_date": start.date(),
        "surgery_start": start,
        "surgery_end": start + timedelta(hours=1),
        "discharge_date": start.date() + timedelta(days=2),
        "discharge_destination": "home",
        "source_system": "test",
    }


_DEFAULTS: dict[str, Any] = {
    "patients": lambda i, row: {"patient_id": f"P{i + 1}", "birth_date": date(1960, 1, 1), "sex": "F"},
    "surgeons": lambda i, row: {"surgeon_id": f"S{i + 1}", "specialty": "general"},
    "sites": lambda i, row: {"site_id": f"H{i + 1}", "site_name": f"Site {i + 1}", "site_type": "teaching"},
    "cases": _case_defaults,
    "complications": lambda i, row: {
        "complication_id": f"K{i:03d}",
        "case_id": "C000",
        "complication_type": "ssi",
        "clavien_dindo": "I",
    },
    "encounters": lambda i, row: {
        "encounter_id": f"E{i:03d}",
        "patient_id": "P1",
        "admission_date": day(10),
        "planned": False,
    },
}


def table(name: str, rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Return canonical table `name` from `rows`, each column a row leaves out filled with its default or null."""
    schema = TABLES[name].schema
    filled = [{**_DEFAULTS[name](i, row), **row} for i, row in enumerate(rows)]
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in filled], schema=schema, orient="row")


def gold(
    cases: Iterable[Mapping[str, Any]],
    *,
    patients: Iterable[Mapping[str, Any]] | None = None,
    complications: Iterable[Mapping[str, Any]] | None = (),
    encounters: Iterable[Mapping[str, Any]] | None = (),
    surgeons: Iterable[Mapping[str, Any]] | None = None,
    sites: Iterable[Mapping[str, Any]] | None = None,
    absent: Iterable[str] = (),
) -> dict[str, pl.DataFrame]:
    """Return consolidated tables around `cases`; parents default to one row per id the cases use.

    A table named in `absent` is left out altogether (not the same as an empty table).
    """
    case_frame = table("cases", cases)
    ids = {
        col: case_frame[col].unique(maintain_order=True).to_list() for col in ("patient_id", "surgeon_id", "site_id")
    }
    frames = {
        "cases": case_frame,
        "patients": table(
            "patients", patients if patients is not None else [{"patient_id": p} for p in ids["patient_id"]]
        ),
        "surgeons": table(
            "surgeons", surgeons if surgeons is not None else [{"surgeon_id": s} for s in ids["surgeon_id"]]
        ),
        "sites": table("sites", sites if sites is not None else [{"site_id": s} for s in ids["site_id"]]),
        "complications": table("complications", complications or ()),
        "encounters": table("encounters", encounters or ()),
    }
    return {name: frame for name, frame in frames.items() if name not in set(absent)}


def mart(tables: Mapping[str, pl.DataFrame], **analysis: Any) -> pl.DataFrame:
    """Return the collected case mart of `tables` under AnalysisSettings(**analysis)."""
    lazy = {name: frame.lazy() for name, frame in tables.items()}
    return case_mart(lazy, AnalysisSettings(**analysis)).plan.collect()


def by_case(frame: pl.DataFrame, column: str) -> dict[str, Any]:
    """Return {case_id: value of `column`} of a mart."""
    return dict(zip(frame["case_id"], frame[column], strict=True))
