"""Referential integrity: orphans, children of quarantined parents, absent parents, optional references."""

from __future__ import annotations

from ector.consolidate import rules
from tests.consolidate.frames import edit, gold, run


def test_case_of_a_surgeon_not_in_the_surgeons_table_is_an_orphan() -> None:
    tables = gold("surgeons")
    tables["cases"] = edit(tables["cases"], 1, surgeon_id="S9999")

    outcome = run(tables)

    assert outcome.quarantined("cases") == {"C2": [rules.ORPHAN_SURGEON]}
    assert outcome.reason("cases", "C2") == "orphan_surgeon: S9999"


def test_orphan_patient_reason_names_the_column_not_the_id() -> None:
    tables = gold("patients")
    tables["cases"] = edit(tables["cases"], 0, patient_id="P404")

    outcome = run(tables)

    assert outcome.reason("cases", "C1") == "orphan_patient: patient_id"


def test_child_of_a_quarantined_parent_is_quarantined_too() -> None:
    tables = gold("patients", "encounters")
    tables["patients"] = edit(tables["patients"], 1, sex="Q")  # P2: case C2, encounter E1

    outcome = run(tables)

    assert outcome.quarantined("patients") == {"P2": [rules.UNMAPPED_CODE]}
    assert outcome.quarantined("cases") == {"C2": [rules.PARENT_QUARANTINED]}
    assert outcome.quarantined("encounters") == {"E1": [rules.PARENT_QUARANTINED]}
    assert outcome.reason("cases", "C2") == "parent_quarantined: patient_id"


def test_quarantine_cascades_down_to_grandchildren() -> None:
    tables = gold("surgeons", "complications")
    tables["surgeons"] = edit(tables["surgeons"], 0, first_year_in_practice="long ago")  # S0001: C1, C3, C4

    outcome = run(tables)

    assert outcome.quarantined("cases") == {c: [rules.PARENT_QUARANTINED] for c in ("C1", "C3", "C4")}
    assert outcome.quarantined("complications") == {"K1": [rules.PARENT_QUARANTINED], "K2": [rules.PARENT_QUARANTINED]}
    assert outcome.reason("complications", "K1") == "parent_quarantined: case_id C3"


def test_complication_of_a_case_that_never_existed_is_an_orphan() -> None:
    tables = gold("complications")
    tables["complications"] = edit(tables["complications"], 0, case_id="c99")

    outcome = run(tables)

    assert outcome.quarantined("complications") == {"K1": [rules.ORPHAN_CASE]}
    assert outcome.reason("complications", "K1") == "orphan_case: C99"


def test_merged_away_duplicates_of_a_parent_still_count_as_its_keys() -> None:
    tables = gold("sites")
    tables["sites"] = edit(tables["sites"], 0, site_id=" h01")

    outcome = run(tables)

    assert outcome.quarantine["cases"].height == 0


def test_references_to_an_absent_table_are_not_checked() -> None:
    tables = gold("sites")  # no surgeons, no patients
    tables["cases"] = edit(tables["cases"], 0, surgeon_id="S9999", patient_id="P9999")

    outcome = run(tables)

    assert outcome.quarantine["cases"].height == 0
    assert set(outcome.clean) == {"sites", "cases"}
    assert outcome.count("cases", rules.ORPHAN_SURGEON) == 0
    assert rules.ORPHAN_SURGEON not in outcome.summary["rule"].to_list()


def test_dangling_optional_reference_keeps_the_row_and_is_noted() -> None:
    tables = gold("sites", "surgeons", "encounters")
    tables["surgeons"] = edit(tables["surgeons"], 1, primary_site_id="H77")
    tables["encounters"] = edit(tables["encounters"], 0, site_id="H88")

    outcome = run(tables)

    assert outcome.clean["surgeons"]["primary_site_id"].to_list() == ["H01", "H77"]
    assert outcome.clean["encounters"]["site_id"].to_list() == ["H88", None]
    assert outcome.count("surgeons", rules.DANGLING_OPTIONAL_REFERENCE, "note", "primary_site_id") == 1
    assert outcome.count("encounters", rules.DANGLING_OPTIONAL_REFERENCE, "note", "site_id") == 1
    assert outcome.quarantine["surgeons"].height == 0


def test_missing_required_reference_is_missing_not_an_orphan() -> None:
    tables = gold("sites")
    tables["cases"] = edit(tables["cases"], 0, site_id=" ")

    outcome = run(tables)

    assert outcome.quarantined("cases") == {"C1": [rules.MISSING_REQUIRED]}
