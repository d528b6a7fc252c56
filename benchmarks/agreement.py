"""Do a reference and Ector agree? Ector's outputs in the references' long format, and the comparison.

Compared: the clean rows of every table; per surgeon and per site (overall and per procedure family) the cases
and events of every outcome; the patient view's cohort cells. Equal counts mean equal rates.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ref_spec import AGGREGATE_KEYS, DIMENSIONS, NULL_LEVEL, OUTCOMES, UNITS, table_specs

_COUNTS = {"cases": pl.Int64, "events": pl.Int64}


def ector_aggregates(workdir: Path) -> pl.DataFrame:
    """Ector's consolidate and workflow outputs in `workdir`, as the long aggregates of ref_spec."""
    clean = pl.DataFrame(
        {
            "view": "clean",
            "unit_id": [s.name for s in table_specs()],
            "scope": "table",
            "scope_value": "all",
            "outcome": "rows",
            "cases": [
                pl.scan_parquet(workdir / "consolidate" / f"{s.name}.parquet").select(pl.len()).collect().item()
                for s in table_specs()
            ],
            "events": 0,
        },
        schema_overrides=_COUNTS,
    )
    units = [
        pl.read_parquet(workdir / "workflow" / view / "outcomes.parquet")
        .filter(pl.col("scope").is_in(["overall", "family"]))
        .select(pl.lit(view).alias("view"), "unit_id", "scope", "scope_value", "outcome", "cases", "events")
        for view in UNITS
    ]
    summary = pl.read_parquet(workdir / "workflow" / "patient" / "summary.parquet").filter(
        pl.col("dimension").is_in(list(DIMENSIONS))
    )
    cohort = [
        summary.select(
            pl.lit("patient").alias("view"),
            pl.col("dimension").alias("unit_id"),
            pl.lit("cohort").alias("scope"),
            pl.col("level").cast(pl.String).fill_null(NULL_LEVEL).alias("scope_value"),
            pl.lit(outcome).alias("outcome"),
            pl.col(f"{outcome}_cases" if outcome != "__cases" else "cases").alias("cases"),
            (pl.col(f"{outcome}_events") if outcome != "__cases" else pl.lit(0)).alias("events"),
        )
        for outcome in ("__cases", *OUTCOMES)
    ]
    frames = [clean, *units, *cohort]
    return pl.concat([f.with_columns(pl.col(c).cast(t) for c, t in _COUNTS.items()) for f in frames])


def disagreements(ours: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    """The rows whose cases or events differ (a row missing on one side counts as 0 cases, 0 events)."""
    keys = list(AGGREGATE_KEYS)
    ref = reference.select(*keys, pl.col("cases").cast(pl.Int64), pl.col("events").cast(pl.Int64))
    joined = ours.join(ref, on=keys, how="full", coalesce=True, suffix="_reference").with_columns(
        pl.col(c).fill_null(0) for c in ("cases", "events", "cases_reference", "events_reference")
    )
    differs = (pl.col("cases") != pl.col("cases_reference")) | (pl.col("events") != pl.col("events_reference"))
    return joined.filter(differs).sort(keys)


def check(name: str, workdir: Path, aggregates: Path) -> bool:
    """Print whether the reference's `aggregates` agree with Ector's outputs in `workdir`; True when they do."""
    ours = ector_aggregates(workdir)
    diff = disagreements(ours, pl.read_parquet(aggregates))
    if diff.is_empty():
        clean_cases = ours.filter((pl.col("view") == "clean") & (pl.col("unit_id") == "cases"))["cases"].item()
        print(f"agreement: {name} and Ector agree on {ours.height:,} counts ({clean_cases:,} clean cases)")
        return True
    print(f"agreement: {name} DISAGREES with Ector on {diff.height:,} of {ours.height:,} counts, e.g.:")
    with pl.Config(tbl_rows=12, tbl_cols=12, tbl_width_chars=160):
        print(diff.head(12))
    return False
