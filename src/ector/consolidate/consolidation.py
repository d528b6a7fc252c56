"""One trustworthy set of the canonical tables from the ingested streams, with every row accounted for.

Per table, in dependency order (contract.TABLES: parents before children):
standardise -> deduplicate by key -> reference states against the parents already consolidated -> validate
(dataframely) -> clean rows, quarantined rows, summary counts.

`Consolidator` does the work one table and one step at a time, so that a caller can write each table before
its children read their parents, and count the summary from what was written (the stage does: Polars'
streaming engine runs one memory-hungry operation at a time, and buffers a shared stream whole while another
waits its turn; small, separate plans never meet that). `consolidate()` is the same sequence in memory, for
small layers and tests: each table is collected before its children refer to it, which also keeps every plan
small (chaining six tables' plans into one multiplies them: each child repeats its parents').
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from ector.consolidate.deduplicate import duplicate_rows, merge_duplicates, repeated_keys, single_rows
from ector.consolidate.integrity import check_references, parent_status
from ector.consolidate.parsing import Parsing, parsing_from_settings
from ector.consolidate.quarantine import ordered, quarantine_frame
from ector.consolidate.standardise import Standardised, standardise
from ector.consolidate.summary import combine, table_summary
from ector.consolidate.validate import TableSchema, evaluate, table_schema
from ector.contract import TABLE_NAMES, TABLES, Table
from ector.errors import ContractError
from ector.settings import ConsolidationSettings


@dataclass(frozen=True)
class ConsolidationResult:
    """The consolidated tables, their quarantines and the summary, collected; only present tables appear."""

    clean: dict[str, pl.DataFrame]  # contract columns, dtypes and order; one row per key, sorted by key
    quarantine: dict[str, pl.DataFrame]  # ingested values, then `rules` (list[str]) and `reason` (str)
    summary: pl.DataFrame  # see ector.consolidate.summary for its shape


@dataclass(frozen=True)
class TableResult:
    """One table consolidated: its clean rows and its quarantine, as lazy plans."""

    clean: pl.LazyFrame
    quarantine: pl.LazyFrame


def consolidate(
    tables: Mapping[str, pl.LazyFrame], settings: ConsolidationSettings, run_date: date
) -> ConsolidationResult:
    """The clean tables, quarantines and summary of consolidating the ingested `tables`, in memory.

    `tables` maps canonical table names to ingested frames (canonical column names; each column in its
    canonical dtype, widened, or as text). Only `cases` is mandatory; an absent table is simply not a key.
    A date or timestamp after `run_date` is in the future. Raises ContractError for an unknown or missing
    mandatory table or a missing required column, ConfigError for invalid code maps or formats.
    """
    check_tables(tables)
    consolidator = Consolidator.from_settings(settings, run_date)
    clean: dict[str, pl.DataFrame] = {}
    quarantine: dict[str, pl.DataFrame] = {}
    summaries: list[pl.LazyFrame] = []
    statuses: dict[str, pl.LazyFrame] = {}
    for table in TABLES.values():
        if table.name not in tables:
            continue
        ingested = tables[table.name]
        repeated = repeated_keys(ingested, table).collect().lazy()
        duplicates = consolidator.duplicates(table, ingested, repeated).collect().lazy()
        planned = consolidator.standardise(table, ingested)
        standardised = Standardised(planned.frame.collect().lazy(), planned.raw_dtypes)
        result = consolidator.table(table, standardised, repeated=repeated, duplicates=duplicates, statuses=statuses)
        clean[table.name], quarantine[table.name] = pl.collect_all([result.clean, result.quarantine])
        kept, quarantined = clean[table.name].lazy(), quarantine[table.name].lazy()
        summary = consolidator.summary(
            table, standardised, duplicates=duplicates, clean=kept, quarantine=quarantined, statuses=statuses
        )
        summaries.append(summary.collect().lazy())
        statuses[table.name] = parent_status(kept, quarantined, table).collect().lazy()
    return ConsolidationResult(clean, quarantine, combine(summaries).collect())


def check_tables(tables: Mapping[str, object]) -> None:
    """Raise ContractError for a table that is not canonical, or a mandatory table that is missing."""
    unknown = sorted(set(tables) - set(TABLE_NAMES))
    if unknown:
        raise ContractError(f"unknown table {unknown[0]!r}", f"canonical tables: {', '.join(TABLE_NAMES)}")
    for table in TABLES.values():
        if table.mandatory and table.name not in tables:
            raise ContractError(f"the mandatory table {table.name} is missing", "run `ector ingest` first")


@dataclass(frozen=True)
class Consolidator:
    """The settings of one consolidation run, checked once, and its steps for one table at a time."""

    parsing: Parsing
    source_priority: tuple[str, ...]
    run_date: date

    @classmethod
    def from_settings(cls, settings: ConsolidationSettings, run_date: date) -> Consolidator:
        """A consolidator for `settings`; ConfigError for invalid code maps or formats."""
        return cls(parsing_from_settings(settings), tuple(settings.source_priority), run_date)

    def standardise(self, table: Table, ingested: pl.LazyFrame) -> Standardised:
        """The whole ingested `table` standardised (a plan): what `table` and `summary` read. Parsing the text is
        the costliest step of consolidation, so a caller that reads it twice materialises it once first."""
        return standardise(ingested, table, self.parsing)

    def duplicates(self, table: Table, ingested: pl.LazyFrame, repeated: pl.LazyFrame) -> pl.LazyFrame:
        """The standardised rows of `table` whose key is repeated (`repeated` from `repeated_keys`): few."""
        return standardise(duplicate_rows(ingested, repeated, table), table, self.parsing).frame

    def table(
        self,
        table: Table,
        standardised: Standardised,
        *,
        repeated: pl.LazyFrame,
        duplicates: pl.LazyFrame,
        statuses: Mapping[str, pl.LazyFrame],
        sort: bool = True,
    ) -> TableResult:
        """`table` consolidated, given its `standardised` rows, its repeated keys, its standardised duplicate rows
        (`duplicates`), and the parent_status of every parent table present.

        `sort`: clean rows by key and the quarantine by `quarantine.ordered`. Sorting holds a table in memory, and
        in one plan with the streaming outputs it makes Polars buffer them too: the stage sorts apart.
        """
        merged = merge_duplicates(duplicates, table, self.source_priority)
        # An unordered union: both parts are read as they come (row order is restored, if wanted, by `sort`).
        rows = pl.union([single_rows(standardised.frame, repeated, table), merged.winners], how="vertical")
        checked = check_references(rows, table, statuses)
        evaluation = evaluate(checked, self._schema(table, standardised.raw_dtypes, statuses))
        # Validation guarantees every value fits its contract dtype: integers were range- or bounds-checked in
        # Int64 before narrowing.
        clean = evaluation.valid.select(pl.col(c.name).cast(c.dtype) for c in table.columns)
        quarantine = quarantine_frame(evaluation, table)
        if sort:
            return TableResult(clean.sort(table.key), ordered(quarantine, table))
        return TableResult(clean, quarantine)

    def summary(
        self,
        table: Table,
        standardised: Standardised,
        *,
        duplicates: pl.LazyFrame,
        clean: pl.LazyFrame,
        quarantine: pl.LazyFrame,
        statuses: Mapping[str, pl.LazyFrame],
    ) -> pl.LazyFrame:
        """The summary rows of `table`, counted from its standardised rows, duplicates, clean rows and quarantine:
        pass them materialised (collected, or read back from their files), or the plan repeats the consolidation."""
        return table_summary(
            table,
            standardised=standardised.frame,
            merges=merge_duplicates(duplicates, table, self.source_priority).merges,
            clean=clean,
            quarantine=quarantine,
            rules_checked=self._schema(table, standardised.raw_dtypes, statuses).rules,
            statuses=statuses,
        )

    def _schema(self, table: Table, raw_dtypes: dict[str, pl.DataType], statuses: Mapping[str, object]) -> TableSchema:
        parents = {r.parent for r in table.references if r.parent in statuses}
        return table_schema(table, raw_dtypes, self.run_date, parents)
