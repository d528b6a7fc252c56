"""The body of `ector consolidate`: ingest/<table>.parquet -> consolidate/ (clean tables, quarantine, summary).

The outputs are staged table by table; the gate is judged on the staged summary, and raising it (or any error)
before returning means the runner publishes nothing of this run: the previous outputs stay as they were.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from ector.console import out
from ector.consolidate.consolidation import Consolidator, check_tables
from ector.consolidate.deduplicate import repeated_keys
from ector.consolidate.gate import describe_failure, gate_failures
from ector.consolidate.integrity import parent_status
from ector.consolidate.quarantine import ordered
from ector.consolidate.summary import TableTotals, combine, table_totals
from ector.contract import TABLES, Table
from ector.engine import spill_budget
from ector.errors import ConfigError, EctorError, QualityGateError
from ector.pipeline import StageContext
from ector.settings import ConsolidationSettings

if TYPE_CHECKING:
    from rich.table import Table as RichTable

STAGE = "consolidate"
SUMMARY = f"{STAGE}/summary.parquet"
# The clean tables are written sorted by key, so that the same input always gives the same files (`ector all`
# and the single commands must agree). The price is memory: a sort holds the table, unless it spills. Under the
# `spill_mb` budget (default 512) it spills to disk: measured at 10M cases, see docs/performance.md. Keeping
# the row order of the input instead (order-preserving joins) cost more time and as much memory as the sort.


def clean_path(table: str) -> str:
    return f"{STAGE}/{table}.parquet"


def quarantine_path(table: str) -> str:
    return f"{STAGE}/quarantine/{table}.parquet"


def consolidate_stage(context: StageContext) -> None:
    """Consolidate the ingested tables into consolidate/; QualityGateError (exit 3) when too much is quarantined.

    One table at a time, parents first, in passes that each feed one output: the keys that repeat and their rows
    are collected (they are few); the clean rows stream to their file; the quarantine is collected (it is
    small), sorted and written; the summary is counted from those outputs; the keys and quarantine flags are
    kept in memory for the children's reference checks. Polars' streaming engine runs one memory-hungry
    operation at a time and buffers a stream that feeds outputs at different paces, so one plan writing
    everything at once holds whole tables in memory (10M cases, spilling on: 4.5 GB against 1.4 GB). Nothing
    is published until every table is done and the gate has passed. Polars spills what it holds beyond the
    `spill_mb` setting to disk (the key sorts, mostly), for this stage only.
    """
    with spill_budget(context.settings.spill_mb or None):
        _consolidate(context)


def _consolidate(context: StageContext) -> None:
    settings = context.settings.consolidation
    frames, absent = _read_ingested(context)
    check_tables(frames)
    consolidator = Consolidator.from_settings(settings, run_date(settings))
    statuses: dict[str, pl.LazyFrame] = {}
    summaries: list[pl.LazyFrame] = []
    with out.progress(STAGE, total=len(frames)) as advance:
        for table in TABLES.values():
            if table.name not in frames:
                continue
            advance(0, description=f"consolidate {table.name}")
            ingested = frames[table.name]
            repeated = context.collect(repeated_keys(ingested, table)).lazy()
            duplicates = context.collect(consolidator.duplicates(table, ingested, repeated)).lazy()
            # A plan that each pass below parses again: at 1M cases parsing took 4.4 CPU s, writing the parsed
            # table to a scratch file for the passes to read 5.8-9.3 s (uncompressed-zstd), so recomputing wins.
            standardised = consolidator.standardise(table, ingested)
            result = consolidator.table(
                table, standardised, repeated=repeated, duplicates=duplicates, statuses=statuses, sort=False
            )
            staged = context.sink({clean_path(table.name): result.clean.sort(table.key)})
            clean = pl.scan_parquet(staged[clean_path(table.name)])
            # A pass of its own, though it recomputes the table: sharing the stream with the clean rows' sink would
            # make Polars buffer the whole table. The quarantine is small: collected, sorted and written.
            quarantine = context.collect(result.quarantine).lazy()
            context.sink({quarantine_path(table.name): ordered(quarantine, table)})
            summary = consolidator.summary(
                table, standardised, duplicates=duplicates, clean=clean, quarantine=quarantine, statuses=statuses
            )
            summaries.append(context.collect(summary).lazy())
            statuses[table.name] = context.collect(parent_status(clean, quarantine, table)).lazy()
            statuses = {name: status for name, status in statuses.items() if _still_referenced(name, table, frames)}
            advance(1)
    staged = context.sink({SUMMARY: combine(summaries)})

    totals = table_totals(pl.read_parquet(staged[SUMMARY]))
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


def _still_referenced(parent: str, done: Table, frames: dict[str, pl.LazyFrame]) -> bool:
    """Whether a table after `done` (in contract order, and present) refers to `parent`."""
    later = list(TABLES)[list(TABLES).index(done.name) + 1 :]
    return any(r.parent == parent for name in later if name in frames for r in TABLES[name].references)


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
