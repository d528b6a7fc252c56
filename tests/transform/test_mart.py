"""The case mart as a whole: schema from the dictionary, one row per case, sorted, tiny Gold values, zero rows."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from tests.gold import tiny_gold
from tests.transform.frames import by_case, mart
from tests.transform.synthetic import synthetic_gold

from ector.contract import TABLES
from ector.errors import MissingInputError
from ector.materialise import InMemory
from ector.settings import AnalysisSettings
from ector.transform import MART_SCHEMA, case_mart, unavailable_outcomes
from ector.transform.filters import select_cases


def test_mart_schema_is_the_data_dictionary() -> None:
    assert mart(tiny_gold()).schema == MART_SCHEMA


@pytest.mark.parametrize("engine", ["streaming", "in-memory"])
def test_mart_has_one_row_per_case_sorted_by_start_then_case_id(engine: str) -> None:
    tables = synthetic_gold(3000, seed=11)
    lazy = {k: v.lazy() for k, v in tables.items()}
    result = case_mart(lazy, AnalysisSettings(), InMemory(engine)).plan.collect(engine=engine)  # type: ignore[arg-type]
    assert result.height == tables["cases"].height
    assert result["case_id"].n_unique() == result.height
    expected = result.sort("surgery_start", "case_id")
    assert result["case_id"].to_list() == expected["case_id"].to_list()
    # The planted same-minute second cases make ties on surgery_start that case_id has to order.
    assert result["surgery_start"].is_duplicated().any()


def test_tiny_gold_values() -> None:
    result = mart(tiny_gold())
    assert result["case_id"].to_list() == ["C1", "C2", "C4", "C3"]
    assert by_case(result, "age_at_surgery") == {"C1": 73, "C2": 43, "C3": 88, "C4": 73}
    assert by_case(result, "age_band") == {"C1": "70-79", "C2": "40-59", "C3": "80+", "C4": "70-79"}
    assert by_case(result, "los_days") == {"C1": 1, "C2": 2, "C3": 19, "C4": None}
    assert by_case(result, "operative_minutes") == {"C1": 75.0, "C2": 150.0, "C3": None, "C4": 60.0}
    # C3: a grade II on day 1 and a grade V without onset date.
    assert by_case(result, "worst_clavien_dindo") == {"C1": None, "C2": None, "C3": "V", "C4": None}
    assert by_case(result, "complication_count") == {"C1": 0, "C2": 0, "C3": 2, "C4": 0}
    # E1 (P2, unplanned, 17 days after C2's discharge); E2 (P1) is planned; C4 is still in hospital.
    assert by_case(result, "readmission_30d") == {"C1": False, "C2": True, "C3": False, "C4": None}
    # P1's C4 starts 23 days after C1.
    assert by_case(result, "reoperation_30d") == {"C1": True, "C2": False, "C3": False, "C4": False}
    assert by_case(result, "mortality_30d") == {"C1": False, "C2": False, "C3": True, "C4": False}
    assert by_case(result, "conversion") == {"C1": False, "C2": True, "C3": None, "C4": None}
    assert by_case(result, "surgeon_case_seq") == {"C1": 1, "C2": 1, "C3": 1, "C4": 2}
    assert by_case(result, "period_quarter") == {"C1": "2024-Q1", "C2": "2024-Q1", "C3": "2024-Q1", "C4": "2024-Q1"}
    assert by_case(result, "specialty") == {"C1": "general", "C2": "urology", "C3": "general", "C4": "general"}
    assert by_case(result, "site_name") == {"C1": "North", "C2": "South", "C3": "North", "C4": "East"}
    assert by_case(result, "expected_mortality_30d")["C3"] == 0.25  # the given predicted risk


def test_zero_cases_give_an_empty_mart_with_the_full_schema() -> None:
    empty = {name: pl.DataFrame(schema=TABLES[name].schema) for name in TABLES}
    result = mart(empty)
    assert result.height == 0
    assert result.schema == MART_SCHEMA


def test_only_cases_still_builds_and_reports_unavailable_outcomes() -> None:
    tables = {"cases": tiny_gold()["cases"].lazy()}
    result = case_mart(tables, AnalysisSettings()).plan.collect()
    assert result.schema == MART_SCHEMA
    assert result["reoperation_30d"].null_count() == 0
    assert unavailable_outcomes(tables) == [
        "complication_count",
        "worst_clavien_dindo",
        "complication_any",
        "complication_major",
        "readmission_30d",
        "mortality_30d",
        "expected_mortality_30d",
        "expected_complication_major",
    ]
    for column in unavailable_outcomes(tables):
        assert result[column].null_count() == result.height, column


def test_mart_without_cases_names_consolidate() -> None:
    with pytest.raises(MissingInputError, match="cases") as raised:
        case_mart({"patients": tiny_gold()["patients"].lazy()}, AnalysisSettings())
    assert "ector consolidate" in str(raised.value)


def test_selection_after_the_mart_keeps_whole_mart_outcomes_and_rates() -> None:
    tables = synthetic_gold(2000, seed=5)
    whole = case_mart({k: v.lazy() for k, v in tables.items()}, AnalysisSettings()).plan
    since, until = date(2022, 1, 1), date(2022, 12, 31)
    selected = select_cases(whole, since=since, until=until, where="approach = 'robotic'").collect()
    expected = whole.collect().filter(pl.col("surgery_date").is_between(since, until), pl.col("approach") == "robotic")
    assert selected.height > 0
    assert selected.equals(expected)
