"""Which tables to read from a source and how, and one table's rows under canonical names and dtypes.

`plan_ingest` decides, per canonical table, where it lives and which of its columns exist; it fails with
exit 3 when a required table or column is missing. `read_table` returns one table's canonical LazyFrame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from ector.contract import TABLES, table
from ector.errors import ConfigError, ContractError
from ector.ingest.canonical import TablePlan, plan_table, to_canonical
from ector.ingest.sources import Source
from ector.privacy import pseudonymised_patient_id
from ector.settings import Settings


@dataclass
class IngestPlan:
    """The tables to read and the optional tables the source does not have."""

    tables: list[TablePlan]
    absent: list[str] = field(default_factory=list)


def check_table_names(names: list[str] | None) -> None:
    """ConfigError (exit 2) naming the first of `names` that is not a canonical table."""
    unknown = [name for name in names or [] if name not in TABLES]
    if unknown:
        raise ConfigError(f"unknown table {unknown[0]!r}", f"canonical tables: {', '.join(TABLES)}")


def plan_ingest(source: Source, settings: Settings, only: list[str] | None = None) -> IngestPlan:
    """Which canonical tables to read from `source` and how; ContractError naming what is missing."""
    wanted = only or list(TABLES)
    check_table_names(wanted)
    plan = IngestPlan(tables=[])
    for name in wanted:
        canonical = table(name)
        mapping = settings.source.table(name)
        source_name = mapping.name or name
        columns = source.columns(source_name)
        if columns is None:
            if canonical.mandatory or only:
                raise ContractError(
                    f"required table {name} not found: looked for {source_name!r} in {source.description}",
                    f"map it with source.tables.{name}.name in ector.yaml",
                )
            plan.absent.append(name)
            continue
        plan.tables.append(plan_table(canonical, mapping, columns))
    return plan


def read_table(source: Source, plan: TablePlan, patient_id_key: bytes | None = None) -> pl.LazyFrame:
    """One table's rows from the source, under canonical names and dtypes.

    With `patient_id_key`, every column holding a patient id (the patients' key and each reference to it)
    is replaced by its keyed pseudonym, the same function everywhere so the references still match.
    """
    key_source = plan.source_columns[plan.table.key]
    frame = to_canonical(source.read(plan.source_name, list(plan.source_columns.values()), key_source), plan)
    if patient_id_key is None:
        return frame
    return frame.with_columns(
        pseudonymised_patient_id(pl.col(column), patient_id_key) for column in patient_id_columns(plan.table.name)
    )


def patient_id_columns(name: str) -> list[str]:
    """The columns of canonical table `name` that hold a patient id."""
    canonical = table(name)
    columns = [canonical.key] if name == "patients" else []
    return columns + [r.column for r in canonical.references if r.parent == "patients"]
