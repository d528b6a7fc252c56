"""Ingest: read the Gold tables from a source into canonical Parquet tables.

`reading.plan_ingest` decides, per canonical table, where it lives and which of its columns exist;
`reading.read_table` returns one table's canonical LazyFrame; `sources` opens databases and Parquet folders;
`stage` declares the stage. The names below are imported on first use, so that `ector --help` starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ector.ingest.reading import IngestPlan, check_table_names, patient_id_columns, plan_ingest, read_table
    from ector.ingest.sources import open_source

_EXPORTS = {
    "IngestPlan": "ector.ingest.reading",
    "check_table_names": "ector.ingest.reading",
    "open_source": "ector.ingest.sources",
    "patient_id_columns": "ector.ingest.reading",
    "plan_ingest": "ector.ingest.reading",
    "read_table": "ector.ingest.reading",
}
__all__ = ["IngestPlan", "check_table_names", "open_source", "patient_id_columns", "plan_ingest", "read_table"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
