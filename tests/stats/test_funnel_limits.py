"""Funnel limits: methods.md's known values, and what is drawn is what is flagged, in every mode."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ector.report.chartdata import funnel_curves
from ector.stats.funnel import LIMIT_COLUMNS, FunnelMethod, Measure, funnel_limits, funnel_table

LEVELS = {"95%": 0.95, "99.8%": 0.998}


@pytest.mark.parametrize(
    ("measure", "denominator", "target", "known"),
    [
        # docs/methods.md, "Funnel plots": (lower 99.8%, lower 95%, upper 95%, upper 99.8%)
        ("oe_ratio", 20.0, 1.0, (0.358459, 0.560250, 1.437288, 1.735676)),
        ("oe_ratio", 3.474058, 1.0, (0.0, 0.0, 2.028204, 2.873379)),
        ("proportion", 200.0, 0.1, (0.037852, 0.057691, 0.140972, 0.168567)),
        ("proportion", 47.0, 0.073916, (0.0, 0.0, 0.146428, 0.205745)),
    ],
)
def test_exact_limits_reproduce_the_known_values(
    measure: Measure, denominator: float, target: float, known: tuple[float, float, float, float]
) -> None:
    lower_998, upper_998 = funnel_limits(measure, "exact", [denominator], target, 0.998)
    lower_95, upper_95 = funnel_limits(measure, "exact", [denominator], target, 0.95)
    assert [lower_998[0], lower_95[0], upper_95[0], upper_998[0]] == pytest.approx(known, abs=1e-6)


def test_exact_limits_follow_the_definition_at_many_denominators() -> None:
    # Independently of the implementation's vectorised form: the smallest r with P(X <= r) >= p, interpolated.
    for e in np.linspace(0.3, 60, 37):
        for p in (0.001, 0.025, 0.975, 0.999):
            r = next(k for k in range(1000) if stats.poisson.cdf(k, e) >= p)
            alpha = (stats.poisson.cdf(r, e) - p) / stats.poisson.pmf(r, e)
            lower, upper = funnel_limits("oe_ratio", "exact", [e], 1.0, 1 - 2 * min(p, 1 - p))
            assert (lower if p < 0.5 else upper)[0] == pytest.approx(max(r - alpha, 0) / e, rel=1e-9, abs=1e-12)


def test_no_limit_where_there_is_no_denominator() -> None:
    for method in ("exact", "approximate"):
        lower, upper = funnel_limits("oe_ratio", method, [0.0, 5.0], 1.0, 0.95)
        assert np.isnan(lower[0]) and np.isnan(upper[0])
        assert np.isfinite(lower[1]) and np.isfinite(upper[1])


CURVE_OF = {
    ("99.8%", "lower"): "lower_998",
    ("95%", "lower"): "lower_95",
    ("95%", "upper"): "upper_95",
    ("99.8%", "upper"): "upper_998",
}
MODES: list[tuple[FunnelMethod, bool]] = [("exact", False), ("approximate", False), ("exact", True)]


def _flag_from_limits(row: dict[str, float | str | None]) -> str:
    value = row["value"]
    assert isinstance(value, float)
    lower_998, lower_95, upper_95, upper_998 = (row[c] for c in LIMIT_COLUMNS)
    assert all(isinstance(x, float) for x in (lower_998, lower_95, upper_95, upper_998))
    if value > upper_998:  # type: ignore[operator]
        return "high_alarm"
    if value > upper_95:  # type: ignore[operator]
        return "high_alert"
    if value < lower_998:  # type: ignore[operator]
        return "low_alarm"
    if value < lower_95:  # type: ignore[operator]
        return "low_alert"
    return "as_expected"


units_strategy = st.lists(
    st.tuples(st.integers(1, 400), st.floats(0.0, 1.0), st.floats(0.5, 3.0)), min_size=3, max_size=12
)


@pytest.mark.parametrize(("method", "overdispersion"), MODES)
@pytest.mark.parametrize("measure", ["proportion", "oe_ratio"])
@settings(max_examples=25, deadline=None)
@given(rows=units_strategy)
def test_flag_is_outside_the_drawn_limit_and_the_chart_draws_those_limits(
    method: FunnelMethod, overdispersion: bool, measure: Measure, rows: list[tuple[int, float, float]]
) -> None:
    # Each unit: n cases, a rate, and (for O/E) an expected count as a multiple of the observed.
    cases = [n for n, _, _ in rows]
    observed = [round(n * rate) for n, rate, _ in rows]
    expected = [max(o, 1) * scale for o, (_, _, scale) in zip(observed, rows, strict=True)]
    units = pl.DataFrame(
        {
            "unit_id": [f"u{i:02d}" for i in range(len(rows))],
            "outcome": "m",
            "cases": cases,
            "observed": observed,
            "expected": expected,
        }
    )
    table = funnel_table(units, measure, min_cases=1, method=method, overdispersion=overdispersion)
    for row in table.iter_rows(named=True):
        assert row["flag"] == _flag_from_limits(row), row
    # The chart's curves, at a unit's denominator, are its row's limits: a point outside a curve is flagged.
    # (Checked for the smallest and the largest unit: each check draws a chart's worth of curves.)
    target, tau2 = float(table["target"][0]), table["tau2"].drop_nulls()
    ordered = table.filter(pl.col("denominator") >= 0.5).sort("denominator")
    for row in (ordered.row(0, named=True), ordered.row(-1, named=True)):
        d = row["denominator"]
        spread = tau2[0] if tau2.len() else None
        curves = funnel_curves(measure, target, spread, d / 0.9, d * 1.5, (0.95, 0.998), method)
        for (limit, side), column in CURVE_OF.items():
            first = curves.filter((pl.col("limit") == limit) & (pl.col("side") == side)).sort("x").row(0, named=True)
            assert first["x"] == pytest.approx(d)  # the grid starts at 0.9 x the smallest denominator given
            assert first["y"] == pytest.approx(row[column], rel=1e-12, abs=1e-12)
