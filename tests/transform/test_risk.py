"""Expected risk: the given predicted risk, else the stratum rate over analysis.risk_strata on the mart itself."""

from __future__ import annotations

import polars as pl
import pytest
from tests.transform.frames import by_case, day, gold, mart

from ector.errors import ConfigError
from ector.transform.risk import check_strata, with_expected


def _frame() -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "case_id": ["a", "b", "c", "d", "e", "f"],
            "family": ["x", "x", "x", "y", None, None],
            "died": [True, False, None, True, False, True],
            "predicted": [None, 0.5, None, None, None, 0.01],
        }
    )


def test_stratum_rate_leaves_out_null_outcomes_and_treats_null_stratum_as_a_level() -> None:
    result = with_expected(_frame(), "died", ["family"], name="expected").collect()
    assert by_case(result, "expected") == {"a": 0.5, "b": 0.5, "c": 0.5, "d": 1.0, "e": 0.5, "f": 0.5}


def test_given_predicted_risk_wins_over_stratum_rate() -> None:
    result = with_expected(_frame(), "died", ["family"], name="expected", given="predicted").collect()
    assert by_case(result, "expected") == {"a": 0.5, "b": 0.5, "c": 0.5, "d": 1.0, "e": 0.5, "f": 0.01}


def test_no_strata_gives_the_overall_rate() -> None:
    result = with_expected(_frame(), "died", [], name="expected").collect()
    assert set(result["expected"]) == {0.6}


def test_unknown_or_repeated_stratum_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'bmi'"):
        check_strata(["procedure_family", "bmi"], ["procedure_family"])
    with pytest.raises(ConfigError, match="twice"):
        check_strata(["asa_class", "asa_class"], ["asa_class"])


def test_mart_expected_rates_by_configured_strata() -> None:
    tables = gold(
        [
            {"case_id": "A", "asa_class": 3, "discharge_destination": "died"},
            {"case_id": "B", "asa_class": 3},
            {"case_id": "C", "asa_class": 3, "predicted_mortality": 0.2},
            {"case_id": "D", "asa_class": None},
            {"case_id": "E", "asa_class": None, "discharge_destination": "died"},
        ],
        complications=[{"case_id": "B", "clavien_dindo": "IVa", "onset_date": day(1)}],
    )
    result = mart(tables, risk_strata=["asa_class"])
    assert by_case(result, "expected_mortality_30d") == {"A": 1 / 3, "B": 1 / 3, "C": 0.2, "D": 0.5, "E": 0.5}
    assert by_case(result, "expected_complication_major") == {"A": 1 / 3, "B": 1 / 3, "C": 1 / 3, "D": 0.0, "E": 0.0}
