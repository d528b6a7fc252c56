"""Derived columns on hand-made edge cases: durations, ages (leap years, late December), bands, periods, sequence."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.transform.frames import START, by_case, gold, mart

from ector.transform import derive


def _ages(pairs: list[tuple[date, date]]) -> list[int | None]:
    frame = pl.DataFrame({"birth_date": [b for b, _ in pairs], "surgery_date": [s for _, s in pairs]})
    return frame.select(derive.age_at())["age_at_surgery"].to_list()


@pytest.mark.parametrize(
    ("birth", "at", "age"),
    [
        (date(1960, 6, 15), date(2024, 6, 14), 63),  # the day before the birthday
        (date(1960, 6, 15), date(2024, 6, 15), 64),  # on the birthday
        (date(1980, 12, 31), date(2023, 12, 30), 42),  # late December: Int8 month * 100 would overflow
        (date(1980, 12, 31), date(2023, 12, 31), 43),
        (date(1980, 1, 1), date(2023, 12, 31), 43),
        (date(1952, 2, 29), date(2023, 2, 28), 70),  # leap-day birthday in a common year: not yet
        (date(1952, 2, 29), date(2023, 3, 1), 71),
        (date(1952, 2, 29), date(2024, 2, 29), 72),
        (date(1952, 3, 1), date(2024, 2, 29), 71),
    ],
)
def test_age_at_surgery_counts_completed_years(birth: date, at: date, age: int) -> None:
    assert _ages([(birth, at)]) == [age]


@given(
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
    gap=st.integers(min_value=0, max_value=120 * 366),
)
def test_age_at_surgery_matches_calendar_arithmetic(birth: date, gap: int) -> None:
    at = birth + timedelta(days=gap)
    expected = at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))
    assert _ages([(birth, at)]) == [expected]


def test_age_band_boundaries_follow_contract_bands() -> None:
    ages = pl.DataFrame(
        {"age_at_surgery": [0, 39, 40, 59, 60, 69, 70, 79, 80, 104, None]}, schema={"age_at_surgery": pl.Int16}
    )
    bands = ages.select(derive.age_band())["age_band"].to_list()
    assert bands == ["<40", "<40", "40-59", "40-59", "60-69", "60-69", "70-79", "70-79", "80+", "80+", None]


def test_age_band_refuses_unknown_label_shape() -> None:
    with pytest.raises(ValueError, match="age band"):
        derive.age_band_bounds(["young"])


def test_period_keys_late_in_year_and_at_midnight() -> None:
    starts = [
        datetime(2024, 12, 31, 23, 59),
        datetime(2025, 1, 1, 0, 0),
        datetime(2023, 10, 1, 7),
        datetime(2024, 9, 30, 12),
    ]
    frame = (
        pl.DataFrame({"surgery_start": starts}).with_columns(derive.surgery_date()).with_columns(derive.period_keys())
    )
    assert frame["surgery_date"].to_list() == [
        date(2024, 12, 31),
        date(2025, 1, 1),
        date(2023, 10, 1),
        date(2024, 9, 30),
    ]
    assert frame["period_month"].to_list() == ["2024-12", "2025-01", "2023-10", "2024-09"]
    assert frame["period_quarter"].to_list() == ["2024-Q4", "2025-Q1", "2023-Q4", "2024-Q3"]
    assert frame["period_year"].to_list() == [2024, 2025, 2023, 2024]
    assert frame.schema["period_year"] == pl.Int32


def test_los_and_operative_minutes_with_missing_discharge_and_missing_end() -> None:
    result = mart(
        gold(
            [
                {"case_id": "A", "admission_date": date(2024, 2, 28), "discharge_date": date(2024, 3, 3)},
                {"case_id": "B", "discharge_date": None},
                {"case_id": "C", "surgery_end": None},
                {"case_id": "D", "surgery_end": START + timedelta(hours=16, minutes=30, seconds=30)},  # past midnight
                {"case_id": "E", "discharge_date": START.date()},  # day case
            ]
        )
    )
    assert by_case(result, "los_days") == {"A": 4, "B": None, "C": 2, "D": 2, "E": 0}  # 2024 is a leap year
    assert by_case(result, "operative_minutes") == {"A": 60.0, "B": 60.0, "C": None, "D": 990.5, "E": 60.0}


def test_surgeon_case_seq_orders_by_start_then_case_id_within_surgeon_and_family() -> None:
    t0 = START
    result = mart(
        gold(
            [
                {"case_id": "C9", "surgery_start": t0 + timedelta(days=3)},
                {"case_id": "C5", "surgery_start": t0},  # same start as C2: case_id breaks the tie
                {"case_id": "C2", "surgery_start": t0},
                {"case_id": "C7", "surgery_start": t0 + timedelta(days=1), "procedure_family": "colectomy"},
                {"case_id": "C1", "surgery_start": t0 + timedelta(days=2), "surgeon_id": "S2"},
                {"case_id": "C3", "surgery_start": t0 - timedelta(days=400)},
            ]
        )
    )
    assert by_case(result, "surgeon_case_seq") == {"C3": 1, "C2": 2, "C5": 3, "C9": 4, "C7": 1, "C1": 1}


def test_conversion_only_for_laparoscopic_and_robotic() -> None:
    result = mart(
        gold(
            [
                {"case_id": "L1", "approach": "laparoscopic", "converted_to_open": True},
                {"case_id": "L2", "approach": "laparoscopic", "converted_to_open": None},
                {"case_id": "R1", "approach": "robotic", "converted_to_open": False},
                {"case_id": "O1", "approach": "open", "converted_to_open": True},
                {"case_id": "N1", "approach": None, "converted_to_open": True},
            ]
        )
    )
    assert by_case(result, "conversion") == {"L1": True, "L2": None, "R1": False, "O1": None, "N1": None}
