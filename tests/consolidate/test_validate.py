"""Row rules: every rule a row breaks is listed, with a readable reason that never shows personal data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import polars as pl
import pytest

from ector.consolidate import rules
from ector.consolidate.columns import raw_name, reference_name
from ector.consolidate.parsing import parsing_from_settings
from ector.consolidate.standardise import standardise
from ector.consolidate.validate import evaluate, table_schema
from ector.contract import TABLES
from ector.settings import ConsolidationSettings
from tests.consolidate.frames import RUN_DATE, edit, gold, run


@pytest.mark.parametrize(
    ("table", "key", "changes", "rule", "reason"),
    [
        ("cases", "C1", {"asa_class": 6}, rules.ASA_OUT_OF_RANGE, "asa_out_of_range: asa_class 6"),
        ("cases", "C1", {"asa_class": 0}, rules.ASA_OUT_OF_RANGE, "asa_out_of_range: asa_class 0"),
        ("cases", "C1", {"blood_loss_ml": -5.0}, rules.NEGATIVE_BLOOD_LOSS, "negative_blood_loss: blood_loss_ml -5.0"),
        (
            "cases",
            "C1",
            {"predicted_mortality": 1.5},
            rules.RISK_OUT_OF_RANGE,
            "risk_out_of_range: predicted_mortality 1.5",
        ),
        (
            "cases",
            "C1",
            {"surgery_end": datetime(2024, 1, 10, 7)},
            rules.END_BEFORE_START,
            "end_before_start: surgery_end before surgery_start",
        ),
        (
            "cases",
            "C1",
            {"surgery_end": datetime(2024, 1, 11, 8, 1)},
            rules.OPERATIVE_TIME_OUT_OF_RANGE,
            "operative_time_out_of_range: surgery_end more than 24 h after surgery_start",
        ),
        (
            "cases",
            "C2",
            {"discharge_date": date(2024, 1, 31)},
            rules.DISCHARGE_BEFORE_ADMISSION,
            "discharge_before_admission: discharge_date before admission_date",
        ),
        (
            "encounters",
            "E1",
            {"discharge_date": date(2024, 2, 19)},
            rules.DISCHARGE_BEFORE_ADMISSION,
            "discharge_before_admission: discharge_date before admission_date",
        ),
        ("cases", "C1", {"surgery_start": None}, rules.MISSING_REQUIRED, "missing_required: surgery_start"),
        ("cases", "C1", {"procedure_code": "   "}, rules.MISSING_REQUIRED, "missing_required: procedure_code"),
        (
            "complications",
            "K2",
            {"onset_date": date(2025, 1, 2)},
            rules.FUTURE_DATE,
            "future_date: onset_date 2025-01-02",
        ),
        ("patients", "P1", {"birth_date": date(1880, 5, 1)}, rules.AGE_OUT_OF_RANGE, "age_out_of_range: birth_date"),
    ],
)
def test_row_breaking_a_rule_is_quarantined_with_its_reason(
    table: str, key: str, changes: dict[str, Any], rule: str, reason: str
) -> None:
    tables = gold(table)
    row = tables[table].get_column(TABLES[table].key).to_list().index(key)
    tables[table] = edit(tables[table], row, **changes)

    outcome = run(tables)

    assert outcome.quarantined(table) == {key: [rule]}
    assert outcome.reason(table, key) == reason
    assert outcome.count(table, rule, "quarantine") == 1


def test_the_run_date_itself_is_not_in_the_future() -> None:
    tables = gold("complications")
    tables["complications"] = edit(tables["complications"], 1, onset_date=RUN_DATE)
    tables["cases"] = edit(tables["cases"], 3, updated_at=datetime(2025, 1, 1, 23, 59))

    outcome = run(tables)

    assert outcome.quarantine["complications"].height == 0
    assert outcome.quarantine["cases"].height == 0


@pytest.mark.parametrize(("birth_date", "quarantined"), [(date(1904, 1, 2), False), (date(1904, 1, 1), True)])
def test_age_limit_is_120_whole_years_on_the_run_date(birth_date: date, quarantined: bool) -> None:
    tables = gold("patients")
    tables["patients"] = edit(tables["patients"], 0, birth_date=birth_date)

    outcome = run(tables)

    assert ("P1" in outcome.quarantined("patients")) is quarantined


def test_row_breaking_two_rules_lists_both_in_order() -> None:
    tables = gold("cases")
    tables["cases"] = edit(tables["cases"], 0, asa_class=9, surgery_start=None, approach="keyhole")

    outcome = run(tables)

    assert outcome.quarantined("cases") == {"C1": [rules.ASA_OUT_OF_RANGE, rules.MISSING_REQUIRED, rules.UNMAPPED_CODE]}
    assert outcome.reason("cases", "C1") == (
        "asa_out_of_range: asa_class 9; missing_required: surgery_start; unmapped_code: approach 'keyhole'"
    )
    for rule in (rules.ASA_OUT_OF_RANGE, rules.MISSING_REQUIRED, rules.UNMAPPED_CODE):
        assert outcome.count("cases", rule, "quarantine") == 1
    assert outcome.count("cases", "quarantined", "total") == 1


def test_several_columns_breaking_one_rule_are_named_together() -> None:
    tables = gold("cases")
    tables["cases"] = edit(tables["cases"], 0, procedure_code=None, admission_date=None)

    outcome = run(tables)

    assert outcome.reason("cases", "C1") == "missing_required: admission_date, procedure_code"


def test_unreadable_required_value_is_unreadable_not_missing() -> None:
    tables = gold("patients")
    tables["patients"] = edit(tables["patients"], 0, birth_date="13/13/1950")

    outcome = run(tables)

    assert outcome.quarantined("patients") == {"P1": [rules.UNPARSEABLE_DATE]}


def test_reason_never_shows_a_patient_id_or_birth_date() -> None:
    tables = gold("patients", "encounters")
    tables["patients"] = edit(tables["patients"], 0, birth_date="1850-02-03")
    tables["patients"] = edit(tables["patients"], 1, birth_date="not a date 1980")
    tables["encounters"] = edit(tables["encounters"], 0, patient_id="P777")

    outcome = run(tables)

    reasons = " ".join(reason for frame in outcome.quarantine.values() for reason in frame["reason"].to_list())
    for personal in ("P1", "P2", "P777", "1850", "1980"):
        assert personal not in reasons
    assert outcome.reason("encounters", "E1") == "orphan_patient: patient_id"
    assert outcome.reason("patients", "P2") == "unparseable_date: birth_date"


def test_quarantine_keeps_the_values_as_ingested() -> None:
    tables = gold("cases")
    tables["cases"] = edit(tables["cases"], 0, case_id=" c1 ", approach="keyhole", admission_date="10/01/2024")

    outcome = run(tables)

    row = outcome.quarantine["cases"].row(0, named=True)
    assert (row["case_id"], row["approach"], row["admission_date"]) == (" c1 ", "keyhole", "10/01/2024")
    assert outcome.quarantine["cases"].schema["asa_class"] == pl.Int64()  # the ingested dtype
    assert list(outcome.quarantine["cases"].columns) == [*TABLES["cases"].column_names, "rules", "reason"]


def test_every_rule_column_from_dataframely_maps_to_a_consolidation_rule() -> None:
    for table in TABLES.values():
        frame = pl.LazyFrame(schema={c: pl.String for c in table.column_names})
        standardised = standardise(frame, table, parsing_from_settings(ConsolidationSettings()))
        parents = {r.parent for r in table.references}
        schema = table_schema(table, standardised.raw_dtypes, RUN_DATE, parents, ambiguous=standardised.ambiguous)
        frame_with_refs = standardised.frame.with_columns(
            pl.lit(None, dtype=pl.String).alias(reference_name(r.column)) for r in table.references
        )

        evaluation = evaluate(frame_with_refs, schema)

        assert {check.rule for check in evaluation.checks.values()} == set(evaluation.rules), table.name
        assert set(evaluation.rules) <= {v for v in vars(rules).values() if isinstance(v, str)}
        assert raw_name(table.key) in evaluation.failed.collect_schema().names()
