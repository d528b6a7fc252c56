"""What the two reference implementations (DuckDB SQL, pandas) compute, shared so that both do the same work.

The references are written independently of Ector's code: they take only the data contract (table keys,
required columns, references, dtypes) and the default code maps and date formats, which are configuration,
not logic. Scope, per table in dependency order (parents first):
- standardise: keys and references trimmed and upper-cased; coded values and booleans mapped through the code
  maps (an unknown code drops the row); dates and timestamps parsed in the configured formats (an unreadable
  one drops the row); blank text is missing;
- deduplicate by key: the latest `updated_at` wins;
- validate: required values present, no date after the run date, the domain rules of the contract (end before
  start, surgery longer than 24 h, discharge before admission, ASA outside 1-5, negative blood loss, risk outside
  0-1, age outside 0-120), and every required reference to a clean parent row (orphans are dropped);
- transform: the case mart: derived columns, outcome flags, the surgeon's case sequence and the expected risks
  (tests/transform/duckdb_reference.py in SQL; the pandas mart has the columns the aggregations use);
- workflow aggregations: per surgeon and per site, overall and per procedure family, cases and events of every
  outcome; the patient view's cohort cells (cases and events per level of each dimension).
Both write the clean tables, the mart and the aggregates to Parquet, as Ector's stages do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

from ector.consolidate.codes import BOOLEAN, CODE_MAPS, DATE_FORMATS, TIMESTAMP_FORMATS
from ector.contract import TABLES, TIMESTAMP
from ector.settings import AnalysisSettings
from ector.workflows.mart import OUTCOMES

__all__ = ["BOOLEAN", "CODE_MAPS", "DATE_FORMATS", "OUTCOMES", "TIMESTAMP_FORMATS"]

# The patient view's cohort dimensions and the mart column each is read from (period: the default quarter).
DIMENSIONS: Final = {
    "all": None,
    "age_band": "age_band",
    "sex": "sex",
    "asa_class": "asa_class",
    "urgency": "urgency",
    "procedure_family": "procedure_family",
    "approach": "approach",
    "period": "period_quarter",
}
UNITS: Final = {"surgeon": "surgeon_id", "site": "site_id"}
NULL_LEVEL: Final = "<null>"
WINDOW: Final = AnalysisSettings().outcome_window_days
STRATA: Final = tuple(AnalysisSettings().risk_strata)
MAX_AGE_YEARS: Final = 120
MAX_OPERATIVE_HOURS: Final = 24
# The aggregates' long format: one row per (view, unit, scope, scope value, outcome).
AGGREGATE_KEYS: Final = ("view", "unit_id", "scope", "scope_value", "outcome")
# A reference prints this and a JSON object of its steps' seconds on its last line of stderr.
STEPS_MARK: Final = "reference steps:"


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: str
    keys: tuple[str, ...]  # the key and every reference column: trimmed, upper-cased
    codes: tuple[str, ...]  # columns mapped through CODE_MAPS
    booleans: tuple[str, ...]
    dates: tuple[str, ...]
    timestamps: tuple[str, ...]
    texts: tuple[str, ...]  # free text: blank is missing
    required: tuple[str, ...]
    parents: tuple[tuple[str, str], ...]  # (column, parent table) of the required references
    dtypes: dict[str, pl.DataType]


def table_specs() -> list[TableSpec]:
    """One spec per canonical table, parents before children."""
    specs = []
    for table in TABLES.values():
        refs = {r.column for r in table.references}
        keys = tuple(c.name for c in table.columns if c.name == table.key or c.name in refs)
        codes = tuple(c.name for c in table.columns if c.codes is not None and c.name not in keys)
        other = [c for c in table.columns if c.name not in keys and c.name not in codes]
        specs.append(
            TableSpec(
                name=table.name,
                key=table.key,
                keys=keys,
                codes=codes,
                booleans=tuple(c.name for c in other if c.dtype == pl.Boolean()),
                dates=tuple(c.name for c in other if c.dtype == pl.Date()),
                timestamps=tuple(c.name for c in other if c.dtype == TIMESTAMP),
                texts=tuple(c.name for c in other if c.dtype == pl.String()),
                required=tuple(table.required_columns),
                parents=tuple((r.column, r.parent) for r in table.references if r.required),
                dtypes={c.name: c.dtype for c in table.columns},
            )
        )
    return specs
