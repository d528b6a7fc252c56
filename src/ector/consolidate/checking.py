"""Checking a chunk of an ingested table: every value read once, every rule evaluated once, per row.

One plan per chunk standardises the text (keys, codes, dates, booleans), finds each reference among the
parent's keys, and lets the table's dataframely schema split the rows into valid and failed. Everything that
follows is derived from what it returns:
- `rows`: every row in its checked form (canonical columns in working dtypes, its position in the table,
  the hash of its ingested values, whether it broke a rule, its dangling optional references), which
  deduplication and the clean table read, a range of keys at a time;
- `failed`: the quarantine record of each failed row (its ingested values, the rules it broke and why), kept
  until deduplication says which of them are winners;
- `arrived`: the row count and the repairs made, for the summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date

import polars as pl

from ector.consolidate import rules
from ector.consolidate.columns import RAW_HASH, ROW, VALID, Kind, dangling_name, kind, raw_name, repair_name
from ector.consolidate.dates import DateOrder, Readers, decided, evidence
from ector.consolidate.integrity import ParentKeys, dangling_references, with_reference_states
from ector.consolidate.parsing import Parsing
from ector.consolidate.quarantine import quarantine_frame
from ector.consolidate.standardise import standardise
from ector.consolidate.validate import TableSchema, evaluate, table_schema
from ector.contract import Table
from ector.materialise import Materialiser

ROWS_IN = "__rows_in"
_REPAIRS = [repair_name(rule) for rule in rules.REPAIRS]


@dataclass(frozen=True)
class CheckedChunk:
    """One chunk of a table, checked (see the module docstring)."""

    rows: pl.DataFrame
    failed: pl.DataFrame
    arrived: dict[str, int]  # ROWS_IN and repair_name(rule) -> rows


@dataclass(frozen=True)
class Checker:
    """How the rows of one table are checked: its parsing, run date and the keys of its parents present."""

    table: Table
    parsing: Parsing
    run_date: date
    parents: Mapping[str, ParentKeys]
    # The order each date text column is read in (`dates`); a column absent or None is undecided.
    date_orders: Mapping[str, DateOrder | None] = field(default_factory=dict)

    def evidence(self, ingested: pl.LazyFrame) -> pl.LazyFrame | None:
        """The one-row plan of the evidence of their order (`dates.evidence`) of the table's date text columns;
        None when no column needs it: its order is stated, or its formats read every text one way only."""
        texts: dict[str, tuple[pl.Expr, Readers]] = {}
        schema = ingested.collect_schema()
        for column in self.table.columns:
            column_kind = kind(self.table, column)
            dtype = schema.get(column.name)
            if column_kind not in (Kind.DATE, Kind.TIMESTAMP) or dtype is None or dtype.is_temporal():
                continue
            if dtype == pl.Null() or (self.table.name, column.name) in self.parsing.date_orders:
                continue
            readers = self.parsing.date_readers if column_kind is Kind.DATE else self.parsing.timestamp_readers
            if readers.paired:
                text = pl.col(column.name) if dtype == pl.String() else pl.col(column.name).cast(pl.String)
                texts[column.name] = (text, readers)
        return evidence(ingested, texts) if texts else None

    def deciding(self, evidence_row: Mapping[str, object]) -> Checker:
        """This checker with the order of every date column decided from `evidence_row` (the `evidence`
        aggregates, collected) and the orders settings state."""
        stated = self.parsing.date_orders
        orders = {
            c.name: decided(stated.get((self.table.name, c.name)), evidence_row, c.name)
            for c in self.table.columns
            if kind(self.table, c) in (Kind.DATE, Kind.TIMESTAMP)
        }
        return replace(self, date_orders=orders)

    def working_columns(self) -> list[str]:
        """The working columns a checked row carries besides its canonical columns."""
        return [ROW, RAW_HASH, *(dangling_name(c) for c in dangling_references(self.table, self.parents))]

    def schema(self, raw_dtypes: dict[str, pl.DataType], ambiguous: tuple[str, ...] = ()) -> TableSchema:
        """The table's dataframely schema for columns ingested with `raw_dtypes`, `ambiguous` those flagged
        for date text that may read as two dates."""
        checked = {r.parent for r in self.table.references if r.parent in self.parents}
        passed = [*self.working_columns(), *_REPAIRS]
        return table_schema(self.table, raw_dtypes, self.run_date, checked, passed, ambiguous)

    def check(self, chunk: pl.LazyFrame, first_row: int, out: Materialiser) -> tuple[CheckedChunk, TableSchema]:
        """Return `chunk` (whose first row is row `first_row` of the table) checked, and the schema it met."""
        table = self.table
        standardised = standardise(chunk, table, self.parsing, self.date_orders)
        frame = standardised.frame.with_columns(
            (pl.int_range(pl.len(), dtype=pl.UInt64) + first_row).alias(ROW),
            pl.struct(raw_name(c) for c in table.column_names).hash().alias(RAW_HASH),
        )
        frame = with_reference_states(frame, table, self.parents)
        schema = self.schema(standardised.raw_dtypes, standardised.ambiguous)
        evaluation = evaluate(frame, schema)
        kept = [*table.column_names, *self.working_columns()]
        # The repairs are counted from the split rows: a separate count over the standardised rows would parse
        # them again (polars does not share that part between the two plans).
        valid, failed = out.collect_all([evaluation.valid.select(*kept, *_REPAIRS), evaluation.failed])
        # The few failed rows are written up from one chunk of memory: polars 2.1 panicked formatting the reason
        # over failed rows spread across the chunks of the ingested frame (a binview index out of bounds).
        failed = failed.rechunk()
        records = out.collect(quarantine_frame(replace(evaluation, failed=failed.lazy()), table, carry=[ROW]))
        arrived = {ROWS_IN: valid.height + failed.height}
        arrived |= {flag: int(valid[flag].sum()) + int(failed[flag].sum()) for flag in _REPAIRS}
        rows = pl.concat(
            [
                valid.select(*kept, pl.lit(value=True).alias(VALID)),
                failed.select(*kept, pl.lit(value=False).alias(VALID)),
            ]
        )
        return CheckedChunk(rows, records, arrived), schema
