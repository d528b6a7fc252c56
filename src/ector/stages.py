"""The body of each stage: read inputs, call the pure stage function, hand its plans to the runner.

Each body takes the runner's StageContext plus the stage's own options, so `ector <stage>` and `ector all`
run exactly the same code.
"""

from __future__ import annotations

from ector.console import out
from ector.errors import ConfigError
from ector.ingest import open_source, plan_ingest, read_table
from ector.pipeline import StageContext
from ector.privacy import MIN_PATIENT_KEY_LENGTH, PATIENT_KEY_VARIABLE
from ector.settings import Settings


def ingest(context: StageContext, tables: list[str] | None = None) -> None:
    """Read the Gold tables from settings.source into ingest/<table>.parquet."""
    settings = context.settings.source
    if not settings.uri:
        raise ConfigError("no source given", "pass --source URI or set source.uri in ector.yaml")
    patient_key = _patient_id_key(context.settings)
    password = settings.password.get_secret_value() if settings.password else None
    source = open_source(settings.uri, password, settings.schema_, settings.partition_num)
    out.event("reading", stage="ingest", source=source.description)
    plan = plan_ingest(source, context.settings, tables)
    context.partial = bool(tables)
    with out.progress("ingest", total=len(plan.tables)) as advance:
        for table_plan in plan.tables:
            name = table_plan.table.name
            advance(0, description=f"ingest {name}")
            # One table at a time, so only one table is ever held in memory.
            staged = context.sink({f"ingest/{name}.parquet": read_table(source, table_plan, patient_key)})
            out.event("read", stage="ingest", table=name, file=staged[f"ingest/{name}.parquet"].name, level="debug")
            advance(1)
    for name in plan.absent:
        out.event(
            f"optional table {name} not in the source: what needs it will say 'not available'",
            stage="ingest",
            level="warning",
        )
    context.facts["source"] = source.description
    context.facts["absent_tables"] = plan.absent


def _patient_id_key(settings: Settings) -> bytes | None:
    """privacy.patient_id_key as bytes, None when unset; ConfigError when too short to resist guessing."""
    secret = settings.privacy.patient_id_key
    key = secret.get_secret_value() if secret is not None else ""
    if not key:
        return None
    if len(key) < MIN_PATIENT_KEY_LENGTH:
        raise ConfigError(
            f"privacy.patient_id_key is shorter than {MIN_PATIENT_KEY_LENGTH} characters",
            f"set {PATIENT_KEY_VARIABLE} to a longer secret (e.g. `openssl rand -hex 16`)",
        )
    return key.encode("utf-8")
