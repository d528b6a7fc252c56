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

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from ector.consolidate import rules
from ector.contract import TABLE_NAMES

TOTAL, REPAIR, MERGE, QUARANTINE, NOTE = "total", "repair", "merge", "quarantine", "note"
KINDS: Final = (TOTAL, REPAIR, MERGE, QUARANTINE, NOTE)
ROWS_IN, DUPLICATES_MERGED, QUARANTINED, ROWS_OUT = "rows_in", "duplicates_merged", "quarantined", "rows_out"
TOTALS: Final = (ROWS_IN, DUPLICATES_MERGED, QUARANTINED, ROWS_OUT)

SCHEMA: Final = pl.Schema(
    {"table": pl.String(), "kind": pl.String(), "rule": pl.String(), "column": pl.String(), "rows": pl.Int64()}
)

Label = tuple[str, str, str | None]  # kind, rule, column


@dataclass
class TableCounts:
    """The counts of one table's summary, added up as consolidation goes (a chunk or a range at a time)."""

    table: str
    rows: Counter[Label] = field(default_factory=Counter)

    def add(self, kind: str, rule: str, rows: int, column: str | None = None) -> None:
        """Count `rows` more under (kind, rule, column); a label counted 0 times is still listed."""
        self.rows[(kind, rule, column)] += rows

    def frame(self) -> pl.DataFrame:
        """Return the summary rows of the table (unsorted; `combine` sorts)."""
        labels = list(self.rows)
        return pl.DataFrame(
            {
                "table": [self.table] * len(labels),
                "kind": [kind for kind, _, _ in labels],
                "rule": [rule for _, rule, _ in labels],
                "column": [column for _, _, column in labels],
                "rows": [self.rows[label] for label in labels],
            },
            schema=SCHEMA,
        )


def combine(summaries: list[pl.DataFrame]) -> pl.DataFrame:
    """The summaries of several tables as one, sorted by table (contract order), kind, rule and column."""
    if not summaries:
        return pl.DataFrame(schema=SCHEMA)
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
