"""Learning curves and risk-adjusted CUSUM/VLAD tables of the surgeon and site views."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ector.settings import AnalysisSettings, CusumSettings
from ector.workflows import load, monitoring, site_view, surgeon_view
from ector.workflows.plan import Frame
from tests.workflows.marts import make_mart, tiny_mart

START = datetime(2024, 1, 1, 8)


def test_learning_curve_of_a_planted_decreasing_series_decreases() -> None:
    # 40 colectomies, 200 minutes falling by 3 a case, with one case missing its minutes.
    rows = [
        {"surgery_start": START + timedelta(days=i), "operative_minutes": None if i == 5 else 200.0 - 3 * i}
        for i in range(40)
    ]
    curve = surgeon_view(tiny_mart(rows).lazy(), AnalysisSettings())["learning_curve"].lazy().collect()
    assert curve.height == 39
    assert curve["cases_used"].unique().to_list() == [39]
    # The case without minutes still counts as experience: sequence 6 is missing, 40 is the last.
    assert 6 not in curve["case_sequence"].to_list()
    assert curve["case_sequence"].max() == 40
    medians = curve["moving_median"].drop_nulls().to_numpy()
    assert medians.size == 30
    assert (np.diff(medians) < 0).all()
    minutes = curve["operative_minutes"].to_numpy()
    assert curve["cusum"].to_numpy() == pytest.approx(np.cumsum(minutes - minutes.mean()))


def test_planted_robotic_learning_curves_decrease_for_every_surgeon() -> None:
    mart = make_mart(6, 400, seed=2, learning=True)
    curve = surgeon_view(mart.lazy(), AnalysisSettings())["learning_curve"].lazy().collect()
    robotic = curve.filter(approach="robotic")
    slopes = robotic.group_by("unit_id", "procedure_family").agg(
        early=pl.col("operative_minutes").filter(pl.col("case_sequence") <= 20).median(),
        late=pl.col("operative_minutes").filter(pl.col("case_sequence") > 60).median(),
    )
    assert (slopes["late"] < slopes["early"]).all()


def _steiner_reference(
    risk: list[float], outcome: list[int], ra: float, h: float
) -> tuple[list[float], list[bool], list[float]]:
    # methods.md: W_t = ln[(1 - p + R0·p)·R_A^y / ((1 - p + R_A·p)·R0^y)], X_t = max(0, X_{t-1} + W_t), R0 = 1;
    # a signal when X_t > h, after which the chart starts again from 0. Written as the recursion, case by case.
    x, path, signals, vlad, total = 0.0, [], [], [], 0.0
    for p, y in zip(risk, outcome, strict=True):
        x = max(0.0, x + math.log((1 - p + p) * ra**y / (1 - p + ra * p)))
        total += p - y
        path.append(x)
        signals.append(x > h)
        vlad.append(total)
        if x > h:
            x = 0.0
    return path, signals, vlad


def test_cusum_and_vlad_follow_the_recursion_in_surgery_order_with_restarts() -> None:
    risks = [0.1, 0.3, 0.05, 0.2, 0.5, 0.1, 0.02, 0.4, 0.4, 0.3, 0.3, 0.3]
    deaths = [False, True, True, False, True, False, False, True, True, False, False, False]
    rows = [
        {
            # Two cases share a start: case_id breaks the tie. Rows arrive reversed.
            "surgery_start": START + timedelta(days=min(i, 5)),
            "mortality_30d": d,
            "expected_mortality_30d": p,
        }
        for i, (p, d) in enumerate(zip(risks, deaths, strict=True))
    ]
    mart = tiny_mart(rows).reverse()
    # h = 0.45: the upper chart crosses at the 3rd and the 8th case, the lower one at the end of the quiet run.
    analysis = AnalysisSettings(cusum=CusumSettings(h=0.45))
    cusum = surgeon_view(mart.lazy(), analysis)["cusum"].lazy().collect().filter(outcome="mortality_30d")
    assert cusum["seq"].to_list() == list(range(1, 13))
    assert cusum["risk"].to_list() == risks
    upper, upper_signals, vlad = _steiner_reference(risks, [int(d) for d in deaths], 2.0, 0.45)
    lower, lower_signals, _ = _steiner_reference(risks, [int(d) for d in deaths], 0.5, 0.45)
    assert [i + 1 for i, s in enumerate(upper_signals) if s] == [3, 8]  # restarts are exercised
    assert [i + 1 for i, s in enumerate(lower_signals) if s] == [12]
    assert cusum["cusum_upper"].to_list() == pytest.approx(upper)
    assert cusum["signal_upper"].to_list() == upper_signals
    assert cusum["cusum_lower"].to_list() == pytest.approx([-x for x in lower])  # drawn below 0
    assert cusum["signal_lower"].to_list() == lower_signals
    assert cusum["vlad"].to_list() == pytest.approx(vlad)
    assert cusum["h_upper"].unique().to_list() == [0.45] and cusum["h_lower"].unique().to_list() == [0.45]
    assert cusum.columns == [
        "unit_id",
        "outcome",
        "seq",
        "surgery_date",
        "risk",
        "observed",
        "cusum_weight",
        "cusum_upper",
        "cusum_lower",
        "h_upper",
        "h_lower",
        "signal_upper",
        "signal_lower",
        "vlad",
    ]


def test_cusum_leaves_out_cases_without_outcome_or_risk() -> None:
    rows = [
        {"surgery_start": START + timedelta(days=i), "mortality_30d": d, "expected_mortality_30d": p}
        for i, (p, d) in enumerate([(0.1, False), (None, True), (0.2, None), (0.3, True)])
    ]
    cusum = surgeon_view(tiny_mart(rows).lazy(), AnalysisSettings())["cusum"].lazy().collect()
    assert cusum["seq"].to_list() == [1, 2]
    assert cusum["risk"].to_list() == [0.1, 0.3]


def test_site_cusum_runs_per_site_for_both_monitored_outcomes() -> None:
    cusum = site_view(make_mart(8, 50, seed=3).lazy(), AnalysisSettings())["cusum"].lazy().collect()
    counts = cusum.group_by("unit_id", "outcome").len().sort("unit_id", "outcome")
    assert counts["len"].to_list() == [100] * 8
    assert set(counts["outcome"]) == {"mortality_30d", "complication_major"}
    assert (cusum["cusum_upper"] >= 0).all() and (cusum["cusum_lower"] <= 0).all()


@pytest.mark.parametrize("view", [surgeon_view, site_view])
def test_series_of_a_mart_out_of_time_order_are_those_of_the_sorted_mart(view: Callable[..., dict[str, Frame]]) -> None:
    # The series run in the mart's own order (surgery_start, case_id); a mart piped in another order is sorted
    # first, so its tables are the same.
    mart = make_mart(12, 120, seed=5).sort("surgery_start", "case_id")
    shuffled = mart.sample(fraction=1.0, shuffle=True, seed=11)
    assert not shuffled["surgery_start"].is_sorted()
    ordered, scrambled = view(mart.lazy(), AnalysisSettings()), view(shuffled.lazy(), AnalysisSettings())
    assert ordered["cusum"].lazy().collect().height > 1000
    for table in ("cusum", "learning_curve") if view is surgeon_view else ("cusum",):
        assert_frame_equal(scrambled[table].lazy().collect(), ordered[table].lazy().collect())


@pytest.mark.parametrize("view", [surgeon_view, site_view])
def test_series_computed_a_slice_of_units_at_a_time_are_the_same_tables(
    view: Callable[..., dict[str, Frame]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slices of 150 cases cut the units' series (120 cases a surgeon) into many slices of whole series, and the
    # mart is read 100 rows at a time: the tables are those of one slice and one read.
    mart = make_mart(12, 120, seed=5).lazy()
    whole = view(mart, AnalysisSettings())
    monkeypatch.setattr(monitoring, "SLICE_ROWS", 150)
    monkeypatch.setattr(load, "READ_ROWS", 100)
    slices: list[int] = []
    real = monitoring.in_slices
    monkeypatch.setattr(monitoring, "in_slices", lambda cases: slices.append(len(parts := real(cases))) or parts)
    sliced = view(mart, AnalysisSettings())
    assert min(slices) > 1  # every series computation went through several slices
    assert whole["cusum"].lazy().collect().height > 1000
    for table in ("cusum", "learning_curve", "summary", "outcomes") if view is surgeon_view else ("cusum", "summary"):
        assert_frame_equal(sliced[table].lazy().collect(), whole[table].lazy().collect())
