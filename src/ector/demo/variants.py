"""Dirty values: what a source stream writes instead of the clean value, one function per kind of dirt.

Code variants come from consolidation's own code maps and date texts from its own format lists, so every
planted repair is one consolidation can make; unmapped codes and garbage dates are checked against the same
lists to be sure it cannot.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from ector.consolidate import codes

ISO_DATE: Final = codes.DATE_FORMATS[0]
ISO_TIMESTAMP: Final = codes.TIMESTAMP_FORMATS[0]
# Only unmistakably non-ISO formats, so that no reading of "ISO 8601" could count them as already canonical.
DATE_TEXT_FORMATS: Final = tuple(f for f in codes.DATE_FORMATS if f in ("%d/%m/%Y", "%d-%b-%Y"))
TIMESTAMP_TEXT_FORMATS: Final = tuple(f for f in codes.TIMESTAMP_FORMATS if f.startswith("%d/%m/%Y"))
# What a slash date that would read as two dates is written in when nothing beside it says it is day-first.
NAMED_MONTH_DATE: Final = "%d-%b-%Y"
NAMED_MONTH_TIMESTAMP: Final = "%d-%b-%Y %H:%M:%S"

GARBAGE_DATES: Final = ("31/02/2021", "2021-13-45", "00/00/0000", "2019-02-30", "45/45/2045", "20211345")
GARBAGE_TIMESTAMPS: Final = ("2021-02-30 10:00:00", "31/02/2021 08:15", "2021-13-01 25:00:00", "99/99/9999 99:99")
UNMAPPED: Final[dict[str, tuple[str, ...]]] = {
    "sex": ("Q", "unspecified", "other"),
    "approach": ("hybrid", "endoscopic"),
    "urgency": ("routine", "scheduled"),
    "clavien_dindo": ("VI", "6", "IIIc"),
    "discharge_destination": ("hospice", "absconded"),
    "site_type": ("field hospital",),
}
BOOLEAN_TEXT: Final = {True: "true", False: "false"}  # the canonical text of a boolean stored as text


def code_map(column: str, dtype: pl.DataType) -> dict[str, str]:
    """Returns consolidation's map (lower-case source text -> canonical text) for a coded or boolean column."""
    return codes.BOOLEAN if dtype == pl.Boolean() else codes.CODE_MAPS[column]


@cache
def variants_of(column: str, boolean: bool) -> dict[str, tuple[str, ...]]:
    """Returns, per canonical value, the spellings consolidation maps onto it, the canonical one excluded.

    Each map key is offered as written, in upper case and in title case: maps match on lower-cased text.
    """
    mapping = codes.BOOLEAN if boolean else codes.CODE_MAPS[column]
    result: dict[str, list[str]] = {}
    for source, canonical in sorted(mapping.items()):
        for spelling in (source, source.upper(), source.title()):
            if spelling != canonical and spelling not in result.setdefault(canonical, []):
                result[canonical].append(spelling)
    return {canonical: tuple(spellings) for canonical, spellings in result.items()}


def key_variants(keys: pl.Series, rng: np.random.Generator) -> pl.Series:
    """Returns the keys with stray whitespace or in lower case (' s0012', 'h03 ', 'c000042')."""
    kind = pl.Series(rng.integers(0, 4, len(keys)))
    key = pl.col("key")
    return (
        pl.DataFrame({"key": keys, "kind": kind})
        .select(
            pl.when(pl.col("kind") == 0).then(" " + key)
            .when(pl.col("kind") == 1).then(key + " ")
            .when(pl.col("kind") == 2).then(key.str.to_lowercase())
            .otherwise(" " + key.str.to_lowercase() + "  ")
        )
        .to_series()
    )  # fmt: skip


def code_variants(values: pl.Series, column: str, rng: np.random.Generator) -> pl.Series:
    """Returns another spelling of each canonical value (`female`, `LAP`, `3a`, `Y`)."""
    boolean = values.dtype == pl.Boolean()
    table = variants_of(column, boolean)
    canonical = [BOOLEAN_TEXT[v] if boolean else v for v in values.to_list()]
    draws = rng.random(len(canonical))
    return pl.Series([table[c][int(u * len(table[c]))] for c, u in zip(canonical, draws, strict=True)], dtype=pl.String)


def date_texts(values: pl.Series, rng: np.random.Generator) -> pl.Series:
    """Returns dates or timestamps written in one of consolidation's non-ISO formats, day first.

    A slash text with a day of 12 or less (`05/03/2024`) reads as two dates; consolidation reads it day-first
    only when its column holds a slash text with a day above 12. The values of one call go into one column, so
    when none of them is such evidence, those texts are written with the month's name (`05-Mar-2024`) instead:
    every planted text stays a repair, never an ambiguous date.
    """
    timestamps = isinstance(values.dtype, pl.Datetime)
    formats = TIMESTAMP_TEXT_FORMATS if timestamps else DATE_TEXT_FORMATS
    choice = pl.Series(rng.integers(0, len(formats), len(values)))
    frame = pl.DataFrame({"value": values, "format": choice})
    value, fmt = pl.col("value"), pl.col("format")
    expression = value.dt.strftime(formats[-1])
    for index, each in enumerate(formats[:-1]):
        expression = pl.when(fmt == index).then(value.dt.strftime(each)).otherwise(expression)
    slash = fmt.is_in([i for i, each in enumerate(formats) if each.startswith("%d/%m/")])
    day, month = value.dt.day(), value.dt.month()
    ambiguous = slash & (day <= 12) & (day != month)
    named = value.dt.strftime(NAMED_MONTH_TIMESTAMP if timestamps else NAMED_MONTH_DATE)
    without_evidence = ~(slash & (day > 12)).any()
    return frame.select(pl.when(ambiguous & without_evidence).then(named).otherwise(expression)).to_series()


def iso_texts(values: pl.Series) -> pl.Series:
    """Returns dates, timestamps or booleans as the canonical text a clean row of a text column holds."""
    if isinstance(values.dtype, pl.Datetime):
        return values.dt.strftime(ISO_TIMESTAMP)
    if values.dtype == pl.Date():
        return values.dt.strftime(ISO_DATE)
    if values.dtype == pl.Boolean():
        return values.replace_strict(BOOLEAN_TEXT, return_dtype=pl.String)
    return values.cast(pl.String)


def garbage_dates(values: pl.Series, rng: np.random.Generator) -> pl.Series:
    """Returns date-like text that no configured format parses (31 February, month 13, ...)."""
    pool = GARBAGE_TIMESTAMPS if isinstance(values.dtype, pl.Datetime) else GARBAGE_DATES
    return pl.Series([pool[i] for i in rng.integers(0, len(pool), len(values))], dtype=pl.String)


def future_dates(values: pl.Series, run_date: date, rng: np.random.Generator) -> pl.Series:
    """Returns dates a century late (the classic 2121 for 2021); a missing date becomes one after the run."""
    base = run_date + timedelta(days=36_525)
    fallback = pl.Series([base + timedelta(days=int(d)) for d in rng.integers(1, 365, len(values))], dtype=pl.Date)
    return iso_texts(values.dt.offset_by("100y").fill_null(fallback))


def ancient_birth_dates(count: int, rng: np.random.Generator) -> pl.Series:
    """Returns birth dates between 1850 and 1895: patients well over 120 on any run date after 2015."""
    first = date(1850, 1, 1)
    born = [first + timedelta(days=int(d)) for d in rng.integers(0, 46 * 365, count)]
    return iso_texts(pl.Series(born, dtype=pl.Date))


def shifted_dates(values: pl.Series, days: npt.NDArray[np.int64]) -> pl.Series:
    """Returns the dates moved by `days`, as ISO text."""
    return iso_texts((values.cast(pl.Int32) + pl.Series(days).cast(pl.Int32)).cast(pl.Date))


def shifted_timestamps(values: pl.Series, minutes: npt.NDArray[np.int64]) -> pl.Series:
    """Returns the timestamps moved by `minutes`, as ISO text."""
    return iso_texts(values + pl.Series(minutes * 60_000_000).cast(pl.Duration("us")))


def unparseable(text: str, formats: tuple[str, ...]) -> bool:
    """Returns True when no format in `formats` parses `text` (used to check the garbage lists)."""
    for fmt in formats:
        try:
            datetime.strptime(text, fmt)
        except ValueError:
            continue
        return False
    return True
