"""Steiner CUSUM and VLAD: published weight, and the vectorised chart against the plain recursion."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ector.stats.cusum import chart_with_restarts, cusum_path, risk_adjusted_cusum, steiner_weight, vlad


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


def _restarting_chart(weights: list[float], h: float) -> tuple[list[float], list[bool]]:
    # The deciding chart as the recursion: a signal where X_t > h, and X starts again from 0 after it.
    chart, signals, x = [], [], 0.0
    for w in weights:
        x = max(0.0, x + w)
        chart.append(x)
        signals.append(x > h)
        if x > h:
            x = 0.0
    return chart, signals


@settings(max_examples=150, deadline=None)
@given(
    series=st.lists(st.lists(st.floats(-2.0, 2.0, allow_nan=False), min_size=0, max_size=60), min_size=1, max_size=5),
    h=st.floats(0.1, 4.0),
)
def test_chart_with_restarts_equals_the_recursion_series_by_series(series: list[list[float]], h: float) -> None:
    frame = pl.DataFrame(
        {
            "run": np.repeat(np.arange(len(series), dtype=np.uint32), [len(s) for s in series]),
            "w": [w for s in series for w in s],
        },
        schema={"run": pl.UInt32, "w": pl.Float64},
    )
    expected = [_restarting_chart(s, h) for s in series]
    # The closed form sums in another order than the recursion: a value within rounding of h may fall either side.
    assume(all(abs(x - h) > 1e-9 for path, _ in expected for x in path))
    chart, signal = chart_with_restarts(frame, by="run", weight="w", limit=h)
    assert chart.to_list() == pytest.approx([x for path, _ in expected for x in path], abs=1e-9)
    assert signal.to_list() == [s for _, signals in expected for s in signals]


def test_a_chart_that_keeps_crossing_signals_at_every_crossing() -> None:
    # +1 a case against h = 2.5: X = 1, 2, 3 (signal), then 1, 2, 3 (signal) ... a signal every third case.
    frame = pl.DataFrame({"run": pl.Series([0] * 12, dtype=pl.UInt32), "w": [1.0] * 12})
    chart, signal = chart_with_restarts(frame, by="run", weight="w", limit=2.5)
    assert chart.to_list() == [1.0, 2.0, 3.0] * 4
    assert signal.to_list() == [False, False, True] * 4
