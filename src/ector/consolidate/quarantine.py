"""The quarantine of one table: the failed rows as they were ingested, with every rule they broke and why.

A reason reads like `missing_required: surgery_start; orphan_surgeon: S9999`: rules in alphabetical order,
each with the columns (and, for data that is not personal, the values) that broke it. Patient ids and birth
dates never appear in a reason, only their column names, because reasons are shown in reports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Final

import polars as pl

from ector.consolidate.columns import raw_name
from ector.consolidate.standardise import standardised_key
from ector.consolidate.validate import Evaluation
from ector.contract import Table

RULES: Final = "rules"  # list[str]: every rule the row broke, sorted
REASON: Final = "reason"  # str: readable, one part per rule


def broken(rule_column: str) -> pl.Expr:
    """True where a row broke the rule of `rule_column` (dataframely marks a passed rule true)."""
    return pl.col(rule_column).not_()


def quarantine_frame(evaluation: Evaluation, table: Table, carry: Sequence[str] = ()) -> pl.LazyFrame:
    """The failed rows of `evaluation`: the ingested values under canonical names, `rules` and `reason`, then the
    working columns named in `carry`; unsorted (`ordered` sorts them)."""
    by_rule: dict[str, list[str]] = defaultdict(list)
    for rule_column, check in evaluation.checks.items():
        by_rule[check.rule].append(rule_column)
    rule_names: list[pl.Expr] = []
    parts: list[pl.Expr] = []
    for rule in sorted(by_rule):
        columns = sorted(by_rule[rule])
        rule_names.append(pl.when(pl.any_horizontal(broken(c) for c in columns)).then(pl.lit(rule)))
        details = pl.concat_list(
            pl.when(broken(c)).then(evaluation.checks[c].detail.cast(pl.String)) for c in columns
        ).list.drop_nulls()
        parts.append(
            pl.when(details.list.len() > 0).then(
                pl.lit(f"{rule}: ") + details.list.unique().list.sort().list.join(", ")
            )
        )
    return evaluation.failed.select(
        *(pl.col(raw_name(c)).alias(c) for c in table.column_names),
        pl.concat_list(rule_names).list.drop_nulls().alias(RULES),
        pl.concat_list(parts).list.drop_nulls().list.join("; ").alias(REASON),
        *carry,
    )


def ordered(quarantine: pl.LazyFrame, table: Table) -> pl.LazyFrame:
    """`quarantine` sorted by its standardised key (rows without one last), then by its ingested values."""
    return quarantine.sort(standardised_key(table), pl.struct(table.column_names).hash(), nulls_last=True)
