"""Reusable transformations over LazyFrames and the case mart (issue #5).

Filters (`filters`), enrichment joins (`enrich`), windowed outcomes (`outcomes`), derived columns (`derive`),
expected risk (`risk`), the case mart (`mart`), its data dictionary (`dictionary`) and dataframely schema
(`schema`), and the stage (`stage`).
The names below are imported on first use, so `import ector.transform` stays cheap and
`python -m ector.transform.dictionary` runs its module only once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ector.transform.dictionary import MART_COLUMN_NAMES, MART_COLUMNS, MART_SCHEMA, render_dictionary
    from ector.transform.filters import select_cases
    from ector.transform.mart import case_mart, unavailable_outcomes
    from ector.transform.schema import CaseMart

_EXPORTS = {
    "CaseMart": "ector.transform.schema",
    "MART_COLUMNS": "ector.transform.dictionary",
    "MART_COLUMN_NAMES": "ector.transform.dictionary",
    "MART_SCHEMA": "ector.transform.dictionary",
    "render_dictionary": "ector.transform.dictionary",
    "case_mart": "ector.transform.mart",
    "unavailable_outcomes": "ector.transform.mart",
    "select_cases": "ector.transform.filters",
}
__all__ = [
    "MART_COLUMNS",
    "MART_COLUMN_NAMES",
    "MART_SCHEMA",
    "CaseMart",
    "case_mart",
    "render_dictionary",
    "select_cases",
    "unavailable_outcomes",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ector.transform' has no attribute {name!r}")
