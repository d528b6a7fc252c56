"""The Data quality section's tables, from consolidate/summary.parquet and the manifest, disclosure applied.

The summary is long (`table, kind, rule, column, rows`, see `ector.consolidate.summary`): per table the totals
(rows_in = rows_out + duplicates_merged + quarantined), repairs, merges and quarantine by rule, and notes
(missing_optional per column).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import polars as pl

from ector.report.disclosure import Disclosure, suppress_counts

# The summary's vocabulary (ector.consolidate.summary and .rules), spelled out rather than imported: importing
# ector.consolidate runs the whole consolidation package, and the report only reads the file it wrote.
REPAIR, MERGE, QUARANTINE, NOTE = "repair", "merge", "quarantine", "note"
ROWS_IN, DUPLICATES_MERGED, QUARANTINED, ROWS_OUT = "rows_in", "duplicates_merged", "quarantined", "rows_out"
MISSING_OPTIONAL: Final = "missing_optional"

KIND_LABELS: Final = {REPAIR: "repaired", MERGE: "merged", QUARANTINE: "quarantined"}


def reconciliation_table(
    summary: pl.DataFrame | None, manifest: Mapping[str, Any], disclosure: Disclosure
) -> pl.DataFrame | None:
    """Return rows through each stage per table: `table, ingested, duplicates_merged, quarantined,
    consolidated, in_case_mart`; from the summary's totals, else from the manifest's row counts; None without both.

    External: the parts of a table's ingested rows (merged, quarantined, kept) are one line, its total published.
    """
    mart_rows = _output_rows(manifest, "transform", "transform/cases.parquet")
    if summary is not None and summary.height:
        wide = (
            summary.filter(pl.col("kind") == "total")
            .pivot(on="rule", index="table", values="rows", aggregate_function="first")
            .select(
                "table",
                pl.col(ROWS_IN).alias("ingested"),
                pl.col(DUPLICATES_MERGED).alias("duplicates_merged"),
                pl.col(QUARANTINED).alias("quarantined"),
                pl.col(ROWS_OUT).alias("consolidated"),
            )
        )
    else:
        stages = manifest.get("stages", {})
        tables = sorted(
            rel.split("/")[-1].removesuffix(".parquet") for rel in stages.get("ingest", {}).get("outputs", {})
        )
        if not tables:
            return None
        wide = pl.DataFrame(
            {
                "table": tables,
                "ingested": [_output_rows(manifest, "ingest", f"ingest/{t}.parquet") for t in tables],
                "duplicates_merged": [None for _ in tables],
                "quarantined": [
                    _output_rows(manifest, "consolidate", f"consolidate/quarantine/{t}.parquet") for t in tables
                ],
                "consolidated": [_output_rows(manifest, "consolidate", f"consolidate/{t}.parquet") for t in tables],
            },
            schema={
                "table": pl.String,
                **{c: pl.Int64 for c in ("ingested", "duplicates_merged", "quarantined", "consolidated")},
            },
        )
    wide = wide.with_columns(in_case_mart=pl.when(pl.col("table") == "cases").then(pl.lit(mart_rows, dtype=pl.Int64)))
    if not disclosure.external:
        return wide
    # The parts of a table's ingested rows add up to it: each table's row is one line.
    return suppress_across(wide, "table", _COUNTS, disclosure.min_cell_size)


_COUNTS: Final = ("ingested", "duplicates_merged", "quarantined", "consolidated", "in_case_mart")


def suppress_across(frame: pl.DataFrame, index: str, columns: tuple[str, ...], k: int) -> pl.DataFrame:
    """Return `frame` with the counts of each row withheld as one line (cells of a row add up to one another)."""
    long = frame.unpivot(index=index, on=list(columns), variable_name="__part", value_name="__rows")
    long = suppress_counts(long, ["__rows"], k, lines=[[index]])
    values = long.pivot(on="__part", index=index, values="__rows", aggregate_function="first")
    flags = long.pivot(on="__part", index=index, values="__rows__withheld", aggregate_function="first").rename(
        {c: f"{c}__withheld" for c in columns}
    )
    return (
        frame.select(index)
        .join(values, on=index, how="left")
        .join(flags, on=index, how="left")
        .select(index, *columns, *(f"{c}__withheld" for c in columns))
    )


def rules_table(summary: pl.DataFrame, disclosure: Disclosure) -> pl.DataFrame:
    """Return `table, action, rule, rows` for every repair, merge and quarantine rule that touched a row."""
    frame = summary.filter(pl.col("kind").is_in(list(KIND_LABELS)) & (pl.col("rows") > 0)).select(
        "table",
        action=pl.col("kind").replace_strict(KIND_LABELS, return_dtype=pl.String),
        rule=pl.col("rule").str.replace_all("_", " "),
        rows=pl.col("rows"),
    )
    if not disclosure.external:
        return frame
    # A table's quarantine rules relate to its published quarantined total: one line per table and action.
    return suppress_counts(frame, ["rows"], disclosure.min_cell_size, lines=[["table", "action"]])


def missing_table(summary: pl.DataFrame, disclosure: Disclosure) -> pl.DataFrame:
    """Return `table, column, missing, rows, missing_percent`: nulls kept in optional columns of consolidated rows.

    External: without `rows` (see below).
    """
    kept = summary.filter((pl.col("kind") == "total") & (pl.col("rule") == ROWS_OUT)).select(
        "table", pl.col("rows").alias("kept")
    )
    frame = (
        summary.filter((pl.col("kind") == NOTE) & (pl.col("rule") == MISSING_OPTIONAL))
        .join(kept, on="table", how="left")
        .select(
            "table",
            "column",
            missing=pl.col("rows"),
            rows=pl.col("kept"),
            missing_percent=pl.when(pl.col("kept") > 0).then(100 * pl.col("rows") / pl.col("kept")),
        )
    )
    if not disclosure.external:
        return frame
    # The table's row count is the reconciliation table's `consolidated`, withheld there by its own line:
    # repeating it here could undo that, so the external table shows the percentage only.
    return suppress_counts(
        frame, ["missing"], disclosure.min_cell_size, lines=[["table"]], dependents={"missing": ["missing_percent"]}
    ).drop("rows")


def _output_rows(manifest: Mapping[str, Any], stage: str, relative: str) -> int | None:
    entry = manifest.get("stages", {}).get(stage, {}).get("outputs", {}).get(relative)
    return int(entry["rows"]) if isinstance(entry, dict) and "rows" in entry else None
