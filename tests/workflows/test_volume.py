"""Medians and quartiles of durations per unit (workflows.volume): R's type 7, against numpy's computation."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from ector.workflows.volume import volume_plan


def _spread(frame: pl.DataFrame, group: list[str], measure: str) -> pl.DataFrame:
    spread = volume_plan(frame.lazy().rename({group[0]: "unit"}), "unit", group[1:], patients=False)
    return spread.select("unit_id", *group[1:], *(f"{measure}_{s}" for s in ("median", "q1", "q3", "cases"))).collect()


def test_known_quartiles_of_one_to_four() -> None:
    # R: quantile(c(1, 2, 3, 4), c(.25, .5, .75)) gives 1.75 2.50 3.25 (type 7); 4 repeated does not change
    # the median of 1, 2, 3, 4, 4 (3) but moves q1 to 2 and q3 to 4.
    frame = pl.DataFrame({"g": ["a"] * 4 + ["b"] * 5, "operative_minutes": [1.0, 2, 3, 4, 1, 2, 3, 4, 4]})
    frame = frame.with_columns(
        patient_id=pl.lit("P1"), surgery_date=pl.lit(date(2024, 1, 1)), los_days=pl.lit(None, dtype=pl.Int32)
    )
    result = _spread(frame, ["g"], "operative_minutes").sort("unit_id")
    assert result.rows() == [("a", 2.5, 1.75, 3.25, 4), ("b", 3.0, 2.0, 4.0, 5)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quartiles_equal_numpys_linear_percentiles(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 20_000
    frame = pl.DataFrame(
        {
            "unit": rng.choice(["S1", "S2", "S3"], n),
            "family": rng.choice(["hip", "knee"], n),
            # Whole minutes with heavy ties, irrational-looking floats, and nulls.
            "operative_minutes": np.where(rng.random(n) < 0.1, np.nan, rng.integers(20, 400, n) / 7.0),
        }
    ).with_columns(
        pl.col("operative_minutes").fill_nan(None),
        patient_id=pl.lit("P1"),
        surgery_date=pl.lit(date(2024, 1, 1)),
        los_days=pl.lit(1, dtype=pl.Int32),
    )
    result = _spread(frame, ["unit", "family"], "operative_minutes")
    assert result.height == 6
    for row in result.iter_rows(named=True):
        values = frame.filter(unit=row["unit_id"], family=row["family"])["operative_minutes"].drop_nulls().to_numpy()
        quartiles = np.percentile(values, [50, 25, 75], method="linear")
        measured = [row[f"operative_minutes_{s}"] for s in ("median", "q1", "q3")]
        assert measured == pytest.approx(quartiles, rel=1e-12)
        assert row["operative_minutes_cases"] == values.size


def test_a_unit_without_any_measured_value_has_zero_measured_and_no_spread() -> None:
    mart = pl.LazyFrame(
        {
            "surgeon_id": ["S1", "S1", "S2"],
            "patient_id": ["P1", "P2", "P1"],
            "surgery_date": [date(2024, 1, 1)] * 3,
            "operative_minutes": [None, None, 90.0],
            "los_days": [2, 3, None],
        },
        schema_overrides={"operative_minutes": pl.Float64, "los_days": pl.Int32},
    )
    rows = {
        row["unit_id"]: row
        for row in volume_plan(mart, "surgeon_id", [], patients=True).collect().iter_rows(named=True)
    }
    assert (rows["S1"]["cases"], rows["S1"]["patients"]) == (2, 2)
    assert (rows["S1"]["operative_minutes_cases"], rows["S1"]["operative_minutes_median"]) == (0, None)
    assert (rows["S1"]["los_days_cases"], rows["S1"]["los_days_median"]) == (2, 2.5)
    assert (rows["S2"]["operative_minutes_cases"], rows["S2"]["operative_minutes_q3"]) == (1, 90.0)
    assert (rows["S2"]["los_days_cases"], rows["S2"]["los_days_q1"]) == (0, None)
