"""Property-based: whatever arrives in whichever column, consolidation never crashes and accounts for every row.

Each example draws a subset of the tables (cases always), each column as text or in a typed dtype (canonical or
widened), filled with arbitrary or near-miss strings, nulls, extreme numbers and dates. Keys and references
come from small pools so duplicates, variants, matches and orphans all occur.
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ector.chain import CONSOLIDATE
from ector.consolidate.quarantine import ordered
from ector.consolidate.summary import table_totals
from ector.contract import TABLES, Column, Table
from ector.ingest.canonical import ingest_dtype
from ector.runner import run_stage
from ector.settings import load_settings
from tests.consolidate.frames import RUN_DATE, run

_NEAR_MISSES = [
    "",
    "  ",
    "Female",
    " m ",
    "Q",
    "3a",
    "IIIA",
    "LAP",
    "Robotic-assisted",
    "Y",
    "no",
    "maybe",
    "3",
    "3.0",
    "3.5",
    "-1",
    "1e308",
    "-inf",
    "nan",
    "NaN",
    "99999999999999999999",
    "2024-03-05",
    "05/03/2024",
    "31/02/2024",
    "20240305",
    "05-Mar-2024",
    "2024-03-05 10:00:00",
    "2024-03-05T10:00:00.5",
    "9999-12-31 23:59:59",
    "0001-01-01",
    "+10000-01-01",
]
_KEYS = ["A1", " a1", "A1 ", "A2", "a2", "A3", "", " "]


def _text_values(column: Column, table: Table) -> st.SearchStrategy[str | None]:
    if column.name == table.key or column.name in {r.column for r in table.references}:
        return st.one_of(st.none(), st.sampled_from(_KEYS), st.text(max_size=6))
    return st.one_of(st.none(), st.sampled_from(_NEAR_MISSES), st.text(max_size=12))


def _typed_values(dtype: pl.DataType) -> st.SearchStrategy[Any]:
    values: st.SearchStrategy[Any]
    if dtype == pl.Int8():
        values = st.integers(-(2**7), 2**7 - 1)
    elif dtype == pl.Int32():
        values = st.integers(-(2**31), 2**31 - 1)
    elif dtype == pl.Int64():
        values = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-3, 8))
    elif dtype == pl.Float64():
        values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-1, 2))
    elif dtype == pl.Date():
        values = st.one_of(st.dates(), st.dates(date(2023, 12, 1), date(2025, 2, 1)))
    elif isinstance(dtype, pl.Datetime):
        values = st.one_of(st.datetimes(), st.datetimes(datetime(2023, 12, 31), datetime(2025, 1, 2)))
    elif dtype == pl.Boolean():
        values = st.booleans()
    else:
        raise AssertionError(dtype)
    return st.one_of(st.none(), values)


@st.composite
def _table(draw: st.DrawFn, table: Table) -> pl.DataFrame:
    rows = draw(st.integers(0, 6))
    series = []
    for column in table.columns:
        as_text = column.dtype == pl.String() or draw(st.booleans())
        if as_text:
            values = draw(st.lists(_text_values(column, table), min_size=rows, max_size=rows))
            series.append(pl.Series(column.name, values, dtype=pl.String))
        else:
            dtype = draw(st.sampled_from([column.dtype, ingest_dtype(column.dtype)]))
            values = draw(st.lists(_typed_values(dtype), min_size=rows, max_size=rows))
            series.append(pl.Series(column.name, values, dtype=dtype))
    frame = pl.DataFrame(series)
    # Some re-sent copies of drawn rows, so that merges happen with real values.
    copies = draw(st.lists(st.integers(0, max(rows - 1, 0)), max_size=2)) if rows else []
    return pl.concat([frame, *(frame.slice(i, 1) for i in copies)])


@st.composite
def _ingested(draw: st.DrawFn) -> dict[str, pl.DataFrame]:
    present = [name for name, t in TABLES.items() if t.mandatory or draw(st.booleans())]
    return {name: draw(_table(TABLES[name])) for name in present}


def _check(tables: dict[str, pl.DataFrame]) -> None:
    outcome = run(tables)
    totals = table_totals(outcome.summary)
    assert set(totals) == set(tables)
    for name, frame in tables.items():
        table, t, clean = TABLES[name], totals[name], outcome.clean[name]
        assert t.rows_in == frame.height, name
        assert t.rows_out == clean.height, name
        assert t.quarantined == outcome.quarantine[name].height, name
        assert t.rows_in == t.rows_out + t.duplicates_merged + t.quarantined, name
        assert clean.schema == table.schema, name
        assert clean[table.key].n_unique() == clean.height, name
        for column in table.required_columns:
            assert clean[column].null_count() == 0, (name, column)


def _stage_agrees_with_library(tables: dict[str, pl.DataFrame]) -> None:
    """The stage (table by table, through files) writes what the library function's single plan computes."""
    expected = run(tables)
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        (workdir / "ingest").mkdir()
        for name, frame in tables.items():
            frame.write_parquet(workdir / "ingest" / f"{name}.parquet")
        overrides = {
            "workdir": workdir,
            "consolidation.run_date": RUN_DATE.isoformat(),
            "consolidation.max_quarantine_fraction": 1.0,
        }
        run_stage(CONSOLIDATE, load_settings(overrides=overrides))
        folder = workdir / "consolidate"
        assert pl.read_parquet(folder / "summary.parquet").equals(expected.summary)
        for name in tables:
            key = TABLES[name].key
            clean = pl.read_parquet(folder / f"{name}.parquet")
            assert clean.sort(key).equals(expected.clean[name]), name
            quarantine = pl.read_parquet(folder / "quarantine" / f"{name}.parquet")
            assert quarantine.equals(ordered(expected.quarantine[name].lazy(), TABLES[name]).collect()), name


_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}


@settings(max_examples=50, **_SETTINGS)  # type: ignore[arg-type]
@given(_ingested())
def test_any_input_consolidates_and_reconciles(tables: dict[str, pl.DataFrame]) -> None:
    _check(tables)


@settings(max_examples=10, **_SETTINGS)  # type: ignore[arg-type]
@given(_ingested())
def test_stage_writes_what_the_library_computes(tables: dict[str, pl.DataFrame]) -> None:
    _stage_agrees_with_library(tables)


@pytest.mark.slow
@settings(max_examples=1_000, **_SETTINGS)  # type: ignore[arg-type]
@given(_ingested())
def test_any_input_consolidates_and_reconciles_thoroughly(tables: dict[str, pl.DataFrame]) -> None:
    _check(tables)


@pytest.mark.slow
@settings(max_examples=100, **_SETTINGS)  # type: ignore[arg-type]
@given(_ingested())
def test_stage_writes_what_the_library_computes_thoroughly(tables: dict[str, pl.DataFrame]) -> None:
    _stage_agrees_with_library(tables)
