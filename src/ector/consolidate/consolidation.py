"""One trustworthy set of the canonical tables from the ingested streams, with every row accounted for.

`consolidate` is the whole stage: `ector consolidate` runs it with the runner's materialiser (outputs to the
work directory), the library and the tests with `InMemory`. Per table, in dependency order (contract.TABLES:
parents before children):

1. check: a chunk of rows at a time (`checking`), every value parsed once and every rule evaluated once, with
   the references found among the parents' keys;
2. deduplicate and write: a range of keys at a time (`ranges`), sorted by key, the rows of a repeated key
   ranked (`deduplicate`); the winners that broke no rule are the clean table, written range after range in
   key order; the winners that broke one are the quarantine;
3. count: the summary is added up from what the two steps saw, and the keys written (clean and quarantined)
   are what the children's references are checked against.

A table of one chunk stays in memory throughout. A larger one keeps its checked rows, cut by range, in memory
too, unless they would take more than the spill limit: then they go to the materialiser's scratch files, and
memory holds one chunk or one range at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date

import polars as pl
from polars.io.plugins import register_io_source

from ector.consolidate import rules
from ector.consolidate.checking import ROWS_IN, Checker
from ector.consolidate.columns import ROW, VALID, dangling_name, repair_name
from ector.consolidate.deduplicate import merge_repeated, repeated
from ector.consolidate.integrity import ParentKeys, dangling_references
from ector.consolidate.parsing import parsing_from_settings
from ector.consolidate.quarantine import RULES, ordered
from ector.consolidate.ranges import CHUNK_ROWS, ONE_RANGE, RANGE, KeyRanges, chunk_count, key_ranges, key_sample
from ector.consolidate.standardise import standardised_key
from ector.consolidate.summary import (
    DUPLICATES_MERGED,
    MERGE,
    NOTE,
    QUARANTINE,
    QUARANTINED,
    REPAIR,
    ROWS_OUT,
    TOTAL,
    TableCounts,
    combine,
)
from ector.consolidate.summary import ROWS_IN as SUMMARY_ROWS_IN
from ector.contract import TABLE_NAMES, TABLES, Table
from ector.errors import ContractError
from ector.materialise import InMemory, Materialiser
from ector.settings import ConsolidationSettings

SUMMARY = "summary"


def clean_output(table: str) -> str:
    """The name of a table's clean output."""
    return table


def quarantine_output(table: str) -> str:
    """The name of a table's quarantine output."""
    return f"quarantine/{table}"


@dataclass(frozen=True)
class ConsolidationResult:
    """The consolidated tables, their quarantines and the summary, collected; only present tables appear."""

    clean: dict[str, pl.DataFrame]  # contract columns, dtypes and order; one row per key, sorted by key
    quarantine: dict[str, pl.DataFrame]  # ingested values, then `rules` (list[str]) and `reason` (str)
    summary: pl.DataFrame  # see ector.consolidate.summary for its shape


def consolidate_in_memory(
    tables: Mapping[str, pl.LazyFrame], settings: ConsolidationSettings, run_date: date
) -> ConsolidationResult:
    """Return the clean tables, quarantines and summary of consolidating the ingested `tables`, in memory.

    The same loop as `ector consolidate` (`consolidate`), with every output kept in memory.
    """
    memory = InMemory()
    consolidate(tables, settings, run_date, memory)
    present = [name for name in TABLE_NAMES if name in tables]
    return ConsolidationResult(
        clean={name: memory.outputs[clean_output(name)] for name in present},
        quarantine={name: memory.outputs[quarantine_output(name)] for name in present},
        summary=memory.outputs[SUMMARY],
    )


def consolidate(
    tables: Mapping[str, pl.LazyFrame],
    settings: ConsolidationSettings,
    run_date: date,
    out: Materialiser,
    *,
    spill_bytes: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> pl.DataFrame:
    """Consolidate the ingested `tables` into `out`: each table's clean rows and quarantine, then the summary.

    `tables` maps canonical table names to ingested frames (canonical column names; each column in its
    canonical dtype, widened, or as text). Only `cases` is mandatory. A date or timestamp after `run_date` is
    in the future. A table of more than `chunk_rows` rows whose checked rows would take more than
    `spill_bytes` (None: no limit) spills them to `out` between the two steps. Returns the summary (also written as
    `summary`). Raises ContractError for an unknown or
    missing mandatory table or a missing required column, ConfigError for invalid code maps or formats.
    """
    check_tables(tables)
    parsing = parsing_from_settings(settings)
    parents: dict[str, ParentKeys] = {}
    summaries: list[pl.DataFrame] = []
    for table in TABLES.values():
        if table.name not in tables:
            continue
        checker = Checker(table, parsing, run_date, {p: k for p, k in parents.items() if p in _parents_of(table)})
        consolidation = TableConsolidation(checker, tuple(settings.source_priority), out, chunk_rows, spill_bytes)
        keys = consolidation.run(tables[table.name])
        summaries.append(consolidation.counts.frame())
        if _referenced_later(table, tables):
            parents[table.name] = keys
        parents = {name: k for name, k in parents.items() if _referenced_later(TABLES[name], tables, after=table)}
    summary = combine(summaries)
    out.sink({SUMMARY: summary.lazy()})
    return summary


def check_tables(tables: Mapping[str, object]) -> None:
    """Raise ContractError for a table that is not canonical, or a mandatory table that is missing."""
    unknown = sorted(set(tables) - set(TABLE_NAMES))
    if unknown:
        raise ContractError(f"unknown table {unknown[0]!r}", f"canonical tables: {', '.join(TABLE_NAMES)}")
    for table in TABLES.values():
        if table.mandatory and table.name not in tables:
            raise ContractError(f"the mandatory table {table.name} is missing", "run `ector ingest` first")


def _parents_of(table: Table) -> set[str]:
    return {r.parent for r in table.references}


def _referenced_later(parent: Table, tables: Mapping[str, object], after: Table | None = None) -> bool:
    """Whether a table present after `after` (default: `parent`) in contract order refers to `parent`."""
    start = list(TABLES).index((after or parent).name) + 1
    return any(parent.name in _parents_of(TABLES[name]) for name in list(TABLES)[start:] if name in tables)


@dataclass
class TableConsolidation:
    """One table consolidated: checked a chunk at a time, deduplicated and written a range of keys at a time."""

    checker: Checker
    source_priority: tuple[str, ...]
    out: Materialiser
    chunk_rows: int
    spill_bytes: int | None
    counts: TableCounts = field(init=False)
    _pieces: list[list[pl.LazyFrame]] = field(init=False, default_factory=list)
    _failed: list[pl.DataFrame] = field(init=False, default_factory=list)
    _quarantined: list[pl.Series] = field(init=False, default_factory=list)
    _clean_keys: list[pl.Series] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        # Every count is listed, at 0 when nothing was counted (the quarantine's rules once the schema is known).
        self.counts = TableCounts(self.checker.table.name)
        for total in (SUMMARY_ROWS_IN, DUPLICATES_MERGED, QUARANTINED, ROWS_OUT):
            self.counts.add(TOTAL, total, 0)
        for rule in rules.REPAIRS:
            self.counts.add(REPAIR, rule, 0)
        for rule in rules.MERGES:
            self.counts.add(MERGE, rule, 0)
        if any(c.dtype_name in ("Date", "Timestamp") for c in self.table.columns):
            # Checked only on the columns whose order is undecided, but listed for every table with dates.
            self.counts.add(QUARANTINE, rules.AMBIGUOUS_DATE, 0)
        for column in self.table.columns:
            if not column.required:
                self.counts.add(NOTE, rules.MISSING_OPTIONAL, 0, column.name)
        for column_name in dangling_references(self.table, self.checker.parents):
            self.counts.add(NOTE, rules.DANGLING_OPTIONAL_REFERENCE, 0, column_name)

    @property
    def table(self) -> Table:
        return self.checker.table

    def run(self, ingested: pl.LazyFrame) -> ParentKeys:
        """Write the table's clean rows and quarantine, count its summary; return its keys for its children."""
        rows = self.out.collect(ingested.select(pl.len())).item()
        evidence = self.checker.evidence(ingested)
        self.checker = self.checker.deciding({} if evidence is None else self.out.collect(evidence).row(0, named=True))
        chunks = chunk_count(rows, self.chunk_rows)
        ranges = self._ranges(ingested, rows, chunks)
        self._pieces = [[] for _ in range(ranges.count)]
        schema_rules: tuple[str, ...] = ()
        spill: bool | None = None if chunks > 1 and self.spill_bytes is not None else False
        for index in range(chunks):
            chunk = ingested if chunks == 1 else ingested.slice(index * self.chunk_rows, self.chunk_rows)
            checked, schema = self.checker.check(chunk, index * self.chunk_rows, self.out)
            schema_rules = schema.rules
            self._count_arrived(checked.arrived)
            self._failed.append(checked.failed)
            if spill is None:  # the first chunk tells what the whole table's checked rows would hold
                per_row = checked.rows.estimated_size() / max(1, checked.rows.height)
                spill = per_row * rows > (self.spill_bytes or 0)
            self._keep(checked.rows, ranges, spill=spill, name=f"{self.table.name}-{index}")
        self.out.sink({clean_output(self.table.name): self._deduplicate(ranges)})
        quarantine = self._quarantine()
        self.out.sink({quarantine_output(self.table.name): quarantine.lazy()})
        self._count_quarantine(quarantine, schema_rules)
        quarantined_keys = quarantine.select(standardised_key(self.table))[self.table.key]
        clean_keys = pl.concat(self._clean_keys) if self._clean_keys else pl.Series(self.table.key, [], pl.String)
        return ParentKeys.of(clean_keys, quarantined_keys)

    def _ranges(self, ingested: pl.LazyFrame, rows: int, chunks: int) -> KeyRanges:
        if chunks == 1:
            return ONE_RANGE
        key = self.table.key
        sample = self.out.collect(key_sample(ingested.select(standardised_key(self.table)), key, rows))
        return key_ranges(sample[key], chunks)

    def _keep(self, rows: pl.DataFrame, ranges: KeyRanges, *, spill: bool, name: str) -> None:
        """Keep a chunk's checked rows for deduplication, cut by range (spilled when the table is large)."""
        if ranges.count == 1:
            parts = {0: rows}
        else:
            cut = rows.with_columns(ranges.of(pl.col(self.table.key)).alias(RANGE))
            parts = {r: part for (r,), part in cut.partition_by(RANGE, as_dict=True, include_key=False).items()}
        for r, part in parts.items():
            self._pieces[int(r)].append(self.out.spill(f"{name}-{r}", part) if spill else part.lazy())

    def _deduplicate(self, ranges: KeyRanges) -> pl.LazyFrame:
        """Return the clean table as a plan that deduplicates one range of keys after the other as it is read.

        Reading it (once: the runner's sink) also records what the ranges decided: the clean keys, in order,
        and the position of every row to quarantine. The clean rows are never held whole nor written twice.
        """
        table = self.table
        key = table.key
        read = False

        def clean_ranges(
            columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None, batch_size: int | None
        ) -> Iterator[pl.DataFrame]:
            nonlocal read
            if read:
                raise RuntimeError(f"the clean {table.name} table was read twice: its ranges are decided once")
            read = True
            for r in range(ranges.count):
                pieces, self._pieces[r] = self._pieces[r], []
                if not pieces:
                    continue
                frame = self.out.collect(pl.concat(pieces)).sort(key, nulls_last=True)
                clean = self._decide(frame).select(pl.col(c.name).cast(c.dtype) for c in table.columns)
                self._clean_keys.append(clean[key])
                if predicate is not None:
                    clean = clean.filter(predicate)
                yield clean if columns is None else clean.select(columns)

        return register_io_source(clean_ranges, schema=table.schema, explain_name=f"clean {table.name} by key range")

    def _decide(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Deduplicate one range of checked rows sorted by key; return its clean rows and count what it decided."""
        merge = merge_repeated(frame.filter(repeated(self.table.key)), self.table, self.source_priority)
        self.counts.add(MERGE, rules.DUPLICATE_EXACT, merge.exact)
        self.counts.add(MERGE, rules.DUPLICATE_RESENT, merge.resent)
        self.counts.add(TOTAL, DUPLICATES_MERGED, merge.exact + merge.resent)
        kept = frame if merge.merged_away.is_empty() else frame.filter(~pl.col(ROW).is_in(merge.merged_away.implode()))
        self._quarantined.append(kept.filter(~pl.col(VALID))[ROW])
        valid = kept.filter(VALID)
        self._count_clean(valid)
        return valid

    def _quarantine(self) -> pl.DataFrame:
        """The quarantine: the failed rows that deduplication kept, sorted (`quarantine.ordered`)."""
        failed = pl.concat(self._failed)
        self._failed = []
        rows = pl.concat(self._quarantined) if self._quarantined else pl.Series(ROW, [], dtype=pl.UInt64)
        if rows.len() < failed.height:
            failed = failed.filter(pl.col(ROW).is_in(rows.implode()))
        return self.out.collect(ordered(failed.drop(ROW).lazy(), self.table))

    def _count_arrived(self, arrived: Mapping[str, int]) -> None:
        self.counts.add(TOTAL, SUMMARY_ROWS_IN, arrived[ROWS_IN])
        for rule in rules.REPAIRS:
            self.counts.add(REPAIR, rule, arrived[repair_name(rule)])

    def _count_clean(self, valid: pl.DataFrame) -> None:
        self.counts.add(TOTAL, ROWS_OUT, valid.height)
        for column in self.table.columns:
            if not column.required:
                self.counts.add(NOTE, rules.MISSING_OPTIONAL, valid[column.name].null_count(), column.name)
        for reference in dangling_references(self.table, self.checker.parents):
            dangling = int(valid[dangling_name(reference)].sum())
            self.counts.add(NOTE, rules.DANGLING_OPTIONAL_REFERENCE, dangling, reference)

    def _count_quarantine(self, quarantine: pl.DataFrame, schema_rules: tuple[str, ...]) -> None:
        self.counts.add(TOTAL, QUARANTINED, quarantine.height)
        for rule in schema_rules:
            self.counts.add(QUARANTINE, rule, int(quarantine[RULES].list.contains(rule).sum()))
