"""Consolidation: one trustworthy set of the canonical tables from several ingested streams.

`consolidate(tables, settings, run_date, out)` is the stage: it writes the clean tables, quarantines and
summary into a materialiser (the runner's for `ector consolidate`); `consolidate_in_memory` runs the same loop
and returns them collected. Rule names live in `rules`, default code maps and date formats in `codes`.
"""

from ector.consolidate.consolidation import ConsolidationResult, consolidate, consolidate_in_memory

__all__ = ["ConsolidationResult", "consolidate", "consolidate_in_memory"]
