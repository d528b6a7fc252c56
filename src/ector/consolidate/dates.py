"""Reading date and timestamp text, and which order of day and month each text column is read in.

Two configured formats that differ only in the order of `%d` and `%m` (`%d/%m/%Y` and `%m/%d/%Y`) are a pair:
the day-first and the month-first format. They read `25/03/2019` and `03/25/2019` one way only, but
`06/03/2019` both ways, as two dates. Such a text is never read by guessing. Per column, over the whole table:
- the order `consolidation.date_order` states for the column, when it states one;
- else the order of the column's evidence: a value that only the day-first formats read (a first field above
  12) is evidence of day-first, one that only the month-first formats read (a second field above 12) of
  month-first. Evidence of one order only decides the column: every value is read in that order;
- else (no evidence, or evidence of both orders) each value is read in the only order that reads it, or as
  the one date both orders read (`05/05/2019`); a value the two orders read as different dates is ambiguous,
  and its row is quarantined (`ambiguous_date`).
Formats that are not part of a pair (ISO 8601, `%Y%m%d`, `%d-%b-%Y`) read the same in every order, and a
format list holding one order only (`%d/%m/%Y` without `%m/%d/%Y`) states that order for every column.

Evidence needs every value of a column before its first chunk is checked, so it is gathered in a pass of its
own over the text columns, fused with the table's row count. Only values holding the pair formats' literal
text (the `/` of the defaults) are parsed there; a column without a pair, or with a stated order, is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import polars as pl

DateOrder = Literal["day_first", "month_first"]
DAY_FIRST: Final = "day_first"
MONTH_FIRST: Final = "month_first"

# A strftime directive (`%d`, `%-d`, `%.f`, `%:z`, `%3f`); what is left of a format is literal text.
_DIRECTIVE: Final = re.compile(r"%[-_0^#]?[.:]?\d*[A-Za-z%]")


@dataclass(frozen=True)
class Reader:
    """One configured format, as a column of some kind reads it."""

    fmt: str
    timestamp: bool  # parsed as a timestamp (a date column reads timestamp text too and keeps its date)
    order: DateOrder | None  # the order it reads when its twin is configured as well; None: no twin

    def read(self, text: pl.Expr, *, to_date: bool) -> pl.Expr:
        """`text` parsed with this format (null where it does not fit), as a date when `to_date`."""
        if not self.timestamp:
            return text.str.to_date(self.fmt, strict=False)
        parsed = text.str.to_datetime(self.fmt, time_unit="us", strict=False)
        # A format with a UTC offset yields an aware timestamp; Gold timestamps are naive local time.
        if "%z" in self.fmt or "%:z" in self.fmt or "%Z" in self.fmt:
            parsed = parsed.dt.replace_time_zone(None)
        return parsed.dt.date() if to_date else parsed


@dataclass(frozen=True)
class Readers:
    """The formats a column of one kind (date or timestamp) tries, in order."""

    readers: tuple[Reader, ...]
    to_date: bool  # the column holds dates

    @property
    def paired(self) -> bool:
        """Whether some value could read as two dates: a day-first format and its month-first twin are configured."""
        return any(r.order is not None for r in self.readers)

    def of_order(self, order: DateOrder) -> Readers:
        """These readers without the other order's formats."""
        return Readers(tuple(r for r in self.readers if r.order in (None, order)), self.to_date)

    def first_read(self, text: pl.Expr) -> pl.Expr:
        """The value of the first format that reads each text, null when none does.

        The first format reads every row; the others read only the text it left unread (null elsewhere, which a
        parser skips), because almost every value is in the first format: at 10M timestamps, 0.6 s against 3.2 s
        for every format on every row.
        """
        first = self.readers[0].read(text, to_date=self.to_date)
        if len(self.readers) == 1:
            return first
        unread = pl.when(first.is_null()).then(text)
        return pl.coalesce(first, *(r.read(unread, to_date=self.to_date) for r in self.readers[1:]))

    def pair_literal(self) -> str | None:
        """Literal text every paired format requires (`/`), by which a value that none can read is skipped."""
        shared: set[str] | None = None
        for reader in self.readers:
            if reader.order is not None:
                segments = {s for s in re.split(r"\s+", _DIRECTIVE.sub(" ", reader.fmt)) if s}
                shared = segments if shared is None else shared & segments
        return min(shared, key=lambda s: (-len(s), s)) if shared else None


def readers(date_formats: Sequence[str], timestamp_formats: Sequence[str], *, to_date: bool) -> Readers:
    """The readers of a date column (date formats, then timestamp formats) or of a timestamp column."""
    kinds = [(f, False) for f in date_formats] if to_date else []
    kinds += [(f, True) for f in timestamp_formats]
    present = set(kinds)
    return Readers(tuple(Reader(f, ts, _order(f) if (twin(f), ts) in present else None) for f, ts in kinds), to_date)


def twin(fmt: str) -> str:
    """`fmt` with `%d` and `%m` exchanged (itself when it lacks either)."""
    if "%d" not in fmt or "%m" not in fmt:
        return fmt
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _order(fmt: str) -> DateOrder | None:
    if twin(fmt) == fmt:
        return None
    return DAY_FIRST if fmt.index("%d") < fmt.index("%m") else MONTH_FIRST


@dataclass(frozen=True)
class Reading:
    """How one text column is read: its value, and where its text is ambiguous (null when it never is)."""

    value: pl.Expr
    ambiguous: pl.Expr | None = None
    helpers: tuple[pl.Expr, ...] = ()  # columns computed before the value (its two readings)


def reading(text: pl.Expr, column_readers: Readers, order: DateOrder | None, helper_prefix: str) -> Reading:
    """How to read `text` (trimmed) with `column_readers` in `order`, None when the column's order is undecided.

    `helper_prefix` names the columns holding the day-first and month-first readings of an undecided column.
    """
    if not column_readers.paired:
        return Reading(column_readers.first_read(text))
    if order is not None:
        return Reading(column_readers.of_order(order).first_read(text))
    day_name, month_name = f"{helper_prefix}{DAY_FIRST}", f"{helper_prefix}{MONTH_FIRST}"
    day, month = pl.col(day_name), pl.col(month_name)
    ambiguous = day.is_not_null() & month.is_not_null() & (day != month)
    return Reading(
        pl.when(ambiguous).then(None).otherwise(pl.coalesce(day, month)),
        ambiguous,
        (
            column_readers.of_order(DAY_FIRST).first_read(text).alias(day_name),
            column_readers.of_order(MONTH_FIRST).first_read(text).alias(month_name),
        ),
    )


def evidence(frame: pl.LazyFrame, texts: Mapping[str, tuple[pl.Expr, Readers]]) -> pl.LazyFrame:
    """One row: for each column of `texts` (name -> its text in `frame`, and its readers), whether some value only
    the day-first formats read (`evidence_name(name, DAY_FIRST)`), and whether some only the month-first ones do.

    Only the values holding the pair formats' literal text are read, in a frame of their rows alone: every other
    value reads alike in both orders.
    """
    candidates = [_candidate(text, column_readers).alias(name) for name, (text, column_readers) in texts.items()]
    readings: list[pl.Expr] = []
    aggregates: list[pl.Expr] = []
    for name, (_, column_readers) in texts.items():
        text = pl.col(name)
        day, month = evidence_name(name, DAY_FIRST), evidence_name(name, MONTH_FIRST)
        readings += [
            column_readers.of_order(DAY_FIRST).first_read(text).alias(day),
            column_readers.of_order(MONTH_FIRST).first_read(text).alias(month),
        ]
        aggregates += [
            (pl.col(day).is_not_null() & pl.col(month).is_null()).any().alias(day),
            (pl.col(month).is_not_null() & pl.col(day).is_null()).any().alias(month),
        ]
    return (
        frame.select(candidates)
        .filter(pl.any_horizontal(pl.col(name).is_not_null() for name in texts))
        .with_columns(readings)
        .select(aggregates)
    )


def _candidate(text: pl.Expr, column_readers: Readers) -> pl.Expr:
    """`text` trimmed, null where it lacks the literal text every paired format needs."""
    literal = column_readers.pair_literal()
    candidate = text if literal is None else pl.when(text.str.contains(literal, literal=True)).then(text)
    return candidate.str.strip_chars()


def evidence_name(column: str, order: DateOrder) -> str:
    """The name of the aggregate telling whether `column` holds a value only `order` reads."""
    return f"__evidence__{order}__{column}"


def decided(stated: DateOrder | None, evidence_row: Mapping[str, object], column: str) -> DateOrder | None:
    """The order `column` is read in: the stated one, else that of its evidence when it has evidence of one only."""
    if stated is not None:
        return stated
    day = bool(evidence_row.get(evidence_name(column, DAY_FIRST)))
    month = bool(evidence_row.get(evidence_name(column, MONTH_FIRST)))
    if day != month:
        return DAY_FIRST if day else MONTH_FIRST
    return None
