"""Reading the case mart: absent optional columns, derived periods, and agreement with transform's schema."""

from __future__ import annotations

from datetime import datetime

import pytest

from ector.materialise import InMemory
from ector.settings import AnalysisSettings, Period
from ector.transform import MART_SCHEMA
from ector.workflows.load import load_view
from ector.workflows.mart import OPTIONAL, REQUIRED, conform_mart
from tests.workflows.marts import tiny_mart


def test_absent_optional_columns_become_typed_nulls_and_are_not_available() -> None:
    mart = tiny_mart([{"surgery_start": datetime(2024, 12, 31, 23)}]).select(REQUIRED)
    conformed = conform_mart(mart.lazy(), "quarter")
    schema = conformed.collect_schema()
    assert all(schema[name] == dtype for name, dtype in OPTIONAL.items())
    _, availability = load_view(mart.lazy(), REQUIRED, AnalysisSettings(), InMemory())
    assert availability.cases == 1
    assert availability.outcomes() == []
    assert "procedure_family" not in availability.missing()
    assert {"asa_class", "age_band", "urgency", "mortality_30d"} <= set(availability.missing())


@pytest.mark.parametrize(("period", "expected"), [("month", "2024-12"), ("quarter", "2024-Q4"), ("year", "2024")])
def test_period_is_derived_from_surgery_start_when_the_mart_lacks_period_columns(period: Period, expected: str) -> None:
    # Late in the year on purpose: month arithmetic on Int8 overflows there (stack notes).
    mart = tiny_mart([{"surgery_start": datetime(2024, 12, 31, 23)}]).select(REQUIRED)
    derived = conform_mart(mart.lazy(), period).collect()
    given = conform_mart(tiny_mart([{"surgery_start": datetime(2024, 12, 31, 23)}]).lazy(), period).collect()
    assert derived["period"].to_list() == given["period"].to_list() == [expected]


def test_workflow_dtypes_agree_with_the_case_mart_schema_of_transform() -> None:
    schema = MART_SCHEMA
    assert {name: schema.get(name) for name in OPTIONAL} == OPTIONAL
    assert set(REQUIRED) <= set(schema.names())
