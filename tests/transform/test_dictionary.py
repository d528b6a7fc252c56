"""The data dictionary is the mart's schema, and docs/data-dictionary.md is generated from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.gold import tiny_gold
from tests.transform.frames import mart

from ector.contract import AGE_BANDS
from ector.transform.dictionary import DICTIONARY_PATH, MART_COLUMNS, MART_SCHEMA, render_dictionary


def test_docs_data_dictionary_is_up_to_date() -> None:
    assert DICTIONARY_PATH == ROOT / "docs" / "data-dictionary.md"
    assert DICTIONARY_PATH.read_text(encoding="utf-8") == render_dictionary(), (
        "docs/data-dictionary.md is stale: run `python -m ector.transform.dictionary`"
    )


def test_dictionary_lists_every_mart_column_once_with_its_dtype() -> None:
    built = mart(tiny_gold()).schema
    assert list(built) == [c.name for c in MART_COLUMNS]
    assert built == MART_SCHEMA
    text = render_dictionary()
    for column in MART_COLUMNS:
        assert text.count(f"| {column.name} |") == 1


def test_dictionary_documents_the_age_bands_from_the_contract() -> None:
    assert ", ".join(AGE_BANDS) in render_dictionary()


def test_module_rewrites_the_dictionary(tmp_path: Path) -> None:
    target = tmp_path / "dd.md"
    subprocess.run([sys.executable, "-m", "ector.transform.dictionary", str(target)], check=True, capture_output=True)
    assert target.read_text(encoding="utf-8") == render_dictionary()
