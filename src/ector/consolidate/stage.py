"""The body of `ector consolidate`: ingest/<table>.parquet -> consolidate/ (clean tables, quarantine, summary).

The outputs are staged table by table; the gate is judged on the staged summary, and raising it (or any error)
before returning means the runner publishes nothing of this run: the previous outputs stay as they were.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from ector.console import out
from ector.consolidate.consolidation import consolidate
from ector.consolidate.gate import describe_failure, gate_failures
from ector.consolidate.summary import TableTotals, table_totals
from ector.contract import TABLES
from ector.errors import ConfigError, EctorError, QualityGateError
from ector.pipeline import StageContext, StageOutputs
from ector.settings import ConsolidationSettings

if TYPE_CHECKING:
    from rich.table import Table as RichTable

STAGE = "consolidate"


def consolidate_stage(context: StageContext) -> None:
    """Consolidate the ingested tables into consolidate/; QualityGateError (exit 3) when too much is quarantined.

    `consolidation.consolidate` writes every table's clean rows and quarantine, then the summary, through the
    runner; the gate is judged on the summary before anything is published, so a tripped gate (or any error)
    leaves the previous outputs as they were.
    """
    settings = context.settings.consolidation
    frames, absent = _read_ingested(context)
    spill = int(context.settings.spill_mb * 2**20)
    summary = consolidate(
        frames,
        settings,
        run_date(settings),
        StageOutputs(context),
        spill_bytes=spill,
        chunk_rows=context.settings.chunk_rows,
    )
    totals = table_totals(summary)
    context.facts["tables"] = {name: _facts(t) for name, t in totals.items()}
    context.facts["absent_tables"] = absent
    out.table(reconciliation_table(totals))
    unbalanced = [name for name, t in totals.items() if not t.balanced]
    if unbalanced:  # a bug, never data: every row must be kept, merged or quarantined
        raise EctorError(f"consolidation lost track of rows in {', '.join(unbalanced)}", "please report this bug")
    failures = gate_failures(totals, settings.max_quarantine_fraction)
    if failures:
        raise QualityGateError(
            "consolidation quarantined too many rows, nothing was published: "
            + "; ".join(describe_failure(t) for t in failures),
            f"fix the source, or raise consolidation.max_quarantine_fraction (now {settings.max_quarantine_fraction:g})"
            " to publish the run and inspect consolidate/quarantine/",
        )


def _read_ingested(context: StageContext) -> tuple[dict[str, pl.LazyFrame], list[str]]:
    """The ingested tables present, and the names of the optional tables that were not ingested."""
    frames: dict[str, pl.LazyFrame] = {}
    absent: list[str] = []
    # Mandatory tables first, so a missing ingest says `run ector ingest first` before anything else happens.
    for table in sorted(TABLES.values(), key=lambda t: not t.mandatory):
        relative = f"ingest/{table.name}.parquet"
        if table.mandatory or context.workdir.output(relative).is_file():
            frames[table.name] = context.read(relative, produced_by="ingest")
        else:
            absent.append(table.name)
            out.event(f"optional table {table.name} was not ingested: not consolidated", stage=STAGE, level="debug")
    return frames, [name for name in TABLES if name in absent]


def run_date(settings: ConsolidationSettings) -> date:
    """The date after which a date is in the future: consolidation.run_date, else today."""
    if settings.run_date is None:
        return date.today()
    try:
        return date.fromisoformat(settings.run_date)
    except ValueError:
        raise ConfigError(
            f"invalid setting 'consolidation.run_date': {settings.run_date!r} is not an ISO date",
            "write it as YYYY-MM-DD",
        ) from None


def _facts(totals: TableTotals) -> dict[str, int]:
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
