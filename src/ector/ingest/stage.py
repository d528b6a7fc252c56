"""The ingest stage: the Gold tables from a database or a folder of Parquet files into ingest/<table>.parquet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ector.contract import TABLE_NAMES
from ector.stage import Option, Stage

if TYPE_CHECKING:
    from ector.runner import StageRun
    from ector.settings import Settings


def _ingest(run: StageRun) -> None:
    """Read the tables of settings.source (or only those of --table) into ingest/<table>.parquet, one at a time."""
    from ector.console import out
    from ector.errors import ConfigError, redact
    from ector.ingest import check_table_names, open_source, plan_ingest, read_table

    tables: list[str] | None = run.options.get("tables") or None
    check_table_names(tables)  # before the source is opened
    settings = run.settings.source
    if not settings.uri:
        raise ConfigError("no source given", "pass --source URI or set source.uri in ector.yaml")
    password = settings.password.get_secret_value() if settings.password else None
    source = open_source(settings.uri, password, settings.schema_, settings.partition_num)
    out.event("reading", stage=run.name, source=source.description)
    plan = plan_ingest(source, run.settings, tables)
    run.partial = bool(tables)
    key = run.settings.privacy.patient_key_bytes()
    with out.progress(run.name, total=len(plan.tables)) as advance:
        for table_plan in plan.tables:
            name = table_plan.table.name
            advance(0, description=f"ingest {name}")
            run.sink({name: read_table(source, table_plan, key)})  # one table at a time: one in memory
            advance(1)
    for name in plan.absent:
        out.event(
            f"optional table {name} not in the source: what needs it will say 'not available'",
            stage=run.name,
            level="warning",
        )
    run.facts["source"] = source.description
    # The URI itself, unless it holds a secret: `ector status` without --source judges ingest against it.
    if redact(settings.uri) == settings.uri and not password:
        run.facts["source_uri"] = settings.uri
    run.facts["absent_tables"] = plan.absent


def source_fingerprint(settings: Settings) -> dict[str, str] | None:
    """The fingerprints of the files behind the source (SQLite, Parquet); None for a database server."""
    from ector.ingest.sources import local_fingerprint

    return local_fingerprint(settings.source.uri) if settings.source.uri else None


STAGE = Stage(
    name="ingest",
    command=("ingest",),
    summary="Read the Gold tables from a database or Parquet folder into <workdir>/ingest/.",
    example="ector ingest --source postgresql://ector@db.example/gold --table cases --table patients",
    sections=("source", "privacy"),
    inputs={},
    outputs=TABLE_NAMES,
    options=(
        Option("source", ("--source", "-s"), "connectorx URI or Parquet folder", setting="source.uri"),
        Option("tables", ("--table", "-t"), "ingest only this canonical table (repeatable)", kind=list[str]),
    ),
    body=_ingest,
    source=source_fingerprint,
)
