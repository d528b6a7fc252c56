"""A tiny hand-made Gold layer in canonical form, and writers for the sources ingest reads.

Small enough to reason about row by row; the demo generator serves the larger tests.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date, datetime
from pathlib import Path

import polars as pl

from ector.contract import TABLES

_SQLITE_TYPES = {
    pl.String: "TEXT",
    pl.Date: "DATE",
    pl.Datetime: "TIMESTAMP",
    pl.Boolean: "BOOLEAN",
    pl.Float64: "REAL",
    pl.Int8: "INTEGER",
    pl.Int32: "INTEGER",
    pl.Int64: "INTEGER",
}


def tiny_gold() -> dict[str, pl.DataFrame]:
    """Six canonical tables: 3 sites, 2 surgeons, 3 patients, 4 cases, 2 complications, 2 encounters."""
    ts = datetime
    frames = {
        "sites": {
            "site_id": ["H01", "H02", "H03"],
            "site_name": ["North", "South", "East"],
            "region": ["A", "A", None],
            "site_type": ["teaching", "community", "ambulatory"],
            "updated_at": [ts(2024, 1, 1)] * 3,
        },
        "surgeons": {
            "surgeon_id": ["S0001", "S0002"],
            "surgeon_name": ["Dr One", "Dr Two"],
            "specialty": ["general", "urology"],
            "primary_site_id": ["H01", "H02"],
            "first_year_in_practice": [2001, 2015],
            "updated_at": [ts(2024, 1, 1)] * 2,
        },
        "patients": {
            "patient_id": ["P1", "P2", "P3"],
            "birth_date": [date(1950, 3, 1), date(1980, 12, 31), date(1935, 6, 15)],
            "sex": ["F", "M", "F"],
            "death_date": [None, None, date(2024, 3, 20)],
            "updated_at": [ts(2024, 1, 1)] * 3,
        },
        "cases": {
            "case_id": ["C1", "C2", "C3", "C4"],
            "patient_id": ["P1", "P2", "P3", "P1"],
            "surgeon_id": ["S0001", "S0002", "S0001", "S0001"],
            "site_id": ["H01", "H02", "H01", "H03"],
            "procedure_code": ["47562", "55866", "44140", "47562"],
            "procedure_family": ["cholecystectomy", "prostatectomy", "colectomy", "cholecystectomy"],
            "approach": ["laparoscopic", "robotic", "open", None],
            "urgency": ["elective", "elective", "emergency", "urgent"],
            "asa_class": [2, 1, 4, None],
            "admission_date": [date(2024, 1, 10), date(2024, 2, 1), date(2024, 3, 1), date(2024, 1, 30)],
            "surgery_start": [
                ts(2024, 1, 10, 8),
                ts(2024, 2, 1, 9, 30),
                ts(2024, 3, 1, 22),
                ts(2024, 2, 2, 8),
            ],
            "surgery_end": [ts(2024, 1, 10, 9, 15), ts(2024, 2, 1, 12), None, ts(2024, 2, 2, 9)],
            "discharge_date": [date(2024, 1, 11), date(2024, 2, 3), date(2024, 3, 20), None],
            "converted_to_open": [False, True, None, None],
            "blood_loss_ml": [50.0, 300.0, 1200.5, None],
            "discharge_destination": ["home", "home", "died", None],
            "predicted_mortality": [0.002, 0.001, 0.25, None],
            "source_system": ["north", "south", "north", "east"],
            "updated_at": [ts(2024, 4, 1)] * 4,
        },
        "complications": {
            "complication_id": ["K1", "K2"],
            "case_id": ["C3", "C3"],
            "complication_type": ["bleeding", "cardiac"],
            "clavien_dindo": ["II", "V"],
            "onset_date": [date(2024, 3, 2), None],
            "updated_at": [ts(2024, 4, 1)] * 2,
        },
        "encounters": {
            "encounter_id": ["E1", "E2"],
            "patient_id": ["P2", "P1"],
            "site_id": ["H02", None],
            "admission_date": [date(2024, 2, 20), date(2024, 2, 5)],
            "discharge_date": [date(2024, 2, 22), None],
            "planned": [False, True],
            "updated_at": [ts(2024, 4, 1)] * 2,
        },
    }
    return {name: pl.DataFrame(data, schema=TABLES[name].schema) for name, data in frames.items()}


def write_sqlite(
    path: Path,
    tables: dict[str, pl.DataFrame],
    names: dict[str, str] | None = None,
    columns: dict[str, dict[str, str]] | None = None,
) -> str:
    """Write tables to a SQLite file with declared column types; optional renames; return its URI."""
    names, columns = names or {}, columns or {}
    with sqlite3.connect(path) as db:
        for table, frame in tables.items():
            renamed = frame.rename(columns.get(table, {}))
            declared = ", ".join(f"{c} {_SQLITE_TYPES[type(t)]}" for c, t in renamed.schema.items())
            db.execute(f"CREATE TABLE {names.get(table, table)} ({declared})")
            marks = ", ".join("?" * renamed.width)
            rows = [tuple(_sqlite_value(v) for v in row) for row in renamed.iter_rows()]
            db.executemany(f"INSERT INTO {names.get(table, table)} VALUES ({marks})", rows)
    return f"sqlite://{path.resolve()}"


def _sqlite_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def write_parquet_folder(folder: Path, tables: dict[str, pl.DataFrame]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for table, frame in tables.items():
        frame.write_parquet(folder / f"{table}.parquet")
    return folder


def demo_sqlite(folder: Path, cases: int, seed: int) -> Path:
    """A dirty demo Gold layer as `folder`/gold.sqlite (for session fixtures shared read-only)."""
    from ector.demo import write_demo

    write_demo(str(folder / "gold.sqlite"), cases=cases, seed=seed)
    return folder / "gold.sqlite"


def own_copy(gold: Path, folder: Path) -> Path:
    """A test's own copy of a shared Gold layer, so that touching it affects no other test."""
    target = folder / gold.name
    shutil.copy(gold, target)
    return target


def run_to_mart(source_uri: str, work: Path) -> Path:
    """Run ingest, consolidate and transform through the CLI entry point in-process (the path users take) into
    the work directory `work`; return the case mart's path."""
    import sys

    from ector.cli import main

    for args in (["ingest", "--source", source_uri], ["consolidate"], ["transform"]):
        saved, sys.argv = sys.argv, ["ector", "--workdir", str(work), *args]
        try:
            main()
        except SystemExit as exc:
            assert not exc.code, args
        finally:
            sys.argv = saved
    return work / "transform" / "cases.parquet"
