"""Standardisation: keys, code variants, booleans, dates and numbers from text, each repair counted."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from ector.consolidate import rules
from ector.errors import ConfigError
from tests.consolidate.frames import as_text, edit, gold, run


def test_key_with_whitespace_and_lower_case_is_repaired_and_counted() -> None:
    tables = gold("surgeons")
    tables["surgeons"] = edit(tables["surgeons"], 0, surgeon_id=" s0001 ")

    outcome = run(tables)

    assert outcome.clean["surgeons"]["surgeon_id"].to_list() == ["S0001", "S0002"]
    assert outcome.count("surgeons", rules.KEY_VARIANT, "repair") == 1


def test_references_are_standardised_like_keys() -> None:
    tables = gold("sites", "surgeons", "patients", "cases")
    tables["cases"] = edit(tables["cases"], 0, surgeon_id="s0001", site_id=" h01")

    outcome = run(tables)

    first = outcome.clean["cases"].row(0, named=True)
    assert (first["surgeon_id"], first["site_id"]) == ("S0001", "H01")
    assert outcome.count("cases", rules.KEY_VARIANT, "repair") == 1  # one row, however many columns
    assert outcome.quarantine["cases"].height == 0


@pytest.mark.parametrize(
    ("table", "column", "variant", "canonical"),
    [
        ("patients", "sex", "Female", "F"),
        ("patients", "sex", " f ", "F"),
        ("patients", "sex", "2", "F"),
        ("complications", "clavien_dindo", "3a", "IIIa"),
        ("complications", "clavien_dindo", "IIIA", "IIIa"),
        ("cases", "approach", "Robotic-assisted", "robotic"),
        ("cases", "approach", "LAP", "laparoscopic"),
        ("sites", "site_type", "Academic", "teaching"),
    ],
)
def test_code_variant_is_mapped_to_its_canonical_value(table: str, column: str, variant: str, canonical: str) -> None:
    tables = gold(table)
    tables[table] = edit(tables[table], 0, **{column: variant})

    outcome = run(tables)

    assert outcome.clean[table][column][0] == canonical
    assert outcome.count(table, rules.CODE_VARIANT, "repair") == 1
    assert outcome.quarantine[table].height == 0


def test_canonical_code_is_not_counted_as_a_repair() -> None:
    outcome = run(gold("patients"))
    assert outcome.count("patients", rules.CODE_VARIANT, "repair") == 0


def test_unmapped_code_is_quarantined_not_guessed() -> None:
    tables = gold("patients")
    tables["patients"] = edit(tables["patients"], 1, sex="Q")

    outcome = run(tables)

    assert outcome.quarantined("patients") == {"P2": [rules.UNMAPPED_CODE]}
    assert outcome.reason("patients", "P2") == "unmapped_code: sex 'Q'"
    assert outcome.clean["patients"]["patient_id"].to_list() == ["P1", "P3"]


def test_settings_code_map_extends_and_overrides_the_defaults() -> None:
    tables = gold("patients")
    tables["patients"] = edit(tables["patients"], 0, sex="W")
    tables["patients"] = edit(tables["patients"], 1, sex="x")  # default: x -> U

    outcome = run(tables, code_maps={"sex": {"W": "F", "X": "M"}})

    assert outcome.clean["patients"]["sex"].to_list() == ["F", "M", "F"]


def test_code_map_onto_a_value_the_contract_does_not_know_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"code_maps\.sex\.w: 'W' is not a canonical value"):
        run(gold("patients"), code_maps={"sex": {"w": "W"}})


def test_code_map_of_a_column_that_is_not_coded_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'procedure_family' is not a coded column"):
        run(gold("cases"), code_maps={"procedure_family": {"chole": "cholecystectomy"}})


@pytest.mark.parametrize(("text", "expected"), [("Y", True), ("no", False), ("1", True), ("true", False)])
def test_boolean_text_is_mapped(text: str, expected: bool) -> None:
    tables = gold("cases")
    tables["cases"] = edit(tables["cases"], 0, converted_to_open=text)
    if text == "true":  # the canonical spelling, in a column that is text because of its neighbours
        tables["cases"] = edit(tables["cases"], 0, converted_to_open="false")

    outcome = run(tables)

    assert outcome.clean["cases"]["converted_to_open"][0] is expected
    assert outcome.count("cases", rules.CODE_VARIANT, "repair") == (0 if text == "true" else 1)


def test_boolean_text_no_map_knows_is_unmapped_code() -> None:
    tables = gold("encounters")
    tables["encounters"] = edit(tables["encounters"], 0, planned="maybe")

    outcome = run(tables)

    assert outcome.quarantined("encounters") == {"E1": [rules.UNMAPPED_CODE]}


def test_day_first_date_text_is_parsed_and_counted_as_date_format() -> None:
    tables = gold("complications")
    tables["complications"] = edit(tables["complications"], 0, onset_date="25/03/2024")

    outcome = run(tables)

    assert outcome.clean["complications"]["onset_date"][0] == date(2024, 3, 25)
    assert outcome.count("complications", rules.DATE_FORMAT, "repair") == 1


def test_iso_date_text_is_parsed_without_a_repair() -> None:
    tables = gold("complications")
    tables["complications"] = edit(tables["complications"], 0, onset_date="2024-03-02")

    outcome = run(tables)

    assert outcome.clean["complications"]["onset_date"][0] == date(2024, 3, 2)
    assert outcome.count("complications", rules.DATE_FORMAT, "repair") == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-10 08:00:00", datetime(2024, 1, 10, 8)),
        ("2024-01-10T08:00:00", datetime(2024, 1, 10, 8)),
        ("10-Jan-2024 08:00:00", datetime(2024, 1, 10, 8)),
        ("2024-01-10 08:00:00.250000", datetime(2024, 1, 10, 8, 0, 0, 250000)),
    ],
)
def test_timestamp_text_is_parsed(text: str, expected: datetime) -> None:
    tables = gold("cases")
    tables["cases"] = edit(tables["cases"], 0, surgery_start=text)

    outcome = run(tables)

    assert outcome.clean["cases"]["surgery_start"][0] == expected
    assert outcome.quarantine["cases"].height == 0


def test_configured_date_formats_replace_the_defaults() -> None:
    tables = gold("complications")
    tables["complications"] = edit(tables["complications"], 0, onset_date="03.05.2024")

    outcome = run(tables, date_formats=["%m.%d.%Y"])

    assert outcome.clean["complications"]["onset_date"][0] == date(2024, 3, 5)


def test_date_in_no_format_is_unparseable() -> None:
    tables = gold("complications")
    tables["complications"] = edit(tables["complications"], 0, onset_date="31/02/2024")

    outcome = run(tables)

    assert outcome.quarantined("complications") == {"K1": [rules.UNPARSEABLE_DATE]}
    assert outcome.reason("complications", "K1") == "unparseable_date: onset_date '31/02/2024'"


@pytest.mark.parametrize(("text", "expected"), [("3", 3), (" 4 ", 4), ("2.0", 2)])
def test_integer_text_is_read(text: str, expected: int) -> None:
    tables = gold("cases")
    tables["cases"] = edit(tables["cases"], 0, asa_class=text)

    outcome = run(tables)

    assert outcome.clean["cases"]["asa_class"][0] == expected
    assert outcome.clean["cases"].schema["asa_class"] == pl.Int8()


@pytest.mark.parametrize("text", ["2.5", "two", "II"])
def test_text_that_is_not_an_integer_is_invalid_number(text: str) -> None:
    tables = gold("cases")
    tables["cases"] = edit(tables["cases"], 0, asa_class=text)

    outcome = run(tables)

    assert outcome.quarantined("cases") == {"C1": [rules.INVALID_NUMBER]}


@pytest.mark.parametrize("text", ["NaN", "inf", "1,5"])
def test_float_text_that_is_not_a_finite_number_is_invalid_number(text: str) -> None:
    tables = gold("cases")
    tables["cases"] = edit(tables["cases"], 0, blood_loss_ml=text)

    outcome = run(tables)

    assert outcome.quarantined("cases") == {"C1": [rules.INVALID_NUMBER]}


def test_year_beyond_the_contract_integer_is_invalid_number() -> None:
    tables = gold("surgeons")
    tables["surgeons"] = edit(tables["surgeons"], 0, first_year_in_practice=2**40)

    outcome = run(tables)

    assert outcome.quarantined("surgeons") == {"S0001": [rules.INVALID_NUMBER]}


def test_blank_optional_values_stay_null_and_are_counted_never_zero() -> None:
    tables = {"cases": as_text(gold("cases")["cases"])}
    tables["cases"] = edit(tables["cases"], 0, blood_loss_ml="  ", asa_class="", approach=" ")

    outcome = run(tables)

    first = outcome.clean["cases"].row(0, named=True)
    assert (first["blood_loss_ml"], first["asa_class"], first["approach"]) == (None, None, None)
    assert outcome.count("cases", rules.MISSING_OPTIONAL, "note", "blood_loss_ml") == 2  # C1 and C4
    assert outcome.count("cases", rules.MISSING_OPTIONAL, "note", "asa_class") == 2
    assert outcome.quarantine["cases"].height == 0


def test_a_table_ingested_all_as_text_consolidates_to_the_contract_dtypes() -> None:
    typed = run(gold())
    text = run({name: as_text(frame) for name, frame in gold().items()})

    for name, frame in typed.clean.items():
        assert text.clean[name].equals(frame), name
