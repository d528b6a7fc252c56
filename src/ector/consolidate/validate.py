"""Validate one deduplicated table against the contract with a dataframely schema built from `contract`.

Each table gets a dataframely Schema generated from its contract columns: the working dtype, and per-column
checks named after the rules of `rules`: a required value that is missing (`missing_required`), a value that
could not be read (`invalid_number`, `unparseable_date`, `unmapped_code`), a date text that reads as two
dates (`ambiguous_date`, flagged by standardisation), dates after the run date,
ranges, the age implied by a birth date, and references to parents that are missing or quarantined. Rules
across columns (chronology, operative time) are schema rules. `Schema.filter()` then splits the valid rows
from the failed ones, lazily.

Every rule is evaluated for every row, so a quarantined row lists all the rules it broke, not just the first.
The failed rows and one boolean column per rule come from dataframely's `FailureInfo`. Its public accessors
(`details()`, `counts()`) collect eagerly, there and then, outside the plan; the lazy frame behind them
(`FailureInfo._lf`) is used instead, so the quarantine stays a lazy plan that the runner streams with its
engine like every other output. The tests pin the shape this module relies on (one boolean column per rule,
named `column|check__<rule>` for column checks, `<rule>` for schema rules).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, cast

import dataframely as dy
import polars as pl

from ector.consolidate import rules
from ector.consolidate.columns import (
    ORPHAN,
    QUARANTINED,
    WORKING_DTYPES,
    Kind,
    ambiguous_name,
    kind,
    raw_name,
    reference_name,
)
from ector.contract import Column, Table
from ector.schemas import dataframely_column

# Rules about one column, by canonical column name, wherever the column appears.
RANGES: Final[dict[str, tuple[str, float, float | None]]] = {
    "asa_class": (rules.ASA_OUT_OF_RANGE, 1, 5),
    "blood_loss_ml": (rules.NEGATIVE_BLOOD_LOSS, 0, None),
    "predicted_mortality": (rules.RISK_OUT_OF_RANGE, 0, 1),
}
BIRTH_DATE: Final = "birth_date"
MAX_AGE_YEARS: Final = 120

# Rules about two columns of one row, in every table that has both: (rule, earlier column, later column).
CHRONOLOGY: Final = (
    (rules.END_BEFORE_START, "surgery_start", "surgery_end"),
    (rules.DISCHARGE_BEFORE_ADMISSION, "admission_date", "discharge_date"),
)
# (rule, start column, end column, longest allowed span)
DURATIONS: Final = ((rules.OPERATIVE_TIME_OUT_OF_RANGE, "surgery_start", "surgery_end", timedelta(hours=24)),)

_PARSE_RULE: Final = {
    Kind.CODE: rules.UNMAPPED_CODE,
    Kind.BOOLEAN: rules.UNMAPPED_CODE,
    Kind.DATE: rules.UNPARSEABLE_DATE,
    Kind.TIMESTAMP: rules.UNPARSEABLE_DATE,
    Kind.INTEGER: rules.INVALID_NUMBER,
    Kind.FLOAT: rules.INVALID_NUMBER,
}
# Integer columns without a range rule must still fit their contract dtype.
_INTEGER_BOUNDS: Final[dict[type[pl.DataType], tuple[int, int]]] = {
    pl.Int8: (-(2**7), 2**7 - 1),
    pl.Int16: (-(2**15), 2**15 - 1),
    pl.Int32: (-(2**31), 2**31 - 1),
}
_DETAIL_CHARS: Final = 40  # a value quoted in a reason is cut to this length


@dataclass(frozen=True)
class Check:
    """One rule as checked on one table: its name, and what a reason says when a row breaks it."""

    rule: str
    detail: pl.Expr  # evaluated on a failed row: the column, and the value when it is not personal


@dataclass(frozen=True)
class TableSchema:
    """The dataframely schema of one table, with what each of its rules means."""

    schema: type[dy.Schema]
    column_checks: dict[tuple[str, str], Check]  # (column, rule) -> check
    table_checks: dict[str, Check]  # schema rule name (= rule) -> check

    @property
    def rules(self) -> tuple[str, ...]:
        """Every quarantine rule this schema checks, sorted."""
        names = {check.rule for check in self.column_checks.values()} | set(self.table_checks)
        return tuple(sorted(names))


@dataclass(frozen=True)
class Evaluation:
    """A table split into valid and failed rows; a failed row is false in each rule column it broke."""

    valid: pl.LazyFrame  # the schema's columns
    failed: pl.LazyFrame  # the schema's columns, then one boolean column per rule (true: passed)
    checks: dict[str, Check]  # rule column of `failed` -> the check it stands for
    rules: tuple[str, ...]  # every quarantine rule checked, sorted


def table_schema(
    table: Table,
    raw_dtypes: dict[str, pl.DataType],
    run_date: date,
    checked_parents: set[str],
    passed_through: Sequence[str] = (),
    ambiguous: Collection[str] = (),
) -> TableSchema:
    """The dataframely schema for `table` after standardisation and the reference checks.

    `raw_dtypes` are the dtypes the columns were ingested with; `checked_parents` the parent tables present;
    `passed_through` names working columns the split keeps as they are (row positions, hashes, flags);
    `ambiguous` the date columns whose text may read as two dates (`Standardised.ambiguous`).
    """
    namespace: dict[str, Any] = {}
    column_checks: dict[tuple[str, str], Check] = {}
    for index, column in enumerate(table.columns):
        flagged = column.name in ambiguous
        checks = _column_checks(table, column, raw_dtypes[column.name], run_date, checked_parents, flagged=flagged)
        column_checks |= {(column.name, rule): check for rule, (_, check) in checks.items()}
        # Nullable even when required: a required value that is present but unreadable is null once
        # standardised, and it breaks unmapped_code (say), not missing_required, which looks at the ingested
        # value instead (a check below). Either way the row is quarantined, so clean required columns hold
        # no null.
        namespace[f"column_{index}"] = dataframely_column(
            WORKING_DTYPES[kind(table, column)],
            nullable=True,
            alias=column.name,
            check={rule: valid for rule, (valid, _) in checks.items()} or None,
        )
        namespace[f"raw_{index}"] = dy.Any(alias=raw_name(column.name))
        if flagged:
            namespace[f"ambiguous_{index}"] = dy.Any(alias=ambiguous_name(column.name))
    for index, reference in enumerate(table.references):
        namespace[f"reference_{index}"] = dy.String(nullable=True, alias=reference_name(reference.column))
    for index, name in enumerate(passed_through):
        namespace[f"working_{index}"] = dy.Any(alias=name)
    table_checks: dict[str, Check] = {}
    for rule, valid, check in _row_rules(table):
        namespace[rule] = dy.rule()(valid)
        table_checks[rule] = check
    schema = cast("type[dy.Schema]", type(f"{table.name.title()}Schema", (dy.Schema,), namespace))
    return TableSchema(schema, column_checks, table_checks)


def evaluate(frame: pl.LazyFrame, schema: TableSchema) -> Evaluation:
    """`frame` split by `schema` into valid rows and failed rows with every rule's outcome, both lazy."""
    result = schema.schema.filter(frame)
    failed = result.failure._lf  # the lazy frame behind FailureInfo: see the module docstring
    data_columns = set(schema.schema.column_names())
    checks = {name: _resolve(name, schema) for name in failed.collect_schema().names() if name not in data_columns}
    return Evaluation(result.result, failed, checks, schema.rules)


def _resolve(rule_column: str, schema: TableSchema) -> Check:
    """The check behind one of dataframely's rule columns: `column|check__<rule>` or `<rule>`."""
    if "|" not in rule_column:
        return schema.table_checks[rule_column]
    column, _, suffix = rule_column.partition("|")
    candidates = [rule for (name, rule) in schema.column_checks if name == column and suffix.endswith(rule)]
    if not candidates:
        raise AssertionError(f"dataframely rule {rule_column!r} matches no consolidation rule")
    return schema.column_checks[(column, max(candidates, key=len))]


_Rule = tuple[Callable[[pl.Expr], pl.Expr], Check]


def _column_checks(
    table: Table, column: Column, raw_dtype: pl.DataType, run_date: date, checked_parents: set[str], *, flagged: bool
) -> dict[str, _Rule]:
    """rule -> (expression that is true when the value passes, check) for one column; `flagged`: its date text
    may be ambiguous, as its ambiguous_name column says."""
    name = column.name
    value = pl.col(name)
    column_kind = kind(table, column)
    checks: dict[str, _Rule] = {}
    present = _present(pl.col(raw_name(name)), raw_dtype)

    if column.required:
        missing = Check(rules.MISSING_REQUIRED, pl.lit(name))
        checks[rules.MISSING_REQUIRED] = (_constant(present.fill_null(False)), missing)

    parse_rule = _PARSE_RULE.get(column_kind)
    if parse_rule is not None:
        readable = value.is_not_null()
        if column_kind is Kind.FLOAT:
            readable = readable & value.is_finite()
        if column_kind is Kind.INTEGER and name not in RANGES and type(column.dtype) in _INTEGER_BOUNDS:
            low, high = _INTEGER_BOUNDS[type(column.dtype)]
            readable = readable & value.is_between(low, high)
        # Blank is missing, not unreadable: missing is missing_required's business (or fine when optional).
        passes = readable | ~present
        if flagged:  # a text that reads as two dates is ambiguous, not unreadable
            passes = passes | pl.col(ambiguous_name(name))
        checks[parse_rule] = (_constant(passes), Check(parse_rule, _quoted(column, pl.col(raw_name(name)))))

    if flagged:
        ambiguous = Check(rules.AMBIGUOUS_DATE, _quoted(column, pl.col(raw_name(name))))
        checks[rules.AMBIGUOUS_DATE] = (_constant(~pl.col(ambiguous_name(name))), ambiguous)

    if column_kind in (Kind.DATE, Kind.TIMESTAMP):
        not_future = value <= run_date if column_kind is Kind.DATE else value < _start_of_day(run_date + _DAY)
        checks[rules.FUTURE_DATE] = (_constant(not_future), Check(rules.FUTURE_DATE, _valued(column, value)))

    if name == BIRTH_DATE:
        # Whole-year age 0-120 on the run date: born after the date 121 years before it, and not after it.
        plausible = (value > _years_before(run_date, MAX_AGE_YEARS + 1)) & (value <= run_date)
        checks[rules.AGE_OUT_OF_RANGE] = (_constant(plausible), Check(rules.AGE_OUT_OF_RANGE, _valued(column, value)))

    if name in RANGES:
        rule, minimum, maximum = RANGES[name]
        within = value >= minimum if maximum is None else value.is_between(minimum, maximum)
        if column_kind is Kind.FLOAT:
            within = within | ~value.is_finite()  # NaN and infinity are invalid_number, not out of range
        checks[rule] = (_constant(within), Check(rule, _valued(column, value)))

    for reference in table.references:
        if reference.column != name or not reference.required or reference.parent not in checked_parents:
            continue
        state = pl.col(reference_name(name))
        target = pl.lit(name) if column.personal else value
        orphan = rules.ORPHAN_RULE_BY_PARENT[reference.parent]
        checks[orphan] = (_constant(state != ORPHAN), Check(orphan, target))
        checks[rules.PARENT_QUARANTINED] = (
            _constant(state != QUARANTINED),
            Check(rules.PARENT_QUARANTINED, _valued(column, value)),
        )
    return checks


def _row_rules(table: Table) -> list[tuple[str, Callable[[Any], pl.Expr], Check]]:
    """(rule, validation function for dataframely, check) for the rules across columns that apply to `table`."""
    names = set(table.column_names)
    row_rules: list[tuple[str, Callable[[Any], pl.Expr], Check]] = []
    for rule, earlier, later in CHRONOLOGY:
        if {earlier, later} <= names:
            in_order = pl.col(later) >= pl.col(earlier)
            row_rules.append((rule, _rule_function(in_order), Check(rule, pl.lit(f"{later} before {earlier}"))))
    for rule, start, end, longest in DURATIONS:
        if {start, end} <= names:
            short_enough = (pl.col(end) - pl.col(start)) <= longest
            hours = longest / timedelta(hours=1)
            text = pl.lit(f"{end} more than {hours:g} h after {start}")
            row_rules.append((rule, _rule_function(short_enough), Check(rule, text)))
    return row_rules


def _rule_function(expression: pl.Expr) -> Callable[[Any], pl.Expr]:
    def validation(_schema: Any) -> pl.Expr:
        return expression

    return validation


def _constant(expression: pl.Expr) -> Callable[[pl.Expr], pl.Expr]:
    # dataframely passes the column; the expressions here name their columns themselves.
    def check(_column: pl.Expr) -> pl.Expr:
        return expression

    return check


def _present(raw: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """True where the ingested value holds something: not null, and not blank text."""
    if dtype == pl.String():
        return raw.str.strip_chars() != ""
    return raw.is_not_null()


def _valued(column: Column, value: pl.Expr) -> pl.Expr:
    """'column value', or just 'column' for personal data: a reason may be shown in a report."""
    if column.personal:
        return pl.lit(column.name)
    text = value.cast(pl.String).str.slice(0, _DETAIL_CHARS)
    return pl.format(f"{column.name} {{}}", text).fill_null(pl.lit(column.name))


def _quoted(column: Column, raw: pl.Expr) -> pl.Expr:
    """The column and its text as ingested, in quotes; just the column for personal data."""
    if column.personal:
        return pl.lit(column.name)
    text = raw.cast(pl.String).str.slice(0, _DETAIL_CHARS)
    return pl.format(f"{column.name} '{{}}'", text).fill_null(pl.lit(column.name))


_DAY: Final = timedelta(days=1)


def _start_of_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)
