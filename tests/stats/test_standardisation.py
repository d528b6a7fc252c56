"""Expected counts by indirect standardisation and from predicted risks; the risk-adjusted rate."""

from __future__ import annotations

import polars as pl
import pytest

from ector.stats.standardisation import expected_by_strata, expected_from_risk, risk_adjusted_rate


def _cases() -> pl.DataFrame:
    # Stratum (asa 3, emergency): 4 cases, 2 deaths -> rate 0.5. Stratum (asa 1, elective): 4 cases, 0 deaths.
    # Stratum (null asa, elective): 2 cases, 1 death -> 0.5. One case with an unknown outcome.
    return pl.DataFrame(
        {
            "surgeon_id": ["a", "a", "a", "b", "b", "b", "b", "b", "a", "b", "a"],
            "asa": [3, 3, 1, 3, 3, 1, 1, 1, None, None, 3],
            "urgency": ["emergency"] * 2 + ["elective"] + ["emergency"] * 2 + ["elective"] * 6,
            "died": [True, False, False, True, False, False, False, False, True, False, None],
            "risk": [0.4, 0.3, 0.02, 0.5, 0.2, 0.01, 0.01, None, 0.3, 0.1, 0.2],
        }
    )


def test_expected_by_strata_sums_cases_times_stratum_rates() -> None:
    result = expected_by_strata(_cases(), unit="surgeon_id", outcome="died", strata=["asa", "urgency"]).collect()
    assert result.columns == ["unit_id", "outcome", "cases", "observed", "expected"]
    # a: 2 x 0.5 + 1 x 0 + 1 x 0.5 = 1.5; b: 2 x 0.5 + 3 x 0 + 1 x 0.5 = 1.5
    assert result.rows() == [("a", "died", 4, 2, pytest.approx(1.5)), ("b", "died", 6, 1, pytest.approx(1.5))]


def test_indirect_standardisation_expects_as_many_events_as_observed_overall() -> None:
    result = expected_by_strata(_cases().lazy(), unit="surgeon_id", outcome="died", strata=["asa"]).collect()
    assert result["expected"].sum() == pytest.approx(result["observed"].sum())


def test_without_strata_expected_is_cases_times_the_overall_rate() -> None:
    result = expected_by_strata(_cases(), unit="surgeon_id", outcome="died", strata=[]).collect()
    assert result["expected"].to_list() == pytest.approx([4 * 0.3, 6 * 0.3])


def test_expected_from_risk_sums_the_predicted_risks_of_cases_with_both_values() -> None:
    result = expected_from_risk(_cases(), unit="surgeon_id", outcome="died", risk="risk").collect()
    # a: the last case has no outcome; b: one case has no risk.
    assert result.rows() == [
        ("a", "died", 4, 2, pytest.approx(0.4 + 0.3 + 0.02 + 0.3)),
        ("b", "died", 5, 1, pytest.approx(0.5 + 0.2 + 0.01 + 0.01 + 0.1)),
    ]


def test_risk_adjusted_rate_is_o_over_e_times_the_crude_rate() -> None:
    frame = pl.DataFrame({"observed": [3, 2], "expected": [1.5, 0.0]})
    result = frame.select(risk_adjusted_rate(pl.col("observed"), pl.col("expected"), 0.04)).to_series()
    assert result.to_list() == [pytest.approx(0.08), None]
