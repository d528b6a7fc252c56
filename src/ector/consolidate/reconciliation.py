"""What consolidation tells a person and the manifest: per table, rows in, merged, quarantined and out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ector.consolidate.summary import TableTotals

if TYPE_CHECKING:
    from rich.table import Table as RichTable


def table_facts(totals: TableTotals) -> dict[str, int]:
    """The manifest's counts of one table."""
    return {
        "rows_in": totals.rows_in,
        "rows_out": totals.rows_out,
        "duplicates_merged": totals.duplicates_merged,
        "quarantined": totals.quarantined,
        "repaired": sum(totals.repairs.values()),
    }


def reconciliation_table(totals: dict[str, TableTotals]) -> RichTable:
    """A Rich table per table: rows in, merged, quarantined, out, then the repairs and the top quarantine rules."""
    from rich.table import Table

    table = Table(title="consolidation", title_justify="left")
    table.add_column("table")
    for heading in ("rows in", "merged", "quarantined", "rows out"):
        table.add_column(heading, justify="right")
    table.add_column("repaired")
    table.add_column("top quarantine rules")
    for t in totals.values():
        repaired = ", ".join(f"{rule} {rows:,}" for rule, rows in t.repairs.items() if rows) or "-"
        top = ", ".join(f"{rule} {rows:,}" for rule, rows in t.top_rules()) or "-"
        table.add_row(
            t.table,
            f"{t.rows_in:,}",
            f"{t.duplicates_merged:,}",
            f"{t.quarantined:,} ({t.quarantined_fraction:.1%})",
            f"{t.rows_out:,}",
            repaired,
            top,
        )
    return table
