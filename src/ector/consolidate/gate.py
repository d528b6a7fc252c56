"""The quality gate: which tables quarantined more than `consolidation.max_quarantine_fraction` of their rows."""

from __future__ import annotations

from collections.abc import Mapping

from ector.consolidate.summary import TableTotals


def gate_failures(totals: Mapping[str, TableTotals], max_fraction: float) -> list[TableTotals]:
    """The tables whose quarantined fraction exceeds `max_fraction`, in contract order."""
    return [t for t in totals.values() if t.quarantined_fraction > max_fraction]


def describe_failure(totals: TableTotals) -> str:
    """'cases: 12.5% quarantined (125 of 1,000 rows; top rules: orphan_surgeon 100, missing_required 25)'."""
    top = ", ".join(f"{rule} {rows:,}" for rule, rows in totals.top_rules())
    return (
        f"{totals.table}: {totals.quarantined_fraction:.1%} quarantined "
        f"({totals.quarantined:,} of {totals.rows_in:,} rows; top rules: {top})"
    )
