"""Wilson and exact Poisson intervals against published values and scipy.stats (a different code path)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy.stats import binomtest, chi2

from ector.stats.intervals import (
    poisson_ratio_bounds,
    poisson_ratio_interval,
    wilson_bounds,
    wilson_interval,
    z_for_level,
)

COUNTS = [(0, 1), (0, 20), (1, 1), (1, 20), (7, 20), (20, 20), (3, 250), (125, 250), (999, 1000), (41, 4000)]


@pytest.mark.parametrize(("level", "z"), [(0.95, 1.959964), (0.998, 3.090232), (0.90, 1.644854), (0.99, 2.575829)])
def test_z_for_level_matches_normal_table(level: float, z: float) -> None:
    assert z_for_level(level) == pytest.approx(z, abs=1e-6)


def test_wilson_7_of_20_lower_bound_is_the_published_0_1812() -> None:
    lower, upper = wilson_interval(7, 20)
    assert lower == pytest.approx(0.1812, abs=5e-5)
    assert upper == pytest.approx(0.5671, abs=5e-5)


@pytest.mark.parametrize("level", [0.95, 0.998])
@pytest.mark.parametrize(("events", "n"), COUNTS)
def test_wilson_interval_agrees_with_scipy(events: int, n: int, level: float) -> None:
    expected = binomtest(events, n).proportion_ci(confidence_level=level, method="wilson")
    lower, upper = wilson_interval(events, n, level)
    assert lower == pytest.approx(expected.low, abs=1e-12)
    assert upper == pytest.approx(expected.high, abs=1e-12)


def test_wilson_bounds_expression_agrees_with_scipy_row_by_row() -> None:
    frame = pl.DataFrame({"events": [e for e, _ in COUNTS], "n": [n for _, n in COUNTS]})
    lower, upper = wilson_bounds(pl.col("events"), pl.col("n"), z_for_level(0.95))
    result = frame.with_columns(lower=lower, upper=upper)
    for row in result.iter_rows(named=True):
        ci = binomtest(row["events"], row["n"]).proportion_ci(confidence_level=0.95, method="wilson")
        assert row["lower"] == pytest.approx(ci.low, abs=1e-12)
        assert row["upper"] == pytest.approx(ci.high, abs=1e-12)


def test_wilson_bounds_are_null_without_cases() -> None:
    lower, upper = wilson_bounds(pl.col("events"), pl.col("n"), 1.959964)
    result = pl.DataFrame({"events": [0], "n": [0]}).select(lower=lower, upper=upper)
    assert result.row(0) == (None, None)


@pytest.mark.parametrize(("events", "n"), [(1, 0), (-1, 10), (11, 10)])
def test_wilson_interval_rejects_impossible_counts(events: int, n: int) -> None:
    with pytest.raises(ValueError, match="events"):
        wilson_interval(events, n)


@pytest.mark.parametrize(
    ("level", "lower", "upper"),
    [(0.95, 0.6108260, 1.544419), (0.998, 0.4479107, 1.902094)],  # FunnelPlotR, methods.md
)
def test_poisson_funnel_limits_at_expected_20_match_funnelplotr(level: float, lower: float, upper: float) -> None:
    # Funnel limits around 1 are the O/E interval with O = E.
    lo, hi = poisson_ratio_bounds([20.0], [20.0], level)
    assert lo[0] == pytest.approx(lower, abs=1e-6)
    assert hi[0] == pytest.approx(upper, abs=1e-6)


@pytest.mark.parametrize("level", [0.95, 0.998])
@pytest.mark.parametrize("expected", [15.0, 30.0, 0.7, 123.4])
def test_poisson_funnel_limits_agree_with_scipy_chi2(expected: float, level: float) -> None:
    alpha = 1 - level
    lo, hi = poisson_ratio_bounds([expected], [expected], level)
    assert lo[0] == pytest.approx(chi2.ppf(alpha / 2, 2 * expected) / (2 * expected), rel=1e-10)
    assert hi[0] == pytest.approx(chi2.ppf(1 - alpha / 2, 2 * (expected + 1)) / (2 * expected), rel=1e-10)


@pytest.mark.parametrize("level", [0.95, 0.998])
@pytest.mark.parametrize(("observed", "expected"), [(1, 2.5), (4, 2.5), (17, 20.0), (60, 41.3), (250, 260.0)])
def test_poisson_ratio_interval_agrees_with_scipy_chi2(observed: int, expected: float, level: float) -> None:
    alpha = 1 - level
    lower, upper = poisson_ratio_interval(observed, expected, level)
    assert lower == pytest.approx(chi2.ppf(alpha / 2, 2 * observed) / (2 * expected), rel=1e-10)
    assert upper == pytest.approx(chi2.ppf(1 - alpha / 2, 2 * (observed + 1)) / (2 * expected), rel=1e-10)


def test_poisson_ratio_interval_with_no_events_starts_at_zero() -> None:
    lower, upper = poisson_ratio_interval(0, 4.0)
    assert lower == 0.0
    # With O = 0 the upper limit is -ln(alpha/2)/E exactly (chi-square with 2 df is exponential).
    assert upper == pytest.approx(-math.log(0.025) / 4.0, rel=1e-12)


def test_poisson_ratio_bounds_give_nan_for_no_expected_without_warning() -> None:
    lower, upper = poisson_ratio_bounds(np.array([0.0, 3.0, 2.0]), np.array([0.0, 0.0, 2.0]), 0.95)
    assert np.isnan(lower[:2]).all()
    assert np.isnan(upper[:2]).all()
    assert np.isfinite([lower[2], upper[2]]).all()


@pytest.mark.parametrize(("observed", "expected"), [(-1, 2.0), (3, 0.0)])
def test_poisson_ratio_interval_rejects_impossible_inputs(observed: float, expected: float) -> None:
    with pytest.raises(ValueError, match="observed"):
        poisson_ratio_interval(observed, expected)


@pytest.mark.parametrize("level", [0.0, 1.0, 95.0])
def test_levels_outside_zero_one_are_rejected(level: float) -> None:
    with pytest.raises(ValueError, match="level"):
        wilson_interval(1, 2, level)
