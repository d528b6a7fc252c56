"""Deduplication by key: the latest version wins, ties are broken as gold-contract.md says, never by row order."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from ector.consolidate import rules
from tests.consolidate.frames import append, edit, gold, run


def _case(outcome_clean: pl.DataFrame, case_id: str) -> dict[str, object]:
    return outcome_clean.filter(pl.col("case_id") == case_id).row(0, named=True)


def test_resent_row_with_later_updated_at_wins() -> None:
    tables = gold("cases")
    tables["cases"] = append(tables["cases"], 0, updated_at=datetime(2024, 5, 1), discharge_date=None)
    tables["cases"] = append(tables["cases"], 0, updated_at=datetime(2024, 3, 1), blood_loss_ml=75.0)

    outcome = run(tables)

    c1 = _case(outcome.clean["cases"], "C1")
    assert (c1["updated_at"], c1["discharge_date"], c1["blood_loss_ml"]) == (datetime(2024, 5, 1), None, 50.0)
    assert outcome.count("cases", rules.DUPLICATE_RESENT, "merge") == 2
    assert outcome.count("cases", "duplicates_merged", "total") == 2
    assert outcome.clean["cases"]["case_id"].to_list() == ["C1", "C2", "C3", "C4"]


def test_a_known_updated_at_beats_a_missing_one() -> None:
    tables = gold("cases")
    tables["cases"] = append(tables["cases"], 0, updated_at=None, blood_loss_ml=75.0)

    outcome = run(tables)

    assert _case(outcome.clean["cases"], "C1")["blood_loss_ml"] == 50.0


def test_tie_on_updated_at_goes_to_the_later_listed_source_system() -> None:
    tables = gold("cases")
    tables["cases"] = edit(tables["cases"], 0, source_system="north")
    tables["cases"] = append(tables["cases"], 0, source_system=" SOUTH ", blood_loss_ml=75.0)

    south_last = run(tables, source_priority=["north", "south"])
    north_last = run(tables, source_priority=["south", "north"])

    assert _case(south_last.clean["cases"], "C1")["blood_loss_ml"] == 75.0
    assert _case(north_last.clean["cases"], "C1")["blood_loss_ml"] == 50.0


def test_tie_without_priority_goes_to_the_row_with_fewer_nulls() -> None:
    tables = gold("cases")
    tables["cases"] = append(tables["cases"], 0, blood_loss_ml=None, predicted_mortality=None)

    outcome = run(tables)

    c1 = _case(outcome.clean["cases"], "C1")
    assert (c1["blood_loss_ml"], c1["predicted_mortality"]) == (50.0, 0.002)


def test_exact_duplicate_is_merged_and_counted_apart_from_resent_rows() -> None:
    tables = gold("cases")
    tables["cases"] = append(tables["cases"], 1)
    tables["cases"] = append(tables["cases"], 1, case_id=" c2")  # identical once standardised

    outcome = run(tables)

    assert outcome.clean["cases"].height == 4
    assert outcome.count("cases", rules.DUPLICATE_EXACT, "merge") == 2
    assert outcome.count("cases", rules.DUPLICATE_RESENT, "merge") == 0
    assert outcome.count("cases", rules.KEY_VARIANT, "repair") == 1  # counted though merged away


def test_winner_does_not_depend_on_row_order() -> None:
    tables = gold("cases")
    for blood_loss in (10.0, 20.0, 30.0):  # same time, same source, same nulls: only the hash decides
        tables["cases"] = append(tables["cases"], 0, blood_loss_ml=blood_loss)
    reversed_tables = {"cases": tables["cases"].reverse()}

    assert run(tables).clean["cases"].equals(run(reversed_tables).clean["cases"])


def test_rows_without_a_key_are_not_merged_with_each_other() -> None:
    tables = gold("cases")
    tables["cases"] = append(tables["cases"], 0, case_id=None)
    tables["cases"] = append(tables["cases"], 0, case_id="  ")

    outcome = run(tables)

    assert outcome.count("cases", "duplicates_merged", "total") == 0
    assert outcome.quarantine["cases"]["rules"].to_list() == [[rules.MISSING_REQUIRED]] * 2


def test_invalid_latest_version_is_quarantined_and_the_older_ones_merged() -> None:
    tables = gold("cases")
    tables["cases"] = append(tables["cases"], 0, updated_at=datetime(2024, 6, 1), asa_class=9)

    outcome = run(tables)

    assert outcome.quarantined("cases") == {"C1": [rules.ASA_OUT_OF_RANGE]}
    assert outcome.count("cases", rules.DUPLICATE_RESENT, "merge") == 1
    assert "C1" not in outcome.clean["cases"]["case_id"].to_list()
