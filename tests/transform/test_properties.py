"""Property-based: whatever values consolidated-shaped tables hold, the case mart is built and its counts hold.

Each example draws a subset of the tables (cases always) in their consolidated dtypes and column order, with
the guarantees consolidation gives (unique non-null keys, required columns filled, required references that
resolve) and arbitrary values everywhere else: any text in code columns, the whole range of each integer and
float dtype (inf and NaN included), dates and timestamps from year 1 to 9999. The mart must be built, hold
exactly one row per case in the data dictionary's dtypes, sorted, and its counts must agree with the tables.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ector.contract import TABLES, Column, Table
from ector.settings import AnalysisSettings
from ector.transform import case_mart
from ector.transform.dictionary import MART_COLUMNS
from ector.transform.mart import MART_SORT

_ANALYSIS = AnalysisSettings()
_KEYS = ["A", "B", "C", "D", "E", "F", " ", "\u00e9", "0"]
# Parents are drawn before the tables referring to them, so a reference can be drawn from the parent's keys.
_ORDER = ("sites", "surgeons", "patients", "cases", "complications", "encounters")


def _values(column: Column) -> st.SearchStrategy[Any]:
    dtype = column.dtype
    values: st.SearchStrategy[Any]
    if dtype == pl.String():
        values = st.text(max_size=8)
        if column.codes:
            values = st.one_of(st.sampled_from(column.codes), values)
    elif dtype == pl.Int8():
        values = st.one_of(st.integers(-(2**7), 2**7 - 1), st.integers(1, 5))
    elif dtype == pl.Int32():
        values = st.integers(-(2**31), 2**31 - 1)
    elif dtype == pl.Float64():
        values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1))
    elif dtype == pl.Date():
        values = st.one_of(st.dates(), st.dates(date(2023, 12, 1), date(2024, 3, 1)))
    elif isinstance(dtype, pl.Datetime):
        values = st.one_of(st.datetimes(), st.datetimes(datetime(2024, 1, 1), datetime(2024, 2, 1)))
    elif dtype == pl.Boolean():
        values = st.booleans()
    else:
        raise AssertionError(dtype)
    return values if column.required else st.one_of(st.none(), values)


@st.composite
def _table(draw: st.DrawFn, table: Table, drawn: dict[str, pl.DataFrame]) -> pl.DataFrame:
    keys = draw(st.lists(st.one_of(st.sampled_from(_KEYS), st.text(min_size=1, max_size=3)), max_size=5, unique=True))
    references = {r.column: r for r in table.references}
    data: dict[str, list[Any]] = {}
    for column in table.columns:
        if column.name == table.key:
            data[column.name] = keys
            continue
        values = _values(column)
        reference = references.get(column.name)
        if reference is not None and reference.parent in drawn and drawn[reference.parent].height:
            parents = st.sampled_from(drawn[reference.parent][TABLES[reference.parent].key].to_list())
            # A required reference resolves (consolidation quarantined orphans); an optional one may dangle.
            values = parents if reference.required else st.one_of(st.none(), parents, values)
        elif reference is not None and reference.required and reference.parent in drawn:
            return pl.DataFrame(schema=table.schema)  # nothing to refer to: consolidation left no row
        data[column.name] = [draw(values) for _ in keys]
    return pl.DataFrame(data, schema=table.schema)


@st.composite
def _consolidated(draw: st.DrawFn) -> dict[str, pl.DataFrame]:
    drawn: dict[str, pl.DataFrame] = {}
    for name in _ORDER:
        if TABLES[name].mandatory or draw(st.booleans()):
            drawn[name] = draw(_table(TABLES[name], drawn))
    return drawn


def _check(tables: dict[str, pl.DataFrame]) -> None:
    mart = case_mart({k: v.lazy() for k, v in tables.items()}, _ANALYSIS).plan.collect()
    cases = tables["cases"]

    assert mart.height == cases.height
    assert sorted(mart["case_id"].to_list()) == sorted(cases["case_id"].to_list())
    assert mart.schema == pl.Schema({c.name: c.dtype for c in MART_COLUMNS})
    assert mart.equals(mart.sort(*MART_SORT, maintain_order=True))
    # Each surgeon's cases of a family are numbered 1..n.
    for seq in mart.group_by("surgeon_id", "procedure_family").agg("surgeon_case_seq")["surgeon_case_seq"]:
        assert sorted(seq) == list(range(1, len(seq) + 1))
    flags = mart.select("complication_count", "complication_any", "complication_major")
    if "complications" in tables:
        counted = int(flags["complication_count"].sum())
        assert 0 <= counted <= tables["complications"].height
        assert flags["complication_count"].null_count() == 0
        assert flags["complication_any"].to_list() == [n > 0 for n in flags["complication_count"]]
        assert not (flags["complication_major"] & ~flags["complication_any"]).any()
    else:
        assert flags.null_count().row(0) == (mart.height,) * 3
    assert mart["mortality_30d"].null_count() == (0 if "patients" in tables else mart.height)


_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}


@settings(max_examples=50, **_SETTINGS)  # type: ignore[arg-type]
@given(_consolidated())
def test_any_consolidated_tables_give_one_mart_row_per_case(tables: dict[str, pl.DataFrame]) -> None:
    _check(tables)


@pytest.mark.slow
@settings(max_examples=8_900, **_SETTINGS)  # type: ignore[arg-type]
@given(_consolidated())
def test_any_consolidated_tables_give_one_mart_row_per_case_thoroughly(tables: dict[str, pl.DataFrame]) -> None:
    _check(tables)
