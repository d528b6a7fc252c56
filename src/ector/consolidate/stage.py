"""The body of `ector consolidate`: ingest/<table>.parquet -> consolidate/ (clean tables, quarantine, summary).

All outputs are written in one streaming pass; the gate is judged on the staged summary, and raising it (or any
error) before returning means the runner publishes nothing of this run: the previous outputs stay as they were.
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
from ector.consolidate.summary import SCHEMA as SUMMARY_SCHEMA
from ector.consolidate.summary import TableTotals, combine, table_totals
from ector.contract import TABLES
from ector.errors import ConfigError, EctorError, QualityGateError
from ector.pipeline import StageContext
from ector.settings import ConsolidationSettings

if TYPE_CHECKING:
    from rich.table import Table as RichTable

STAGE = "consolidate"
SUMMARY = f"{STAGE}/summary.parquet"
SORT_CLEAN = True  # clean tables sorted by key


def clean_path(table: str) -> str:
    return f"{STAGE}/{table}.parquet"


def quarantine_path(table: str) -> str:
    return f"{STAGE}/quarantine/{table}.parquet"


def consolidate_stage(context: StageContext) -> None:
    """Consolidate the ingested tables into consolidate/; QualityGateError (exit 3) when too much is quarantined.

    One table at a time, parents first, in small passes: the keys that repeat and their rows are collected
    (they are few), then the table streams to its clean file, quarantine and summary, and its children read
    their parent's keys back from the files just staged. Nothing is published until every table is done and
    the gate has passed.
    """
    settings = context.settings.consolidation
    frames, absent = _read_ingested(context)
    check_tables(frames)
    consolidator = Consolidator.from_settings(settings, run_date(settings))
    statuses: dict[str, pl.LazyFrame] = {}
    summary = pl.DataFrame(schema=SUMMARY_SCHEMA)
    with out.progress(STAGE, total=len(frames)) as advance:
        for table in TABLES.values():
            if table.name not in frames:
                continue
            advance(0, description=f"consolidate {table.name}")
            ingested = frames[table.name]
            repeated = context.collect(repeated_keys(ingested, table)).lazy()
            duplicates = context.collect(consolidator.duplicates(table, ingested, repeated)).lazy()
            result = consolidator.table(
                table, ingested, repeated=repeated, duplicates=duplicates, statuses=statuses, sort=False
            )
            clean = result.clean.sort(table.key) if SORT_CLEAN else result.clean
            # The summary file is staged again after each table, holding every table so far.
            staged = context.sink(
                {
                    clean_path(table.name): clean,
                    quarantine_path(table.name): result.quarantine,
                    SUMMARY: combine([summary.lazy(), result.summary]),
                }
            )
            summary = pl.read_parquet(staged[SUMMARY])
            # The quarantine is sorted apart, in memory: sorting it within the pass above would stall the stream.
            quarantine = pl.read_parquet(staged[quarantine_path(table.name)])
            staged |= context.sink({quarantine_path(table.name): ordered(quarantine.lazy(), table)})
            clean_file = pl.scan_parquet(staged[clean_path(table.name)])
            statuses[table.name] = parent_status(clean_file, quarantine.lazy(), table)
            advance(1)

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
