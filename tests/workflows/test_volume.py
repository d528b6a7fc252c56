"""Medians and quartiles from value counts (workflows.volume) equal those of the values themselves."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ector.workflows.volume import spread_plan


def _direct(frame: pl.DataFrame, group: list[str], measure: str) -> pl.DataFrame:
    x = pl.col(measure).cast(pl.Float64)
    return (
        frame.group_by(group)
        .agg(
            x.median().alias(f"{measure}_median"),
            x.quantile(0.25, "linear").alias(f"{measure}_q1"),
            x.quantile(0.75, "linear").alias(f"{measure}_q3"),
            x.count().cast(pl.Int64).alias(f"{measure}_cases"),
        )
        .filter(pl.col(f"{measure}_cases") > 0)
    )


def test_known_quartiles_of_one_to_four() -> None:
    # R: quantile(c(1, 2, 3, 4), c(.25, .5, .75)) gives 1.75 2.50 3.25 (type 7); 4 repeated does not change
    # the median of 1, 2, 3, 4, 4 (3) but moves q1 to 2 and q3 to 4.
    frame = pl.LazyFrame({"g": ["a"] * 4 + ["b"] * 5, "t": [1, 2, 3, 4, 1, 2, 3, 4, 4]})
    result = spread_plan(frame, ["g"], "t").sort("g").collect()
    assert result.rows() == [("a", 2.5, 1.75, 3.25, 4), ("b", 3.0, 2.0, 4.0, 5)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_from_counts_equals_directly_to_the_last_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 20_000
    frame = pl.DataFrame(
        {
            "unit": [u or None for u in rng.choice(["S1", "S2", "S3", ""], n).tolist()],
            "family": rng.choice(["hip", "knee"], n),
            # Whole minutes with heavy ties, irrational-looking floats, and nulls.
            "minutes": np.where(rng.random(n) < 0.1, np.nan, rng.integers(20, 400, n) / 7.0),
        }
    ).with_columns(pl.col("minutes").fill_nan(None))
    frame = pl.concat([frame, pl.DataFrame({"unit": ["S9"], "family": ["hip"], "minutes": [None]})], how="vertical")
    group = ["unit", "family"]
    expected = _direct(frame, group, "minutes").sort(group, nulls_last=True)
    result = spread_plan(frame.lazy(), group, "minutes").collect().sort(group, nulls_last=True)
    # Three units and the null unit, two families each; S9, whose only value is null, has no row (the caller
    # reports it as 0 measured).
    assert expected.height == 8
    assert_frame_equal(result, expected, check_exact=True)


def test_a_unit_without_any_measured_value_has_zero_measured_and_no_spread() -> None:
    from datetime import date

    from ector.workflows.volume import volume_plan

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
        row["unit_id"]: row for row in volume_plan(mart, "surgeon_id", [], patients=3).collect().iter_rows(named=True)
    }
    assert (rows["S1"]["cases"], rows["S1"]["patients"]) == (2, 2)
    assert (rows["S1"]["operative_minutes_cases"], rows["S1"]["operative_minutes_median"]) == (0, None)
    assert (rows["S1"]["los_days_cases"], rows["S1"]["los_days_median"]) == (2, 2.5)
    assert (rows["S2"]["operative_minutes_cases"], rows["S2"]["operative_minutes_q3"]) == (1, 90.0)
    assert (rows["S2"]["los_days_cases"], rows["S2"]["los_days_q1"]) == (0, None)
