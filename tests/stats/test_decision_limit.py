"""The CUSUM decision limit h: the Markov-chain signal probability against seeded simulation of the chart."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from ector.stats.decision_limit import (
    _grid_signal_probability,
    as_mix,
    decision_limit,
    markov_signal_probability,
    risk_mix_plan,
    simulated_signal_probability,
)


@pytest.fixture(scope="module")
def surgical_mix():  # type: ignore[no-untyped-def]
    # Skewed like surgical risks: logit-normal around 2%, a long tail of high-risk cases.
    rng = np.random.default_rng(20)
    risks = 1 / (1 + np.exp(-rng.normal(-4.0, 1.0, 100_000)))
    return as_mix(risk_mix_plan(pl.LazyFrame({"risk": risks}), "risk").collect())


def test_the_risk_mix_keeps_the_mean_risk_and_the_case_count() -> None:
    risks = pl.LazyFrame({"risk": [0.01, 0.0101, 0.2, 0.2, None, 0.5]})
    groups = risk_mix_plan(risks, "risk").collect()
    assert groups["cases"].sum() == 5  # the null risk is left out
    assert groups.height == 3  # 0.01 and 0.0101 are within 2% of each other: one group
    mix = as_mix(groups)
    assert float((mix.risk * mix.share).sum()) == pytest.approx((0.01 + 0.0101 + 0.2 + 0.2 + 0.5) / 5)
    assert mix.share.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("odds_ratio", [2.0, 0.5])
def test_h_gives_the_asked_false_signal_probability_in_simulation(surgical_mix, odds_ratio: float) -> None:  # type: ignore[no-untyped-def]
    h = decision_limit(surgical_mix, odds_ratio, 0.01, 1000)
    assert markov_signal_probability(h, surgical_mix, odds_ratio, 1000) == pytest.approx(0.01, rel=1e-3)
    runs = 40_000
    simulated = simulated_signal_probability(h, surgical_mix, odds_ratio, 1000, runs=runs, seed=7)
    error = math.sqrt(0.01 * 0.99 / runs)  # Monte Carlo standard error: 0.0005
    assert abs(simulated - 0.01) < 4 * error


@pytest.mark.parametrize(("h", "odds_ratio"), [(2.0, 2.0), (4.0, 2.0), (3.0, 0.5)])
def test_markov_and_simulation_agree_away_from_the_chosen_limit(surgical_mix, h: float, odds_ratio: float) -> None:  # type: ignore[no-untyped-def]
    markov = markov_signal_probability(h, surgical_mix, odds_ratio, 300)
    runs = 20_000
    simulated = simulated_signal_probability(h, surgical_mix, odds_ratio, 300, runs=runs, seed=11)
    error = math.sqrt(markov * (1 - markov) / runs)
    assert 0.005 < markov < 0.9  # a probability the comparison can tell apart
    assert abs(simulated - markov) < 4 * error


def test_the_extrapolated_chain_is_within_2_percent_of_a_fine_grid(surgical_mix) -> None:  # type: ignore[no-untyped-def]
    for odds_ratio, h in ((2.0, 6.0), (0.5, 5.0)):
        fine = _grid_signal_probability(h, surgical_mix, odds_ratio, 1000, 3000)
        assert markov_signal_probability(h, surgical_mix, odds_ratio, 1000) == pytest.approx(fine, rel=0.02)


def test_h_rises_with_the_horizon_and_falls_with_the_probability_allowed(surgical_mix) -> None:  # type: ignore[no-untyped-def]
    base = decision_limit(surgical_mix, 2.0, 0.01, 1000)
    assert decision_limit(surgical_mix, 2.0, 0.01, 3000) > base
    assert decision_limit(surgical_mix, 2.0, 0.05, 1000) < base


def test_a_constant_risk_chart_matches_the_exact_two_step_walk() -> None:
    # Risk 0.5 and R_A = 2: steps ln(4/3) up (event) and -ln(1.5) down, each with probability 1/2. Over 2 cases
    # with h = 0.5 the chart signals only on two events: X = 0.288, then 0.575 > 0.5: probability 1/4.
    mix = as_mix(pl.DataFrame({"risk": [0.5], "cases": [1]}))
    assert markov_signal_probability(0.5, mix, 2.0, 2) == pytest.approx(0.25, abs=2e-3)
    assert markov_signal_probability(0.6, mix, 2.0, 2) == pytest.approx(0.0, abs=2e-3)


def test_a_probability_outside_0_1_is_refused(surgical_mix) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        decision_limit(surgical_mix, 2.0, 1.5, 1000)
