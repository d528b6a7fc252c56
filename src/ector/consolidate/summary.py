"""The consolidation summary: per table, every count that accounts for its rows, in one long table.

Shape (consolidate/summary.parquet), one row per table, kind, rule and column:

| column | dtype  | meaning |
|--------|--------|---------|
| table  | String | canonical table |
| kind   | String | `total`, `repair`, `merge`, `quarantine` or `note` |
| rule   | String | `total`: rows_in, duplicates_merged, quarantined, rows_out; otherwise a rule of `rules` |
| column | String | the column a `note` counts (missing_optional, dangling_optional_reference); else null |
| rows   | Int64  | the number of rows |

- `total`: rows_in = rows_out + duplicates_merged + quarantined, exactly, for every table.
- `repair`: ingested rows that rule repaired (a row counts once per rule however many of its columns it fixed),
  whether the row was then kept, merged away or quarantined.
- `merge`: rows folded into another row of the same key; duplicate_exact + duplicate_resent = duplicates_merged.
- `quarantine`: quarantined rows that broke the rule. A row breaking several rules counts under each, so these
  may add up to more than `quarantined`. Every rule checked on the table is listed, with 0 when nothing broke it.
- `note`: clean rows kept as they are: missing_optional (null in that optional column, never imputed) and
  dangling_optional_reference (an optional reference to a parent row that is absent or quarantined).
Rows are sorted by table (contract order), kind, rule and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import polars as pl

from ector.consolidate import rules
from ector.consolidate.columns import reference_name, repair_name
from ector.consolidate.quarantine import broken
from ector.consolidate.validate import Evaluation
from ector.contract import TABLE_NAMES, Table

TOTAL, REPAIR, MERGE, QUARANTINE, NOTE = "total", "repair", "merge", "quarantine", "note"
KINDS: Final = (TOTAL, REPAIR, MERGE, QUARANTINE, NOTE)
ROWS_IN, DUPLICATES_MERGED, QUARANTINED, ROWS_OUT = "rows_in", "duplicates_merged", "quarantined", "rows_out"
TOTALS: Final = (ROWS_IN, DUPLICATES_MERGED, QUARANTINED, ROWS_OUT)

SCHEMA: Final = pl.Schema(
    {"table": pl.String(), "kind": pl.String(), "rule": pl.String(), "column": pl.String(), "rows": pl.Int64()}
)
_SEPARATOR: Final = "|"


def _label(kind: str, rule: str, column: str | None = None) -> str:
    return _SEPARATOR.join((kind, rule, column or ""))


def _count(expression: pl.Expr, kind: str, rule: str, column: str | None = None) -> pl.Expr:
    return expression.cast(pl.Int64).alias(_label(kind, rule, column))


def table_summary(
    table: Table,
    *,
    ingested: pl.LazyFrame,
    merges: pl.LazyFrame,
    checked: pl.LazyFrame,
    evaluation: Evaluation,
    checked_parents: set[str],
) -> pl.LazyFrame:
    """The summary rows of one table (see the module docstring for the shape).

    `ingested` is the table as it came in, `merges` the deduplication counts, `checked` the deduplicated rows
    with their repair flags, `evaluation` the valid and failed rows.
    """
    rows_in = ingested.select(_count(pl.len(), TOTAL, ROWS_IN))
    kept_repairs = checked.select(pl.col(repair_name(rule)).sum().alias(rule) for rule in rules.REPAIRS)
    merge_counts = merges.select(
        *(_count(pl.col(rule), MERGE, rule) for rule in rules.MERGES),
        _count(pl.sum_horizontal(rules.MERGES), TOTAL, DUPLICATES_MERGED),
        *(pl.col(repair_name(rule)).alias(f"merged {rule}") for rule in rules.REPAIRS),
    )
    optional = [c.name for c in table.columns if not c.required]
    dangling = [r.column for r in table.references if not r.required and r.parent in checked_parents]
    kept = evaluation.valid.select(
        _count(pl.len(), TOTAL, ROWS_OUT),
        *(_count(pl.col(c).is_null().sum(), NOTE, rules.MISSING_OPTIONAL, c) for c in optional),
        *(
            _count(pl.col(reference_name(c)).is_not_null().sum(), NOTE, rules.DANGLING_OPTIONAL_REFERENCE, c)
            for c in dangling
        ),
    )
    by_rule: dict[str, list[str]] = {rule: [] for rule in evaluation.rules}
    for rule_column, check in evaluation.checks.items():
        by_rule[check.rule].append(rule_column)
    quarantined = evaluation.failed.select(
        _count(pl.len(), TOTAL, QUARANTINED),
        *(
            _count(pl.any_horizontal(broken(c) for c in columns).sum(), QUARANTINE, rule)
            for rule, columns in by_rule.items()
        ),
    )
    wide = pl.concat([rows_in, merge_counts, kept_repairs, kept, quarantined], how="horizontal").select(
        pl.exclude(*rules.REPAIRS, *(f"merged {rule}" for rule in rules.REPAIRS)),
        *(_count(pl.col(rule) + pl.col(f"merged {rule}"), REPAIR, rule) for rule in rules.REPAIRS),
    )
    return (
        wide.unpivot(variable_name="label", value_name="rows")
        .with_columns(pl.col("label").str.split_exact(_SEPARATOR, 2).struct.rename_fields(["kind", "rule", "column"]))
        .unnest("label")
        .select(
            pl.lit(table.name).alias("table"),
            "kind",
            "rule",
            pl.when(pl.col("column") != "").then(pl.col("column")).alias("column"),
            pl.col("rows").cast(pl.Int64),
        )
    )


def combine(summaries: list[pl.LazyFrame]) -> pl.LazyFrame:
    """The summaries of several tables as one, sorted by table (contract order), kind, rule and column."""
    if not summaries:
        return pl.LazyFrame(schema=SCHEMA)
    rule_order = [*TOTALS, *rules.REPAIRS, *rules.MERGES]
    return (
        pl.concat(summaries, how="vertical")
        .sort(
            pl.col("table").replace_strict(TABLE_NAMES, list(range(len(TABLE_NAMES))), return_dtype=pl.Int32),
            pl.col("kind").replace_strict(KINDS, list(range(len(KINDS))), return_dtype=pl.Int32),
            pl.col("rule").replace_strict(rule_order, list(range(len(rule_order))), default=len(rule_order)),
            "rule",
            "column",
            nulls_last=False,
        )
        .select(SCHEMA.names())
    )


@dataclass(frozen=True)
class TableTotals:
    """The reconciliation of one table, read back from a collected summary."""

    table: str
    rows_in: int
    rows_out: int
    duplicates_merged: int
    quarantined: int
    repairs: dict[str, int] = field(default_factory=dict)
    merges: dict[str, int] = field(default_factory=dict)
    quarantine_by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        """Whether rows in = rows out + duplicates merged + rows quarantined."""
        return self.rows_in == self.rows_out + self.duplicates_merged + self.quarantined

    @property
    def quarantined_fraction(self) -> float:
        """The share of ingested rows quarantined (0 for an empty table)."""
        return self.quarantined / self.rows_in if self.rows_in else 0.0

    def top_rules(self, n: int = 3) -> list[tuple[str, int]]:
        """The n quarantine rules that caught most rows, most first (ties by name)."""
        caught = [(rule, rows) for rule, rows in self.quarantine_by_rule.items() if rows > 0]
        return sorted(caught, key=lambda item: (-item[1], item[0]))[:n]


def table_totals(summary: pl.DataFrame) -> dict[str, TableTotals]:
    """Each table's totals and counts by rule, from a collected summary, in contract order."""
    totals: dict[str, TableTotals] = {}
    for name in TABLE_NAMES:
        rows = summary.filter(pl.col("table") == name)
        if rows.is_empty():
            continue

        def counts(kind: str, rows: pl.DataFrame = rows) -> dict[str, int]:
            of_kind = rows.filter(pl.col("kind") == kind)
            return dict(zip(of_kind["rule"].to_list(), of_kind["rows"].to_list(), strict=True))

        total = counts(TOTAL)
        totals[name] = TableTotals(
            table=name,
            rows_in=total[ROWS_IN],
            rows_out=total[ROWS_OUT],
            duplicates_merged=total[DUPLICATES_MERGED],
            quarantined=total[QUARANTINED],
            repairs=counts(REPAIR),
            merges=counts(MERGE),
            quarantine_by_rule=counts(QUARANTINE),
        )
    return totals
