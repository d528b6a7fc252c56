"""A view of a mart too large to hold at once works a part at a time, and gives the same tables."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ector.materialise import InMemory
from ector.settings import AnalysisSettings
from ector.workflows import load
from ector.workflows.patient import patient_view
from ector.workflows.site import site_view
from ector.workflows.surgeon import surgeon_view
from tests.workflows.marts import make_mart

VIEWS = {"surgeon": surgeon_view, "site": site_view, "patient": patient_view}


@pytest.fixture(scope="module")
def mart() -> pl.DataFrame:
    # 12 surgeons at 4 sites, with learning curves, a table absent, some unknown outcomes and patients.
    frame = make_mart(12, 150, n_sites=4, seed=3, learning=True, absent=["encounters"])
    row = pl.int_range(pl.len())
    return frame.with_columns(
        complication_major=pl.when(row % 17 == 0).then(None).otherwise(pl.col("complication_major")),
        patient_id=pl.when(row % 97 == 0).then(None).otherwise(pl.col("patient_id")),  # a case without its patient
    )


def _tables(view: str, mart: pl.DataFrame, part_cases: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, pl.DataFrame]:
    monkeypatch.setattr(load, "PART_CASES", part_cases)
    tables = VIEWS[view](mart.lazy(), AnalysisSettings(), InMemory())
    return {name: table.lazy().collect() for name, table in tables.items()}


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("part_cases", [1, 400, 700])
def test_a_view_in_parts_gives_the_tables_of_the_whole(
    view: str, part_cases: int, mart: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _tables(view, mart, 10**9, monkeypatch)
    in_parts = _tables(view, mart, part_cases, monkeypatch)

    assert set(in_parts) == set(whole)
    for name, table in whole.items():
        # Sums of floats may differ in their last bits: their order is not fixed (as between two whole runs).
        assert_frame_equal(in_parts[name], table, rel_tol=1e-12, abs_tol=1e-12, check_dtypes=True), name


def test_parts_hold_whole_units_and_cover_the_mart(mart: pl.DataFrame) -> None:
    filters = load.parts_by(mart.lazy(), "surgeon_id", 400, InMemory())
    parts = [mart.filter(f) for f in filters]
    assert len(parts) == 4  # 12 surgeons of 150 cases: three to a part (450 >= 400)
    assert sum(p.height for p in parts) == mart.height
    owners = [set(p["surgeon_id"].unique()) for p in parts]
    assert all(a.isdisjoint(b) for i, a in enumerate(owners) for b in owners[i + 1 :])
