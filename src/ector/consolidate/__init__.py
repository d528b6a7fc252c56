"""Consolidation: one trustworthy set of the canonical tables from several ingested streams.

`consolidate(tables, settings, run_date, out)` is the stage's logic: it writes the clean tables, quarantines and
summary into a materialiser (the runner's for `ector consolidate`); `consolidate_in_memory` runs the same loop
and returns them collected. Rule names live in `rules`, default code maps and date formats in `codes`. The names
below are imported on first use: the stage's declaration (`stage`) is read by `ector --help`, which must start
fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ector.consolidate.consolidation import ConsolidationResult, consolidate, consolidate_in_memory

_EXPORTS = {
    "ConsolidationResult": "ector.consolidate.consolidation",
    "consolidate": "ector.consolidate.consolidation",
    "consolidate_in_memory": "ector.consolidate.consolidation",
}
__all__ = ["ConsolidationResult", "consolidate", "consolidate_in_memory"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
