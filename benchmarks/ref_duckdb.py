"""The DuckDB SQL reference: consolidate + transform + workflow aggregations of an ingest folder (see ref_spec).

    python benchmarks/ref_duckdb.py INGEST_DIR OUT_DIR --run-date 2026-11-26 [--memory-limit 6GB]

Writes OUT_DIR/<table>.parquet (clean), OUT_DIR/mart.parquet and OUT_DIR/aggregates.parquet.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from tests.transform.duckdb_reference import reference_sql

from ref_spec import (
    BOOLEAN,
    CODE_MAPS,
    DATE_FORMATS,
    DIMENSIONS,
    MAX_AGE_YEARS,
    MAX_OPERATIVE_HOURS,
    NULL_LEVEL,
    OUTCOMES,
    STEPS_MARK,
    STRATA,
    TIMESTAMP_FORMATS,
    UNITS,
    WINDOW,
    TableSpec,
    table_specs,
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _mapped(column: str, mapping: dict[str, str]) -> str:
    cases = " ".join(f"WHEN {_quote(k)} THEN {_quote(v)}" for k, v in mapping.items())
    return f"(CASE lower(trim({column})) {cases} END)"


def _parsed(column: str, formats: tuple[str, ...], target: str) -> str:
    # DuckDB spells Polars' optional fraction `%.f` as `.%f`.
    listed = ", ".join(_quote(f.replace("%.f", ".%f")) for f in formats)
    return f"CAST(try_strptime(trim({column}), [{listed}]) AS {target})"


def _domain(spec: TableSpec, run_date: date) -> list[str]:
    """Broken-row conditions of the contract's domain rules, on standardised columns."""
    if spec.name == "cases":
        return [
            "surgery_end < surgery_start",
            f"surgery_end - surgery_start > INTERVAL {MAX_OPERATIVE_HOURS} HOUR",
            "discharge_date < admission_date",
            "asa_class NOT BETWEEN 1 AND 5",
            "blood_loss_ml < 0",
            "predicted_mortality NOT BETWEEN 0 AND 1",
        ]
    if spec.name == "encounters":
        return ["discharge_date < admission_date"]
    if spec.name == "patients":
        day = f"DATE {_quote(run_date.isoformat())}"
        return [f"birth_date <= {day} - INTERVAL {MAX_AGE_YEARS + 1} YEAR", f"birth_date > {day}"]
    return []


def consolidate_sql(spec: TableSpec, ingest: Path, run_date: date) -> str:
    """One CREATE TABLE <name> of the clean rows of one table (its parents must exist already)."""
    path = ingest / f"{spec.name}.parquet"
    text = {f.name for f in pq.read_schema(path) if str(f.type) in ("string", "large_string")}
    values: list[str] = []
    broken: list[str] = []  # conditions on the ingested columns (prefixed r.) that drop a row
    for name, dtype in spec.dtypes.items():
        raw = f"r.{name}"
        if name not in text:
            values.append(f"CAST({raw} AS {_sql_type(dtype)}) AS {name}")
            continue
        present = f"trim({raw}) <> ''"
        if name in spec.keys:
            values.append(f"NULLIF(upper(trim({raw})), '') AS {name}")
        elif name in spec.codes:
            values.append(f"{_mapped(raw, CODE_MAPS[name])} AS {name}")
            broken.append(f"({present} AND {_mapped(raw, CODE_MAPS[name])} IS NULL)")
        elif name in spec.booleans:
            values.append(f"{_mapped(raw, BOOLEAN)} = 'true' AS {name}")
            broken.append(f"({present} AND {_mapped(raw, BOOLEAN)} IS NULL)")
        elif name in spec.dates or name in spec.timestamps:
            formats, target = (DATE_FORMATS, "DATE") if name in spec.dates else (TIMESTAMP_FORMATS, "TIMESTAMP")
            values.append(f"CASE WHEN {present} THEN {_parsed(raw, formats, target)} END AS {name}")
            broken.append(f"({present} AND {_parsed(raw, formats, target)} IS NULL)")
        elif name in spec.texts:
            values.append(f"CASE WHEN {present} THEN {raw} END AS {name}")
        else:
            values.append(f"TRY_CAST(trim({raw}) AS {_sql_type(dtype)}) AS {name}")
    day = _quote(run_date.isoformat())
    invalid = [f"{c} IS NULL" for c in spec.required]
    invalid += [f"{c} > DATE {day}" for c in spec.dates]
    invalid += [f"{c} >= DATE {day} + INTERVAL 1 DAY" for c in spec.timestamps]
    invalid += _domain(spec, run_date)
    invalid += [f"{c} NOT IN (SELECT {_key(parent)} FROM {parent})" for c, parent in spec.parents]
    invalid = [f"COALESCE({condition}, FALSE)" for condition in invalid]
    # Three-valued logic: a condition on a null value is unknown, which must not drop the row.
    flag = " OR ".join(f"COALESCE({b}, FALSE)" for b in broken) or "FALSE"
    return f"""
CREATE TABLE {spec.name} AS
WITH standardised AS (
    SELECT {", ".join(values)}, {flag} AS __unreadable FROM read_parquet({_quote(path.as_posix())}) r
),
latest AS (
    SELECT * FROM standardised
    QUALIFY {spec.key} IS NULL OR row_number() OVER (PARTITION BY {spec.key} ORDER BY updated_at DESC NULLS LAST) = 1
)
SELECT {", ".join(spec.dtypes)} FROM latest
WHERE NOT (__unreadable OR {" OR ".join(invalid)})
"""


_KEYS = {spec.name: spec.key for spec in table_specs()}


def _key(table: str) -> str:
    return _KEYS[table]


def _sql_type(dtype: object) -> str:
    return {
        "Int8": "TINYINT",
        "Int16": "SMALLINT",
        "Int32": "INTEGER",
        "Int64": "BIGINT",
        "Float64": "DOUBLE",
        "Boolean": "BOOLEAN",
        "Date": "DATE",
        "String": "VARCHAR",
    }.get(str(dtype), "TIMESTAMP")


def aggregates_sql() -> str:
    """The workflow aggregations of table `mart`, in the long format of ref_spec.AGGREGATE_KEYS."""
    flags = ", ".join(f"CAST({o} AS INTEGER) AS {o}" for o in OUTCOMES)
    long = (
        f"UNPIVOT (SELECT surgeon_id, site_id, procedure_family, {flags} FROM mart) "
        f"ON {', '.join(OUTCOMES)} INTO NAME outcome VALUE v"
    )
    parts = []
    for view, column in UNITS.items():
        parts.append(f"""
SELECT '{view}' AS view, {column} AS unit_id,
    CASE WHEN GROUPING(procedure_family) = 1 THEN 'overall' ELSE 'family' END AS scope,
    COALESCE(procedure_family, 'all') AS scope_value, outcome, COUNT(*) AS cases, SUM(v) AS events
FROM long GROUP BY GROUPING SETS (({column}, outcome), ({column}, procedure_family, outcome))""")
    for dimension, column in DIMENSIONS.items():
        level = "'all'" if column is None else f"COALESCE(CAST({column} AS VARCHAR), '{NULL_LEVEL}')"
        known = ", ".join(f"COUNT({o}) AS {o}__cases, SUM(CAST({o} AS INTEGER)) AS {o}__events" for o in OUTCOMES)
        parts.append(f"""
SELECT 'patient' AS view, '{dimension}' AS unit_id, 'cohort' AS scope, level AS scope_value, outcome,
    cases, events
FROM (SELECT {level} AS level, COUNT(*) AS all__cases, 0 AS all__events, {known} FROM mart GROUP BY 1)
UNPIVOT ((cases, events) FOR outcome IN (
    (all__cases, all__events) AS '__cases',
    {", ".join(f"({o}__cases, {o}__events) AS '{o}'" for o in OUTCOMES)}))""")
    parts.append(
        " UNION ALL ".join(
            f"SELECT 'clean', '{s.name}', 'table', 'all', 'rows', COUNT(*), 0 FROM {s.name}" for s in table_specs()
        )
    )
    body = "\nUNION ALL\n".join(parts)
    counts = "CAST(cases AS BIGINT) AS cases, CAST(COALESCE(events, 0) AS BIGINT) AS events"
    return f"WITH long AS ({long})\nSELECT view, unit_id, scope, scope_value, outcome, {counts} FROM ({body})"


def run(ingest: Path, out: Path, run_date: date, memory_limit: str | None) -> dict[str, float]:
    """Write the clean tables, the mart and the aggregates to `out`; the seconds of each step."""
    out.mkdir(parents=True, exist_ok=True)
    steps: dict[str, float] = {}
    with duckdb.connect() as db:
        if memory_limit:
            db.execute(f"SET memory_limit = {_quote(memory_limit)}")
        db.execute("SET preserve_insertion_order = false")
        start = time.perf_counter()
        for spec in table_specs():
            db.execute(consolidate_sql(spec, ingest, run_date))
            db.execute(f"COPY {spec.name} TO {_quote((out / f'{spec.name}.parquet').as_posix())} (FORMAT parquet)")
        steps["consolidate"] = time.perf_counter() - start
        start = time.perf_counter()
        db.execute(f"CREATE TABLE mart AS {reference_sql(WINDOW, STRATA)}")
        db.execute(f"COPY mart TO {_quote((out / 'mart.parquet').as_posix())} (FORMAT parquet)")
        steps["transform"] = time.perf_counter() - start
        start = time.perf_counter()
        target = _quote((out / "aggregates.parquet").as_posix())
        db.execute(f"COPY ({aggregates_sql()}) TO {target} (FORMAT parquet)")
        steps["workflows"] = time.perf_counter() - start
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ingest", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--run-date", type=date.fromisoformat, default=date.today())
    parser.add_argument("--memory-limit", help="DuckDB memory_limit, e.g. 6GB (default: DuckDB's own)")
    args = parser.parse_args()
    steps = run(args.ingest, args.out, args.run_date, args.memory_limit)
    print(f"{STEPS_MARK} {json.dumps(steps)}", file=sys.stderr)


if __name__ == "__main__":
    main()
