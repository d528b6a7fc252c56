"""Steiner CUSUM and VLAD: published weight, and the vectorised chart against the plain recursion."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ector.stats.cusum import cusum_path, risk_adjusted_cusum, steiner_weight, vlad


def _recursive_cusum(weights: list[float]) -> list[float]:
    chart, x = [], 0.0
    for w in weights:
        x = max(0.0, x + w)
        chart.append(x)
    return chart


def _weight(p: float, y: int, r_a: float, r_0: float) -> float:
    # Written as in Steiner et al. (2000), without the log1p rearrangement of the implementation.
    return math.log((1 - p + r_0 * p) * r_a**y / ((1 - p + r_a * p) * r_0**y))


def test_steiner_weight_matches_the_published_example() -> None:
    p = 1 / (1 + math.exp(-(-3.67 + 0.077 * 19)))
    frame = pl.DataFrame({"p": [p], "y": [0]})
    w = frame.select(steiner_weight(pl.col("p"), pl.col("y"), odds_ratio_alternative=0.5)).item()
    assert w == pytest.approx(0.05083, abs=5e-6)


@pytest.mark.parametrize(("r_a", "r_0"), [(2.0, 1.0), (0.5, 1.0), (3.0, 1.5)])
@pytest.mark.parametrize("y", [0, 1])
@pytest.mark.parametrize("p", [0.001, 0.05, 0.4, 0.97])
def test_steiner_weight_agrees_with_the_textbook_formula(p: float, y: int, r_a: float, r_0: float) -> None:
    frame = pl.DataFrame({"p": [p], "y": [bool(y)]})
    w = frame.select(steiner_weight(pl.col("p"), pl.col("y"), r_a, r_0)).item()
    assert w == pytest.approx(_weight(p, y, r_a, r_0), rel=1e-12, abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-5, max_value=5, allow_nan=False), max_size=60))
def test_vectorised_cusum_equals_the_recursion(weights: list[float]) -> None:
    frame = pl.DataFrame({"w": weights}, schema={"w": pl.Float64})
    chart = frame.select(cusum_path(pl.col("w"))).to_series().to_list()
    assert chart == pytest.approx(_recursive_cusum(weights), abs=1e-9)
    assert all(x >= 0 for x in chart)


def test_risk_adjusted_cusum_per_unit_in_time_order_equals_the_recursion() -> None:
    rng = np.random.default_rng(20240611)
    n = 600
    cases = pl.DataFrame(
        {
            "surgeon_id": rng.choice(["s1", "s2", "s3"], n),
            "surgery_start": rng.permutation(n),  # rows arrive out of time order
            "risk": rng.uniform(0.01, 0.3, n),
            "died": rng.random(n) < 0.12,
        }
    )
    result = risk_adjusted_cusum(cases, unit="surgeon_id", order="surgery_start", risk="risk", outcome="died")
    assert result.height == n
    for (surgeon,), series in result.sort("surgery_start").group_by("surgeon_id", maintain_order=True):
        weights = [_weight(p, int(y), 2.0, 1.0) for p, y in zip(series["risk"], series["died"], strict=True)]
        assert series["cusum_weight"].to_list() == pytest.approx(weights, rel=1e-12), surgeon
        assert series["cusum"].to_list() == pytest.approx(_recursive_cusum(weights), abs=1e-9), surgeon


def test_risk_adjusted_cusum_runs_in_a_lazy_plan() -> None:
    cases = pl.LazyFrame({"unit": ["a", "a", "a"], "t": [2, 1, 3], "p": [0.1, 0.1, 0.1], "y": [1, 1, 0]})
    result = risk_adjusted_cusum(cases, unit="unit", order="t", risk="p", outcome="y").collect().sort("t")
    up = math.log(2 / 1.1)  # an event at p = 0.1 with R_A = 2
    down = -math.log(1.1)
    assert result["cusum"].to_list() == pytest.approx([up, 2 * up, 2 * up + down])


def test_vlad_is_the_running_sum_of_expected_minus_observed_per_unit() -> None:
    cases = pl.DataFrame(
        {
            "unit": ["a", "b", "a", "a", "b"],
            "t": [3, 1, 1, 2, 2],
            "p": [0.1, 0.2, 0.3, 0.05, 0.4],
            "y": [0, 1, 1, 0, 0],
        }
    )
    result = vlad(cases, unit="unit", order="t", risk="p", outcome="y").sort("unit", "t")
    # a: 0.3 - 1, then + 0.05, then + 0.1; b: 0.2 - 1, then + 0.4.
    assert result["vlad"].to_list() == pytest.approx([-0.7, -0.65, -0.55, -0.8, -0.4])
