"""Standardise one ingested table: keys trimmed and upper-cased, codes mapped, text parsed into dates and numbers.

Ingest hands over each column either in its canonical dtype (widened: Int8 -> Int64) or, when the source type
did not fit, as the source text. Both arrive here. Every value is read into its working dtype
(`columns.WORKING_DTYPES`); a value that cannot be read becomes null in the standardised column while the
ingested value stays beside it, so validation can tell "missing" (blank) from "unreadable" (present but null
after parsing) and quarantine keeps the original.

Nothing is guessed: a code no map knows stays null (and is quarantined as `unmapped_code`), a date in none of
the configured formats stays null (`unparseable_date`), and so does a date text that day-first and month-first
formats read as two dates in a column of undecided order (`ambiguous_date`, flagged per row; see `dates`).
Free text is kept as given, except that blank text is missing. Every change that is kept is flagged per row
under its repair rule (key_variant, code_variant, date_format), so the summary can count it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import polars as pl

from ector.consolidate import rules
from ector.consolidate.columns import WORKING_DTYPES, Kind, ambiguous_name, kind, mapped, raw_name, repair_name
from ector.consolidate.dates import DateOrder, Readers, reading
from ector.consolidate.parsing import Parsing
from ector.contract import TIMESTAMP, Table, normalised_key
from ector.errors import ContractError
from ector.ingest.canonical import ingest_dtype

# ISO 8601 text is how a clean stream writes dates; anything else that parses counts as a date_format repair.
_ISO_DATE: Final = r"^\d{4}-\d{2}-\d{2}$"
_ISO_TIMESTAMP: Final = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"

# Float64 values in this open range convert to Int64 without overflow.
_INT64_LIMIT: Final = 2.0**63

_REPAIR_BY_KIND: Final = {
    Kind.KEY: rules.KEY_VARIANT,
    Kind.CODE: rules.CODE_VARIANT,
    Kind.BOOLEAN: rules.CODE_VARIANT,
    Kind.DATE: rules.DATE_FORMAT,
    Kind.TIMESTAMP: rules.DATE_FORMAT,
}


@dataclass(frozen=True)
class Standardised:
    """One table after standardisation, and the dtype each column had as ingested."""

    frame: pl.LazyFrame
    raw_dtypes: dict[str, pl.DataType]
    ambiguous: tuple[str, ...] = ()  # the columns whose text may read as two dates, flagged in ambiguous_name(c)


@dataclass(frozen=True)
class _Value:
    """How one column is standardised: its value, whether the row was repaired, and the text it is read from."""

    value: pl.Expr
    # Given the standardised column, true where the row was repaired: evaluated once the value is computed, so
    # the parsing is not done twice.
    repaired: Callable[[pl.Expr], pl.Expr] | None = None
    # The text the value is read from (trimmed, maybe lower-cased), computed once in a helper column before the
    # value, because the value reads it several times (one code per branch, one date format per attempt).
    prepared: pl.Expr | None = None
    # Columns computed from the prepared text before the value (a date's day-first and month-first readings).
    helpers: tuple[pl.Expr, ...] = ()
    # Given the helpers, true where a date text reads as two dates (`dates`); None: never.
    ambiguous: pl.Expr | None = None


def standardise(
    frame: pl.LazyFrame, table: Table, parsing: Parsing, date_orders: Mapping[str, DateOrder | None] | None = None
) -> Standardised:
    """The table with every canonical column standardised, the ingested values beside them, and repair flags.

    Columns: the canonical columns (working dtypes, contract order), then `raw_name(c)` for each, then
    `repair_name(rule)` for each repair rule, then `ambiguous_name(c)` for each column of `Standardised.ambiguous`.
    Optional columns the input lacks are added as nulls; a missing required column raises ContractError. Columns
    that are not canonical are dropped. `date_orders` gives the order each date text column is read in (None or
    absent: undecided, see `dates`); without it, the orders settings state.
    """
    if date_orders is None:
        date_orders = {column: order for (name, column), order in parsing.date_orders.items() if name == table.name}
    schema = frame.collect_schema()
    raw_columns: list[pl.Expr] = []
    raw_dtypes: dict[str, pl.DataType] = {}
    for column in table.columns:
        if column.name in schema:
            raw_dtypes[column.name] = schema[column.name]
            raw_columns.append(pl.col(column.name).alias(raw_name(column.name)))
        elif column.required:
            raise ContractError(
                f"required column {table.name}.{column.name} is missing from the ingested table",
                "run `ector ingest` again with a source that has it",
            )
        else:
            raw_dtypes[column.name] = ingest_dtype(column.dtype)
            raw_columns.append(pl.lit(None, dtype=raw_dtypes[column.name]).alias(raw_name(column.name)))

    prepared: list[pl.Expr] = []
    helpers: list[pl.Expr] = []
    values: list[pl.Expr] = []
    ambiguous: dict[str, pl.Expr] = {}  # column -> its ambiguous_name flag
    repaired: dict[str, list[pl.Expr]] = {rule: [] for rule in rules.REPAIRS}
    for column in table.columns:
        column_kind = kind(table, column)
        raw = pl.col(raw_name(column.name))
        helper = pl.col(_prepared_name(column.name))
        how = _How(helper, column.name, parsing, date_orders.get(column.name))
        result = _standardise(raw, raw_dtypes[column.name], column_kind, how)
        if result.prepared is not None:
            prepared.append(result.prepared.alias(_prepared_name(column.name)))
        helpers += result.helpers
        values.append(result.value.cast(WORKING_DTYPES[column_kind]).alias(column.name))
        if result.ambiguous is not None:
            ambiguous[column.name] = result.ambiguous.fill_null(False).alias(ambiguous_name(column.name))
        if result.repaired is not None:
            repaired[_REPAIR_BY_KIND[column_kind]].append(result.repaired(pl.col(column.name)).fill_null(False))
    flags = [
        (pl.any_horizontal(exprs) if exprs else pl.lit(False)).alias(repair_name(rule))
        for rule, exprs in repaired.items()
    ]
    raw_names = [raw_name(c.name) for c in table.columns]
    standardised = (
        frame.select(raw_columns)
        .with_columns(prepared)
        .with_columns(helpers)
        .with_columns(*values, *ambiguous.values())
        .with_columns(flags)
        .select(
            *table.column_names,
            *raw_names,
            *(repair_name(rule) for rule in rules.REPAIRS),
            *(ambiguous_name(c) for c in ambiguous),
        )
    )
    return Standardised(standardised, raw_dtypes, tuple(ambiguous))


def standardised_key(table: Table) -> pl.Expr:
    """The key of each row of an ingested `table`, standardised exactly as `standardise` does."""
    return _nonblank(normalised_key(pl.col(table.key))).alias(table.key)


def _prepared_name(column: str) -> str:
    return f"__prepared__{column}"


@dataclass(frozen=True)
class _How:
    """What standardising one column needs besides its values."""

    helper: pl.Expr  # the column holding `_Value.prepared` once computed
    name: str
    parsing: Parsing
    date_order: DateOrder | None  # the order its date text is read in; None: undecided


def _standardise(raw: pl.Expr, dtype: pl.DataType, column_kind: Kind, how: _How) -> _Value:
    """How to standardise one column."""
    helper, name, parsing = how.helper, how.name, how.parsing
    if dtype == pl.Null():
        return _Value(raw.cast(WORKING_DTYPES[column_kind]))
    text = _text(raw, dtype)
    match column_kind:
        case Kind.KEY:
            return _Value(_nonblank(helper), _changed(text), normalised_key(text))
        case Kind.CODE:
            return _Value(mapped(helper, parsing.code_map(name)), _changed(text), _lower_trimmed(text))
        case Kind.BOOLEAN if dtype == pl.Boolean():
            return _Value(raw)
        case Kind.BOOLEAN:
            # The map's values are the text 'true' / 'false' (a Boolean cast to text reads the same); any other
            # spelling (Y, 1, yes, True) is a code variant.
            return _Value(mapped(helper, parsing.code_map(name)) == "true", _changed(text), _lower_trimmed(text))
        case Kind.DATE:
            return _date(raw, dtype, how)
        case Kind.TIMESTAMP:
            return _timestamp(raw, dtype, how)
        case Kind.INTEGER:
            return _integer(raw, dtype, helper)
        case Kind.FLOAT:
            return _float(raw, dtype)
        case Kind.TEXT:
            return _Value(pl.when(text.str.strip_chars() != "").then(text))


def _text(raw: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    return raw if dtype == pl.String() else raw.cast(pl.String)


def _nonblank(text: pl.Expr) -> pl.Expr:
    """`text`, null where it is empty: blank is missing, not a value."""
    return pl.when(text != "").then(text)


def _lower_trimmed(text: pl.Expr) -> pl.Expr:
    # Blank text becomes '', which no code map holds (parsing drops it), so a blank code is missing, not unmapped.
    return text.str.strip_chars().str.to_lowercase()


def _changed(text: pl.Expr) -> Callable[[pl.Expr], pl.Expr]:
    """Repaired: a value came out of the text, and it is not the text itself."""

    def repaired(value: pl.Expr) -> pl.Expr:
        return value.is_not_null() & (value.cast(pl.String) != text)

    return repaired


def _date(raw: pl.Expr, dtype: pl.DataType, how: _How) -> _Value:
    if dtype == pl.Date():
        return _Value(raw)
    if isinstance(dtype, pl.Datetime):
        return _Value(_naive(raw, dtype).dt.date())
    # A date written as a timestamp keeps its date: the time of day is dropped, and that counts as a repair.
    return _read_text(raw, dtype, how, how.parsing.date_readers, _ISO_DATE)


def _timestamp(raw: pl.Expr, dtype: pl.DataType, how: _How) -> _Value:
    if isinstance(dtype, pl.Datetime):
        return _Value(_naive(raw, dtype).cast(TIMESTAMP))
    if dtype == pl.Date():
        return _Value(raw.cast(TIMESTAMP))
    return _read_text(raw, dtype, how, how.parsing.timestamp_readers, _ISO_TIMESTAMP)


def _read_text(raw: pl.Expr, dtype: pl.DataType, how: _How, readers: Readers, iso: str) -> _Value:
    read = reading(how.helper, readers, how.date_order, f"__reading__{how.name}__")
    prepared = _text(raw, dtype).str.strip_chars()
    return _Value(read.value, _not_iso(how.helper, iso), prepared, read.helpers, read.ambiguous)


def _not_iso(text: pl.Expr, iso: str) -> Callable[[pl.Expr], pl.Expr]:
    """Repaired: a date came out of text that is not ISO 8601."""

    def repaired(value: pl.Expr) -> pl.Expr:
        return value.is_not_null() & ~text.str.contains(iso)

    return repaired


def _naive(raw: pl.Expr, dtype: pl.Datetime) -> pl.Expr:
    # Gold timestamps are naive local time: keep the wall clock of a zone-aware value (as ingest does).
    return raw.dt.replace_time_zone(None) if dtype.time_zone else raw


def _integer(raw: pl.Expr, dtype: pl.DataType, helper: pl.Expr) -> _Value:
    if dtype.is_integer():
        return _Value(raw.cast(pl.Int64, strict=False))  # a UInt64 beyond Int64 becomes null: an invalid number
    if dtype.is_float():
        return _Value(_integral(raw.cast(pl.Float64)))
    # '3.0' is how many exports write an integer; '3.5' is not an integer and stays unreadable.
    value = pl.coalesce(helper.cast(pl.Int64, strict=False), _integral(helper.cast(pl.Float64, strict=False)))
    return _Value(value, prepared=_text(raw, dtype).str.strip_chars())


def _integral(number: pl.Expr) -> pl.Expr:
    fits = number.is_finite() & (number == number.floor()) & (number.abs() < _INT64_LIMIT)
    return pl.when(fits).then(number.cast(pl.Int64, strict=False))


def _float(raw: pl.Expr, dtype: pl.DataType) -> _Value:
    if dtype.is_numeric():
        return _Value(raw.cast(pl.Float64))
    return _Value(_text(raw, dtype).str.strip_chars().cast(pl.Float64, strict=False))
