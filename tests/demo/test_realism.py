"""The clean layer looks like surgery: who operates on whom, how, when, and what follows."""

from __future__ import annotations

import polars as pl

from ector.demo import model
from tests.demo.conftest import Demo


def test_sizes_follow_the_number_of_cases(clean_demo: Demo) -> None:
    tables = clean_demo.tables
    assert tables["cases"].height == 3_000
    assert 1.4 < tables["cases"].height / tables["patients"].height < 1.8
    assert tables["sites"].height == model.site_count(3_000)
    assert tables["surgeons"].height == model.surgeon_count(3_000)
    assert set(tables["sites"].get_column("site_type")) == {"teaching", "community", "ambulatory"}


def test_surgeons_operate_within_their_specialty(clean_demo: Demo) -> None:
    specialty_of = {f.name: f.specialty for f in model.FAMILIES}
    cases = clean_demo.tables["cases"].join(clean_demo.tables["surgeons"], on="surgeon_id")
    mismatched = cases.filter(pl.col("procedure_family").replace_strict(specialty_of) != pl.col("specialty"))
    assert mismatched.height == 0


def test_sex_specific_procedures_go_to_the_right_patients(clean_demo: Demo) -> None:
    cases = clean_demo.tables["cases"].join(clean_demo.tables["patients"], on="patient_id")
    assert set(cases.filter(pl.col("procedure_family") == "prostatectomy").get_column("sex")) == {"M"}
    assert set(cases.filter(pl.col("procedure_family") == "hysterectomy").get_column("sex")) == {"F"}


def test_approach_mix_fits_each_family(clean_demo: Demo) -> None:
    mix = dict(
        clean_demo.tables["cases"]
        .group_by("procedure_family")
        .agg(robotic=(pl.col("approach") == "robotic").mean(), open=(pl.col("approach") == "open").mean())
        .select("procedure_family", pl.struct("robotic", "open"))
        .iter_rows()
    )
    assert mix["prostatectomy"]["robotic"] > 0.5
    assert mix["hip_replacement"]["open"] == 1.0 and mix["cabg"]["open"] == 1.0
    assert mix["cholecystectomy"]["open"] < 0.2


def test_conversion_to_open_is_recorded_only_for_minimally_invasive_cases(clean_demo: Demo) -> None:
    cases = clean_demo.tables["cases"]
    assert cases.filter((pl.col("approach") == "open") & pl.col("converted_to_open").is_not_null()).height == 0
    minimally_invasive = cases.filter(pl.col("approach") != "open")
    assert minimally_invasive.get_column("converted_to_open").null_count() == 0
    assert minimally_invasive.get_column("converted_to_open").sum() > 0


def test_day_surgery_centres_take_elective_day_cases_only(clean_demo: Demo) -> None:
    centres = clean_demo.tables["sites"].filter(pl.col("site_type") == "ambulatory").get_column("site_id")
    cases = clean_demo.tables["cases"].filter(pl.col("site_id").is_in(centres))
    assert cases.height > 0
    assert set(cases.get_column("urgency")) == {"elective"}
    assert set(cases.get_column("procedure_family")) <= {"cholecystectomy", "hernia_repair", "knee_replacement"}


def test_electives_avoid_weekends_and_august(clean_demo: Demo) -> None:
    electives = clean_demo.tables["cases"].filter(pl.col("urgency") == "elective")
    weekday = electives.get_column("surgery_start").dt.weekday()  # 1 = Monday
    assert (weekday >= 6).mean() < 0.05  # type: ignore[operator]
    month = electives.get_column("surgery_start").dt.month().cast(pl.Int32)
    assert (month == 8).sum() < (month == 10).sum()


def test_nobody_has_surgery_after_their_death(clean_demo: Demo) -> None:
    cases = clean_demo.tables["cases"].join(clean_demo.tables["patients"], on="patient_id")
    assert cases.filter(pl.col("surgery_start").dt.date() > pl.col("death_date")).height == 0
    encounters = clean_demo.tables["encounters"].join(clean_demo.tables["patients"], on="patient_id")
    assert encounters.filter(pl.col("admission_date") > pl.col("death_date")).height == 0


def test_in_hospital_deaths_are_discharged_as_died_on_the_day_of_death(clean_demo: Demo) -> None:
    died = clean_demo.tables["cases"].filter(pl.col("discharge_destination") == "died")
    assert died.height > 0
    joined = died.join(clean_demo.tables["patients"], on="patient_id")
    assert (joined.get_column("discharge_date") == joined.get_column("death_date")).all()


def test_complication_grades_onsets_and_encounters_have_the_described_spread(clean_demo: Demo) -> None:
    complications = clean_demo.tables["complications"].join(clean_demo.tables["cases"], on="case_id")
    assert set(complications.get_column("clavien_dindo")) >= {"I", "II", "IIIa", "IIIb", "IVa"}
    after = (pl.col("onset_date") - pl.col("surgery_start").dt.date()).dt.total_days()
    assert complications.filter(after > 30).height > 0  # a few beyond the window
    assert complications.get_column("onset_date").null_count() > 0  # a few without a date
    encounters = clean_demo.tables["encounters"]
    assert 0 < encounters.get_column("planned").mean() < 0.5  # type: ignore[operator]


def test_predicted_mortality_is_a_probability(clean_demo: Demo) -> None:
    risk = clean_demo.tables["cases"].get_column("predicted_mortality")
    assert risk.null_count() == 0
    assert risk.min() > 0 and risk.max() < 1  # type: ignore[operator]
