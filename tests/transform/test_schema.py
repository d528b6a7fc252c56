"""The case mart's dataframely schema: generated from the dictionary, met by every mart transform builds, and the
check a mart from outside passes before a view computes on it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from tests.gold import tiny_gold
from tests.transform.frames import mart

from ector.contract import CASES
from ector.errors import EXIT_GATE, ContractError
from ector.transform.dictionary import MART_COLUMNS, MART_SCHEMA
from ector.transform.schema import CaseMart, validate_given_mart
from ector.workflows.mart import REQUIRED


def test_schema_is_the_dictionary_with_case_id_as_key() -> None:
    assert pl.Schema({name: column.dtype for name, column in CaseMart.columns().items()}) == MART_SCHEMA
    assert CaseMart.primary_key() == ["case_id"]
    never_null = {name for name, column in CaseMart.columns().items() if not column.nullable}
    required_gold = {c.name for c in CASES.columns if c.required and c.name in MART_SCHEMA}
    assert required_gold | {"surgery_date", "surgeon_case_seq"} <= never_null
    assert {"complication_any", "mortality_30d", "sex", "surgery_end"}.isdisjoint(never_null)
    assert len(MART_COLUMNS) == len(CaseMart.columns())


def test_every_mart_transform_builds_is_valid() -> None:
    built = mart(tiny_gold())
    assert built.height > 0
    assert CaseMart.is_valid(built)


def _given(**changes: list[object]) -> pl.DataFrame:
    rows = {
        "case_id": ["C1", "C2"],
        "patient_id": ["P1", "P2"],
        "surgeon_id": ["S1", "S1"],
        "site_id": ["H1", "H1"],
        "procedure_family": ["hernia_repair", "hernia_repair"],
        "surgery_start": [datetime(2024, 3, 1, 9), datetime(2024, 3, 2, 9)],
        "asa_class": [2, 3],
        "their_own_column": ["x", "y"],
    }
    return pl.DataFrame(rows | changes)


def test_a_given_mart_of_the_views_columns_passes_cast_to_the_mart_dtypes() -> None:
    checked = validate_given_mart(_given(), REQUIRED)
    assert checked.schema["asa_class"] == pl.Int8  # given as Int64
    assert checked["their_own_column"].to_list() == ["x", "y"]  # columns outside the mart are kept
    assert checked["case_id"].to_list() == ["C1", "C2"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"case_id": ["C1", "C1"]}, "case_id repeated in 2 rows"),
        ({"surgeon_id": ["S1", None]}, "column 'surgeon_id': 'nullability' failed for 1 rows"),
        ({"asa_class": [2, 300]}, "column 'asa_class'"),
    ],
)
def test_a_given_mart_breaking_the_schema_is_a_contract_error(changes: dict[str, list[object]], message: str) -> None:
    with pytest.raises(ContractError, match="not a case mart") as caught:
        validate_given_mart(_given(**changes), REQUIRED)
    assert message in str(caught.value)
    assert caught.value.exit_code == EXIT_GATE


def test_a_given_mart_without_a_required_column_names_it() -> None:
    with pytest.raises(ContractError, match=r"lacks required column.* site_id"):
        validate_given_mart(_given().drop("site_id"), REQUIRED)


def test_a_view_refuses_a_piped_mart_with_a_case_twice(cli, tmp_path: Path) -> None:
    path = tmp_path / "mart.csv"
    _given(case_id=["C1", "C1"]).write_csv(path)
    result = cli("workflow", "surgeon", "-i", str(path), "-o", "-", "--format", "csv")
    assert result.exit_code == EXIT_GATE
    assert "case_id repeated in 2 rows" in result.output
    assert "Traceback" not in result.output
