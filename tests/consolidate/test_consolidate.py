"""The library function as a whole: contract shape of the outputs, reconciliation, empty and absent tables."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from ector.consolidate import consolidate, consolidate_in_memory, rules
from ector.consolidate.summary import SCHEMA, table_totals
from ector.contract import TABLES
from ector.errors import ContractError
from ector.materialise import InMemory
from ector.settings import ConsolidationSettings
from tests.consolidate.frames import RUN_DATE, Outcome, append, as_text, edit, gold, run


def _assert_balanced(inputs: dict[str, pl.DataFrame], outcome: Outcome) -> None:
    totals = table_totals(outcome.summary)
    for name, frame in inputs.items():
        t = totals[name]
        assert t.rows_in == frame.height, name
        assert t.rows_out == outcome.clean[name].height, name
        assert t.quarantined == outcome.quarantine[name].height, name
        assert t.rows_in == t.rows_out + t.duplicates_merged + t.quarantined, name


def test_clean_gold_passes_through_unchanged_in_contract_shape() -> None:
    outcome = run(gold())

    for name, table in TABLES.items():
        clean = outcome.clean[name]
        assert clean.schema == table.schema, name
        assert clean[table.key].to_list() == sorted(clean[table.key].to_list()), name
        assert outcome.quarantine[name].height == 0
    assert outcome.clean["cases"].height == 4
    assert outcome.summary.filter(pl.col("kind") != "note", pl.col("kind") != "total")["rows"].sum() == 0


def test_summary_has_the_documented_shape_and_reconciles() -> None:
    tables = gold()
    tables["cases"] = append(tables["cases"], 0, updated_at=datetime(2024, 6, 1))
    tables["cases"] = edit(tables["cases"], 1, asa_class=7)

    outcome = run(tables)

    assert outcome.summary.schema == SCHEMA
    assert outcome.summary.filter(pl.col("table") == "cases", pl.col("kind") == "total").rows() == [
        ("cases", "total", "rows_in", None, 5),
        ("cases", "total", "duplicates_merged", None, 1),
        ("cases", "total", "quarantined", None, 1),
        ("cases", "total", "rows_out", None, 3),
    ]
    assert outcome.summary["table"].unique(maintain_order=True).to_list() == list(TABLES)
    _assert_balanced(tables, outcome)


def test_every_rule_checked_is_listed_even_at_zero() -> None:
    outcome = run(gold())

    listed = set(outcome.summary.filter(pl.col("table") == "cases", pl.col("kind") == "quarantine")["rule"])
    assert {rules.ORPHAN_PATIENT, rules.PARENT_QUARANTINED, rules.OPERATIVE_TIME_OUT_OF_RANGE} <= listed
    assert set(outcome.summary.filter(pl.col("kind") == "repair")["rule"]) == set(rules.REPAIRS)


def test_zero_row_input_gives_zero_row_outputs_of_the_right_shape() -> None:
    tables = {name: frame.clear() for name, frame in gold().items()}

    outcome = run(tables)

    for name, table in TABLES.items():
        assert outcome.clean[name].schema == table.schema
        assert outcome.clean[name].height == 0
        assert outcome.quarantine[name].height == 0
        assert outcome.quarantine[name].columns == [*table.column_names, "rules", "reason"]
    assert set(outcome.summary.filter(pl.col("kind") == "total")["rows"]) == {0}


def test_zero_row_text_input_works_too() -> None:
    tables = {name: as_text(frame.clear()) for name, frame in gold().items()}
    assert run(tables).clean["cases"].schema == TABLES["cases"].schema


def test_absent_optional_tables_are_not_in_the_outputs() -> None:
    outcome = run(gold("cases"))

    assert set(outcome.clean) == set(outcome.quarantine) == {"cases"}
    assert set(outcome.summary["table"]) == {"cases"}
    assert outcome.clean["cases"].height == 4


def test_missing_optional_column_is_added_as_nulls() -> None:
    tables = gold("cases")
    tables["cases"] = tables["cases"].drop("predicted_mortality", "surgery_end")

    outcome = run(tables)

    assert outcome.clean["cases"].schema == TABLES["cases"].schema
    assert outcome.clean["cases"]["predicted_mortality"].null_count() == 4


def test_missing_required_column_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match=r"required column cases\.surgery_start"):
        run({"cases": gold("cases")["cases"].drop("surgery_start")})


def test_cases_are_mandatory() -> None:
    with pytest.raises(ContractError, match="mandatory table cases"):
        consolidate_in_memory({"sites": gold("sites")["sites"].lazy()}, ConsolidationSettings(), RUN_DATE)


def test_a_table_checked_in_chunks_gives_the_outputs_of_one_chunk() -> None:
    # Duplicates across chunks, a quarantined parent whose children sit in other chunks, a null key: chunks of
    # 1 to 3 rows cut the tables into ranges of keys, and every output must be the one of a single chunk.
    tables = gold()
    tables["cases"] = append(tables["cases"], 0, updated_at=datetime(2024, 6, 1), blood_loss_ml=75.0)
    tables["cases"] = append(tables["cases"], 2, case_id=" c3")
    tables["cases"] = edit(tables["cases"], 3, case_id=None)
    tables["patients"] = edit(tables["patients"], 1, sex="Q")
    tables["patients"] = append(tables["patients"], 0, birth_date=None, updated_at=datetime(2030, 1, 1))
    lazy = {name: frame.lazy() for name, frame in tables.items()}
    whole = consolidate_in_memory(lazy, ConsolidationSettings(), RUN_DATE)

    for chunk_rows in (1, 2, 3):
        memory = InMemory()
        consolidate(lazy, ConsolidationSettings(), RUN_DATE, memory, chunk_rows=chunk_rows)

        for name in TABLES:
            assert memory.outputs[name].equals(whole.clean[name]), (chunk_rows, name)
            assert memory.outputs[f"quarantine/{name}"].equals(whole.quarantine[name]), (chunk_rows, name)
        assert memory.outputs["summary"].equals(whole.summary), chunk_rows
    assert whole.quarantine["patients"].height == 2  # the parent whose children follow it
    assert whole.quarantine["cases"].height >= 2
