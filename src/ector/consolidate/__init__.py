"""Consolidation: one trustworthy set of the canonical tables from several ingested streams.

`consolidate(tables, settings, run_date)` is a pure function of LazyFrames (no I/O); `stage.consolidate_stage`
is the body the runner calls for `ector consolidate`. Rule names live in `rules`, default code maps and date
formats in `codes`.
"""

from ector.consolidate.consolidation import ConsolidationResult, consolidate

__all__ = ["ConsolidationResult", "consolidate"]
