"""The body of each stage: read inputs, call the pure stage function, hand its plans to the runner.

Each body takes the runner's StageContext plus the stage's own options, so `ector <stage>` and `ector all`
run exactly the same code.
"""

from __future__ import annotations

from ector.console import out
from ector.errors import ConfigError
from ector.ingest import open_source, plan_ingest, read_table
from ector.pipeline import StageContext


def ingest(context: StageContext, tables: list[str] | None = None) -> None:
    """Read the Gold tables from settings.source into ingest/<table>.parquet."""
    settings = context.settings.source
    if not settings.uri:
        raise ConfigError("no source given", "pass --source URI or set source.uri in ector.yaml")
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
            staged = context.sink({f"ingest/{name}.parquet": read_table(source, table_plan)})
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
