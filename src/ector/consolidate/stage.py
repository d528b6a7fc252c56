"""The consolidate stage: ingest/<table>.parquet -> consolidate/ (clean tables, quarantine, summary).

`consolidation.consolidate` writes every table's clean rows and quarantine, then the summary, through the
runner; the gate is judged on the summary before anything is published, so a tripped gate (or any error)
leaves the previous outputs as they were.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ector.contract import TABLES
from ector.ingest.stage import STAGE as INGEST
from ector.stage import Input, Stage

if TYPE_CHECKING:
    from ector.runner import StageRun


def _consolidate(run: StageRun) -> None:
    """Consolidate the ingested tables into consolidate/; QualityGateError (exit 3) when too much is quarantined."""
    from ector.console import out
    from ector.consolidate.consolidation import consolidate
    from ector.consolidate.gate import describe_failure, gate_failures
    from ector.consolidate.reconciliation import reconciliation_table, table_facts
    from ector.consolidate.summary import table_totals
    from ector.errors import EctorError, QualityGateError

    # Mandatory tables first, so a missing ingest says `run ector ingest first` before anything else happens.
    ordered = sorted(TABLES.values(), key=lambda t: not t.mandatory)
    frames = {t.name: run.read(t.name) for t in ordered if t.mandatory or run.has(t.name)}
    settings = run.settings.consolidation
    spill = int(run.settings.spill_mb * 2**20)
    summary = consolidate(
        frames, settings, settings.today(), run.outputs, spill_bytes=spill, chunk_rows=run.settings.chunk_rows
    )
    totals = table_totals(summary)
    run.facts["tables"] = {name: table_facts(t) for name, t in totals.items()}
    run.facts["absent_tables"] = [name for name in TABLES if name not in frames]
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


STAGE = Stage(
    name="consolidate",
    command=("consolidate",),
    summary="Clean, deduplicate and validate the ingested tables; quarantine what cannot be repaired.",
    example="ector consolidate && ector show consolidate/summary",
    sections=("consolidation",),
    inputs={t.name: Input(INGEST.output(t.name), INGEST.name, optional=not t.mandatory) for t in TABLES.values()},
    outputs=(*TABLES, *(f"quarantine/{name}" for name in TABLES), "summary"),
    body=_consolidate,
)
