"""Windowed outcomes on hand-made edge cases (gold-contract.md: inclusive whole-day windows and their anchors)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.transform.frames import START, SURGERY_DAY, by_case, day, gold, mart

DISCHARGE = day(2)  # the default case is discharged two days after surgery


# Complications: anchored on the surgery date; no onset date counts as within the window.


@pytest.mark.parametrize(
    ("onset", "counted"),
    [(day(0), True), (day(30), True), (day(31), False), (day(-1), False), (None, True)],
    ids=["day-0", "day-30", "day-31", "before-surgery", "no-onset-date"],
)
def test_complication_counts_within_inclusive_window(onset: object, counted: bool) -> None:
    tables = gold(
        [{"case_id": "C000"}], complications=[{"case_id": "C000", "onset_date": onset, "clavien_dindo": "II"}]
    )
    row = mart(tables).row(0, named=True)
    assert row["complication_any"] is counted
    assert row["complication_count"] == int(counted)
    assert row["worst_clavien_dindo"] == ("II" if counted else None)
    assert row["complication_major"] is False


def test_worst_grade_of_several_complications_decides_major() -> None:
    tables = gold(
        [{"case_id": "A"}, {"case_id": "B"}, {"case_id": "C"}],
        complications=[
            {"case_id": "A", "clavien_dindo": "II", "onset_date": day(1)},
            {"case_id": "A", "clavien_dindo": "IIIb", "onset_date": day(5)},
            {"case_id": "A", "clavien_dindo": "I", "onset_date": None},
            {"case_id": "A", "clavien_dindo": "V", "onset_date": day(40)},  # worse, but outside the window
            {"case_id": "B", "clavien_dindo": "I", "onset_date": day(3)},
            {"case_id": "B", "clavien_dindo": "II", "onset_date": day(3)},
        ],
    )
    result = mart(tables)
    assert by_case(result, "complication_count") == {"A": 3, "B": 2, "C": 0}
    assert by_case(result, "worst_clavien_dindo") == {"A": "IIIb", "B": "II", "C": None}
    assert by_case(result, "complication_major") == {"A": True, "B": False, "C": False}
    assert by_case(result, "complication_any") == {"A": True, "B": True, "C": False}


def test_major_starts_at_grade_iiia() -> None:
    grades = ["I", "II", "IIIa", "IIIb", "IVa", "IVb", "V"]
    cases = [{"case_id": g} for g in grades]
    tables = gold(cases, complications=[{"case_id": g, "clavien_dindo": g, "onset_date": day(2)} for g in grades])
    assert by_case(mart(tables), "complication_major") == {g: g not in ("I", "II") for g in grades}


def test_outcome_window_setting_moves_the_boundary() -> None:
    tables = gold(
        [{"case_id": "A"}, {"case_id": "B"}],
        complications=[{"case_id": "A", "onset_date": day(7)}, {"case_id": "B", "onset_date": day(8)}],
    )
    assert by_case(mart(tables, outcome_window_days=7), "complication_any") == {"A": True, "B": False}


# Readmission: anchored on the case's discharge date; only explicitly planned admissions are excluded.


@pytest.mark.parametrize(
    ("admitted", "planned", "readmitted"),
    [
        (0, False, True),  # admitted again on the day of discharge
        (30, False, True),
        (31, False, False),
        (-1, False, False),  # before discharge: not after the index stay
        (5, True, False),  # planned admission
        (5, None, True),  # planned unknown: counts as unplanned
    ],
    ids=["day-0", "day-30", "day-31", "before-discharge", "planned", "planned-unknown"],
)
def test_readmission_window_after_discharge(admitted: int, planned: bool | None, readmitted: bool) -> None:
    tables = gold([{"case_id": "A"}], encounters=[{"admission_date": day(admitted, DISCHARGE), "planned": planned}])
    assert by_case(mart(tables), "readmission_30d") == {"A": readmitted}


def test_readmission_looks_past_planned_admission_to_a_later_unplanned_one() -> None:
    tables = gold(
        [{"case_id": "A"}],
        encounters=[
            {"admission_date": day(3, DISCHARGE), "planned": True},
            {"admission_date": day(20, DISCHARGE), "planned": False},
        ],
    )
    assert by_case(mart(tables), "readmission_30d") == {"A": True}


def test_readmission_counts_only_the_patients_own_encounters() -> None:
    tables = gold(
        [{"case_id": "A", "patient_id": "P1"}, {"case_id": "B", "patient_id": "P2"}],
        encounters=[{"patient_id": "P2", "admission_date": day(4, DISCHARGE)}],
    )
    assert by_case(mart(tables), "readmission_30d") == {"A": False, "B": True}


def test_readmission_is_null_while_in_hospital() -> None:
    tables = gold([{"case_id": "A", "discharge_date": None}], encounters=[{"admission_date": day(4)}])
    assert by_case(mart(tables), "readmission_30d") == {"A": None}


# Reoperation: another case of the same patient with a strictly later surgery_start, within the window.


def test_reoperation_day_30_counts_day_31_does_not() -> None:
    tables = gold(
        [
            {"case_id": "A", "patient_id": "P1"},
            {"case_id": "B", "patient_id": "P1", "surgery_start": START + timedelta(days=30, hours=5)},
            {"case_id": "X", "patient_id": "P2"},
            {"case_id": "Y", "patient_id": "P2", "surgery_start": START + timedelta(days=31)},
        ]
    )
    assert by_case(mart(tables), "reoperation_30d") == {"A": True, "B": False, "X": False, "Y": False}


def test_same_day_second_case_is_a_reoperation_of_the_first_only() -> None:
    tables = gold(
        [
            {"case_id": "LATE", "surgery_start": START + timedelta(hours=9)},  # listed first, starts later
            {"case_id": "EARLY", "surgery_start": START},
        ]
    )
    assert by_case(mart(tables), "reoperation_30d") == {"EARLY": True, "LATE": False}


def test_cases_starting_at_the_same_minute_are_not_each_others_reoperation() -> None:
    tables = gold(
        [
            {"case_id": "A", "surgery_start": START},
            {"case_id": "B", "surgery_start": START},
            {"case_id": "C", "surgery_start": START + timedelta(days=10)},
        ]
    )
    assert by_case(mart(tables), "reoperation_30d") == {"A": True, "B": True, "C": False}


def test_reoperation_ignores_other_patients_and_earlier_cases() -> None:
    tables = gold(
        [
            {"case_id": "A", "patient_id": "P1"},
            {"case_id": "B", "patient_id": "P2", "surgery_start": START + timedelta(days=1)},
            {"case_id": "C", "patient_id": "P2", "surgery_start": START - timedelta(days=1)},
        ]
    )
    assert by_case(mart(tables), "reoperation_30d") == {"A": False, "B": False, "C": True}


# Mortality: death within the window of the surgery date, or died in hospital.


@pytest.mark.parametrize(
    ("death", "destination", "died"),
    [
        (day(0), "home", True),
        (day(30), "home", True),
        (day(31), "home", False),
        (day(-1), "home", False),  # recorded before the surgery: not a death after it
        (day(1), None, True),  # death before discharge, destination not filled in
        (None, "died", True),  # died in hospital, death date not (yet) in patients
        (day(45), "died", True),  # a long stay ending in death: died in hospital counts whatever the date
        (None, "home", False),
        (None, None, False),
    ],
)
def test_mortality_window_and_in_hospital_death(death: object, destination: str | None, died: bool) -> None:
    tables = gold(
        [{"case_id": "A", "discharge_destination": destination}],
        patients=[{"patient_id": "P1", "death_date": death}],
    )
    assert by_case(mart(tables), "mortality_30d") == {"A": died}


def test_death_before_discharge_counts() -> None:
    tables = gold(
        [{"case_id": "A", "discharge_date": None, "discharge_destination": None}],
        patients=[{"patient_id": "P1", "death_date": day(3)}],
    )
    row = mart(tables).row(0, named=True)
    assert row["mortality_30d"] is True
    assert row["los_days"] is None


# Absent source tables: null and not available, never false or zero.


def test_absent_event_tables_give_null_outcomes_not_false() -> None:
    tables = gold([{"case_id": "A"}], absent=["complications", "encounters"])
    row = mart(tables).row(0, named=True)
    for column in ("complication_count", "worst_clavien_dindo", "complication_any", "complication_major"):
        assert row[column] is None, column
    assert row["readmission_30d"] is None
    assert row["expected_complication_major"] is None
    assert row["reoperation_30d"] is False  # needs only cases
    assert row["mortality_30d"] is False


def test_empty_event_tables_give_false_not_null() -> None:
    row = mart(gold([{"case_id": "A"}], complications=[], encounters=[])).row(0, named=True)
    assert (row["complication_any"], row["complication_count"], row["readmission_30d"]) == (False, 0, False)


def test_absent_patients_make_mortality_and_age_unavailable() -> None:
    tables = gold([{"case_id": "A", "discharge_destination": "died"}], absent=["patients"])
    row = mart(tables).row(0, named=True)
    assert (row["mortality_30d"], row["expected_mortality_30d"]) == (None, None)
    assert (row["age_at_surgery"], row["age_band"], row["sex"]) == (None, None, None)
    assert row["surgery_date"] == SURGERY_DAY
