"""The case mart agrees row by row with an independent DuckDB SQL computation (tests/transform/duckdb_reference.py).

Input: random consolidated-shaped tables (tests/transform/synthetic.py) with the edge cases planted at random,
independent of the demo generator and of consolidation; and, end to end, demo data through the whole chain.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from tests.conftest import CliResult
from tests.transform.duckdb_reference import duckdb_mart, reference_sql, register_parquet
from tests.transform.synthetic import synthetic_gold

from ector.settings import AnalysisSettings
from ector.transform import MART_SCHEMA, case_mart


@pytest.mark.parametrize(
    ("seed", "window", "strata"),
    [
        (7, 30, ["procedure_family", "asa_class", "age_band", "urgency"]),
        (8, 30, ["site_id", "sex"]),
        (9, 7, []),
        (10, 0, ["approach"]),
    ],
)
def test_mart_agrees_with_duckdb_row_by_row(seed: int, window: int, strata: list[str]) -> None:
    tables = synthetic_gold(4000, seed=seed)
    analysis = AnalysisSettings(outcome_window_days=window, risk_strata=strata, risk_model="strata")
    ours = case_mart({name: frame.lazy() for name, frame in tables.items()}, analysis).plan.collect()
    reference = duckdb_mart(tables, window, strata)

    assert reference.columns == ours.columns
    reference = reference.select(pl.col(name).cast(dtype) for name, dtype in MART_SCHEMA.items())
    # Row by row: both are sorted by surgery_start, case_id, so row i is the same case on both sides.
    assert_frame_equal(ours, reference, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)


def test_synthetic_input_exercises_every_outcome() -> None:
    ours = case_mart({n: f.lazy() for n, f in synthetic_gold(4000, seed=7).items()}, AnalysisSettings()).plan.collect()
    for outcome in ("complication_any", "complication_major", "readmission_30d", "reoperation_30d", "mortality_30d"):
        assert 0 < ours[outcome].sum() < ours.height, outcome
    assert ours["readmission_30d"].null_count() > 0  # cases still in hospital
    assert ours["operative_minutes"].null_count() > 0
    assert ours["surgery_start"].is_duplicated().any()
    assert (ours["surgery_date"].dt.month() == 12).any()


def test_demo_mart_agrees_with_duckdb(
    cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole chain on demo data: ector demo, ingest, consolidate, transform; DuckDB over consolidate/."""
    monkeypatch.setenv("ECTOR_ANALYSIS__RISK_MODEL", "strata")  # the reference computes stratum rates
    work = str(tmp_path / "work")
    gold = str(tmp_path / "gold.sqlite")
    for args in (
        ("demo", "--out", gold, "--cases", "3000", "--seed", "3"),
        ("-w", work, "ingest", "--source", gold),
        ("-w", work, "consolidate"),
        ("-w", work, "transform"),
    ):
        result = cli(*args)
        assert result.exit_code == 0, result.output
    ours = pl.read_parquet(tmp_path / "work" / "transform" / "cases.parquet")
    analysis = AnalysisSettings(risk_model="strata")  # the reference computes stratum rates
    with duckdb.connect() as db:
        register_parquet(db, tmp_path / "work" / "consolidate")
        reference = db.sql(reference_sql(analysis.outcome_window_days, analysis.risk_strata)).pl()
    reference = reference.select(pl.col(name).cast(dtype) for name, dtype in MART_SCHEMA.items())
    assert ours.height > 2500
    assert_frame_equal(ours, reference, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)
