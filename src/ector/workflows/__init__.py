"""The analytic views over the case mart: patient, surgeon and site (`ector workflow VIEW`).

Each view is a function of the case-mart LazyFrame, the analysis settings and a materialiser, returning
{table name: frame}; `summary` is the primary table. `stage` declares the three stages that sink them to
workflow/<view>/<table>.parquet. Tables and columns are documented in docs/workflows.md; formulas are in
`ector.stats`. The names below are imported on first use, so that `ector --help` starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ector.workflows.mart import OUTCOMES
    from ector.workflows.patient import patient_view
    from ector.workflows.site import site_view
    from ector.workflows.surgeon import surgeon_view
    from ector.workflows.unit import unit_view

_EXPORTS = {
    "OUTCOMES": "ector.workflows.mart",
    "patient_view": "ector.workflows.patient",
    "site_view": "ector.workflows.site",
    "surgeon_view": "ector.workflows.surgeon",
    "unit_view": "ector.workflows.unit",
}
__all__ = ["OUTCOMES", "patient_view", "site_view", "surgeon_view", "unit_view"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
