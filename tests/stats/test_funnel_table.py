"""Funnel table: limits against hand-worked numpy and scipy references, flags, and the output shape."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import chi2, rankdata

from ector.stats.funnel import FUNNEL_COLUMNS, Measure, funnel_flag, funnel_table

Z95, Z998 = 1.959964, 3.090232


def _units(rows: list[tuple[str, int, int]], outcome: str = "mortality_30d") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unit_id": [u for u, _, _ in rows],
            "outcome": outcome,
            "cases": [n for _, n, _ in rows],
            "observed": [r for _, _, r in rows],
        }
    )


def _ratio_units(expected: list[float], observed: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unit_id": [f"u{i:02d}" for i in range(len(expected))],
            "outcome": "mortality_30d",
            "cases": [1000] * len(expected),
            "observed": observed,
            "expected": expected,
        }
    )


@pytest.mark.parametrize("measure", ["proportion", "oe_ratio"])
@pytest.mark.parametrize("adjusted", [False, True])
def test_funnel_table_has_exactly_the_published_columns(measure: Measure, adjusted: bool) -> None:
    units = _ratio_units([5.0, 8.0, 12.0], [4, 9, 12])
    table = funnel_table(units, measure, min_cases=1, overdispersion=adjusted)
    assert table.columns == list(FUNNEL_COLUMNS)
    assert table["measure"].unique().to_list() == [measure]


def test_approximate_proportion_target_and_limits_match_a_hand_worked_example() -> None:
    units = _units([("a", 50, 5), ("b", 100, 10), ("c", 150, 30), ("d", 40, 2)])
    table = funnel_table(units, "proportion", min_cases=10, method="approximate")
    theta = 47 / 340
    n = np.array([50.0, 100.0, 150.0, 40.0])
    centre = np.arcsin(np.sqrt(theta))
    assert table["target"].to_list() == pytest.approx([theta] * 4, rel=1e-12)
    assert table["value"].to_list() == pytest.approx([0.1, 0.1, 0.2, 0.05], rel=1e-12)
    for column, z in [("lower_998", -Z998), ("lower_95", -Z95), ("upper_95", Z95), ("upper_998", Z998)]:
        expected = np.sin(centre + z / (2 * np.sqrt(n))) ** 2
        assert table[column].to_numpy() == pytest.approx(expected, rel=1e-6)
    # c: 0.2 is above upper_95 0.1979 and below upper_998 0.2359. d: 0.05 is just below lower_95 0.0502, and
    # what is below the drawn line is flagged (the exact limits are the ones that respect the discrete count).
    assert table["flag"].to_list() == ["as_expected", "as_expected", "high_alert", "low_alert"]


def test_proportion_limits_approach_the_normal_binomial_limits_for_large_units() -> None:
    # Independent check of the arcsine scale: for large n it agrees with theta +/- z sqrt(theta(1-theta)/n).
    units = _units([("a", 10_000, 1_000), ("b", 20_000, 2_000)])
    row = funnel_table(units, "proportion", min_cases=1, method="approximate").row(0, named=True)
    half = Z95 * np.sqrt(0.1 * 0.9 / 10_000)
    assert row["lower_95"] == pytest.approx(0.1 - half, rel=2e-3)
    assert row["upper_95"] == pytest.approx(0.1 + half, rel=2e-3)


def test_approximate_proportion_lower_limit_stops_at_zero_for_small_units() -> None:
    # theta = 0.01 and n = 5: asin(0.1) - 1.96/(2 sqrt 5) < 0. The limit is 0, not sin^2 of a negative angle.
    units = _units([("small", 5, 0), ("big", 9_995, 100)])
    table = funnel_table(units, "proportion", min_cases=1, method="approximate")
    row = table.filter(pl.col("unit_id") == "small").row(0, named=True)
    assert row["lower_95"] == 0.0
    assert row["lower_998"] == 0.0
    assert row["upper_95"] == pytest.approx(np.sin(np.arcsin(0.1) + Z95 / (2 * np.sqrt(5))) ** 2, rel=1e-6)


@pytest.mark.parametrize("expected", [15.0, 20.0, 30.0])
def test_approximate_oe_ratio_limits_are_funnelplotr_chi_square_limits_around_one(expected: float) -> None:
    table = funnel_table(_ratio_units([expected], [int(expected)]), "oe_ratio", min_cases=1, method="approximate")
    row = table.row(0, named=True)
    assert row["target"] == 1.0
    assert row["value"] == pytest.approx(1.0)
    for column, q, df in [
        ("lower_998", 0.001, 2 * expected),
        ("lower_95", 0.025, 2 * expected),
        ("upper_95", 0.975, 2 * (expected + 1)),
        ("upper_998", 0.999, 2 * (expected + 1)),
    ]:
        assert row[column] == pytest.approx(chi2.ppf(q, df) / (2 * expected), rel=1e-9)
    if expected == 20.0:  # the published FunnelPlotR values of methods.md
        assert (row["lower_95"], row["upper_95"]) == pytest.approx((0.6108260, 1.544419), abs=1e-6)
        assert (row["lower_998"], row["upper_998"]) == pytest.approx((0.4479107, 1.902094), abs=1e-6)


def test_shmi_overdispersion_matches_a_numpy_reference() -> None:
    expected = np.array([4.0, 6, 8, 10, 12, 15, 18, 20, 25, 30, 35, 40, 45, 50, 60, 70, 80, 90, 100, 120])
    observed = np.array([9, 2, 15, 5, 20, 9, 30, 12, 45, 20, 50, 25, 70, 38, 95, 50, 120, 70, 140, 100])
    table = funnel_table(_ratio_units(list(expected), list(observed)), "oe_ratio", min_cases=1, overdispersion=True)
    z = np.sqrt(expected) * np.log(observed / expected)
    band = np.floor(rankdata(z) * 10 / 21)
    keep = (band > 0) & (band < 9)
    n = keep.sum()
    phi = np.mean(z[keep] ** 2)
    w = expected[keep]  # 1/s^2 with s = 1/sqrt(E)
    tau2 = max(0.0, (n * phi - (n - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    assert n == 16
    assert tau2 > 0
    assert table["phi"].to_list() == pytest.approx([phi] * 20, rel=1e-12)
    assert table["tau2"].to_list() == pytest.approx([tau2] * 20, rel=1e-12)
    spread = np.sqrt(1 / expected + tau2)
    assert table["upper_998"].to_numpy() == pytest.approx(np.exp(Z998 * spread), rel=1e-6)
    assert table["lower_95"].to_numpy() == pytest.approx(np.exp(-Z95 * spread), rel=1e-6)


def test_proportion_overdispersion_matches_a_numpy_reference() -> None:
    cases = np.array([40, 60, 80, 100, 120, 150, 200, 250, 300, 400])
    events = np.array([2, 12, 4, 20, 6, 30, 10, 50, 18, 30])
    units = _units([(f"s{i}", int(n), int(r)) for i, (n, r) in enumerate(zip(cases, events, strict=True))])
    table = funnel_table(units, "proportion", min_cases=1, overdispersion=True)
    theta = events.sum() / cases.sum()
    s = 1 / (2 * np.sqrt(cases))
    z = (np.arcsin(np.sqrt(events / cases)) - np.arcsin(np.sqrt(theta))) / s
    z_w = np.clip(z, *np.quantile(z, [0.1, 0.9]))  # numpy's default quantile is R's type 7
    phi = np.mean(z_w**2)
    w = 1 / s**2
    tau2 = max(0.0, (10 * phi - 9) / (w.sum() - (w**2).sum() / w.sum()))
    assert table["phi"][0] == pytest.approx(phi, rel=1e-12)
    assert table["tau2"][0] == pytest.approx(tau2, rel=1e-12)
    upper = np.sin(np.arcsin(np.sqrt(theta)) + Z95 * np.sqrt(s**2 + tau2)) ** 2
    assert table["upper_95"].to_numpy() == pytest.approx(upper, rel=1e-6)


def test_shmi_keeps_poisson_limits_when_no_overdispersion_is_found() -> None:
    expected = [10.0, 20.0, 30.0, 40.0, 50.0]
    adjusted = funnel_table(_ratio_units(expected, [10, 20, 30, 40, 50]), "oe_ratio", min_cases=1, overdispersion=True)
    plain = funnel_table(_ratio_units(expected, [10, 20, 30, 40, 50]), "oe_ratio", min_cases=1)
    assert adjusted["tau2"].to_list() == [0.0] * 5
    assert adjusted["phi"].to_list() == pytest.approx([0.0] * 5, abs=1e-12)
    assert adjusted["upper_95"].to_list() == pytest.approx(plain["upper_95"].to_list(), rel=1e-12)


def test_phi_and_tau2_are_null_when_not_adjusted() -> None:
    table = funnel_table(_units([("a", 50, 5), ("b", 100, 30)]), "proportion", min_cases=1)
    assert table["phi"].null_count() == 2
    assert table["tau2"].null_count() == 2


LIMITS = {"lower_998": 0.2, "lower_95": 0.4, "upper_95": 0.6, "upper_998": 0.8}


@pytest.mark.parametrize(
    ("value", "flag"),
    [
        (0.8, "high_alert"),  # on the outer limit: not beyond it
        (0.8000001, "high_alarm"),
        (0.6, "as_expected"),  # on the inner limit: not an outlier
        (0.6000001, "high_alert"),
        (0.5, "as_expected"),
        (0.4, "as_expected"),
        (0.3999999, "low_alert"),
        (0.2, "low_alert"),
        (0.1999999, "low_alarm"),
    ],
)
def test_a_unit_is_flagged_only_strictly_outside_a_limit(value: float, flag: str) -> None:
    frame = pl.DataFrame({"value": [value], **{k: [v] for k, v in LIMITS.items()}})
    result = frame.select(funnel_flag(pl.col("value"), *(pl.col(c) for c in LIMITS), eligible=pl.lit(True))).item()
    assert result == flag


def test_units_below_min_cases_are_listed_but_never_flagged() -> None:
    # Both units sit far above the limits; only the one with min_cases cases is flagged.
    units = _units([("few", 19, 19), ("enough", 20, 20), ("big", 10_000, 100)])
    table = funnel_table(units, "proportion", min_cases=20)
    flags = dict(zip(table["unit_id"], table["flag"], strict=True))
    assert (flags["few"], flags["enough"]) == ("too_few_cases", "high_alarm")


def test_a_unit_without_expected_events_is_listed_without_limits() -> None:
    table = funnel_table(_ratio_units([0.0, 10.0], [1, 10]), "oe_ratio", min_cases=1, overdispersion=True)
    row = table.row(0, named=True)
    assert row["flag"] == "too_few_cases"
    assert row["value"] is None
    assert [row[c] for c in ("lower_998", "lower_95", "upper_95", "upper_998")] == [None] * 4


def test_each_outcome_has_its_own_target() -> None:
    units = pl.concat([_units([("a", 100, 10), ("b", 100, 30)], "death"), _units([("a", 100, 50)], "ssi")])
    table = funnel_table(units, "proportion", min_cases=1)
    assert table.select("outcome", "unit_id").rows() == [("death", "a"), ("death", "b"), ("ssi", "a")]
    assert table["target"].to_list() == pytest.approx([0.2, 0.2, 0.5])


def test_empty_input_gives_an_empty_table_with_the_columns() -> None:
    table = funnel_table(_ratio_units([], []), "oe_ratio", min_cases=1, overdispersion=True)
    assert table.height == 0
    assert table.columns == list(FUNNEL_COLUMNS)


def test_oe_ratio_without_expected_column_fails_with_the_missing_name() -> None:
    with pytest.raises(ValueError, match="expected"):
        funnel_table(_units([("a", 10, 1)]), "oe_ratio", min_cases=1)


def test_zero_events_at_a_small_expected_count_is_within_the_exact_limits() -> None:
    """O = 0 at E = 1 happens 37% of the time: the exact lower line is at 0 there, so the point is on it, not
    below it. At E = 10, P(X = 0) = 4.5e-5 < 0.001: the line is above 0 and the unit below it is an alarm."""
    units = pl.DataFrame(
        {
            "unit_id": ["small", "large"],
            "outcome": ["m", "m"],
            "cases": [50, 500],
            "observed": [0, 0],
            "expected": [1.0, 10.0],
        }
    )
    table = funnel_table(units, "oe_ratio", min_cases=10)
    rows = {row["unit_id"]: row for row in table.iter_rows(named=True)}
    assert rows["small"]["lower_998"] == rows["small"]["lower_95"] == 0.0
    assert rows["small"]["flag"] == "as_expected"
    assert rows["large"]["lower_998"] > 0
    assert rows["large"]["flag"] == "low_alarm"


def test_no_event_in_a_small_unit_is_within_the_exact_binomial_limits() -> None:
    # Target 0.1: 12 units of 100 cases with 10 events, one of 12 cases with none (P = 0.9^12 = 0.28).
    units = pl.DataFrame(
        {
            "unit_id": [f"u{i:02d}" for i in range(12)] + ["tiny"],
            "outcome": ["c"] * 13,
            "cases": [100] * 12 + [12],
            "observed": [10] * 12 + [0],
        }
    )
    table = funnel_table(units, "proportion", min_cases=10)
    tiny = table.filter(pl.col("unit_id") == "tiny")
    assert tiny["flag"].item() == "as_expected"
    assert tiny["lower_95"].item() == 0.0  # on the line drawn at zero, not below it
