"""Derived per-case columns as Polars expressions: durations, age and age band, period keys, case sequence.

Every function returns an expression (no frame, no I/O), so the same derivation serves the case mart, a
workflow, or a user's own plan. Column names are parameters with the canonical names as defaults.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

from ector.contract import AGE_BANDS, APPROACHES

_MICROSECONDS_PER_MINUTE = 60_000_000
# Approaches in which a conversion to open surgery can happen: all but "open".
_MINIMALLY_INVASIVE = tuple(a for a in APPROACHES if a != "open")


def days_between(start: str | pl.Expr, end: str | pl.Expr) -> pl.Expr:
    """Return whole days from date `start` to date `end` (Int32; negative when end is earlier; null if either is)."""
    start_expr = pl.col(start) if isinstance(start, str) else start
    end_expr = pl.col(end) if isinstance(end, str) else end
    # Dates are days since the epoch: integer subtraction is exact and cheaper than a Duration.
    return end_expr.cast(pl.Int32) - start_expr.cast(pl.Int32)


def within_window(days: pl.Expr, window_days: int) -> pl.Expr:
    """Return whether `days` (event date - anchor date) lies in the inclusive window 0..window_days."""
    return days.is_between(0, window_days, closed="both")


def surgery_date(surgery_start: str = "surgery_start") -> pl.Expr:
    """Return the date of surgery_start, named surgery_date."""
    return pl.col(surgery_start).dt.date().alias("surgery_date")


def los_days(admission: str = "admission_date", discharge: str = "discharge_date") -> pl.Expr:
    """Return the length of stay in days, discharge - admission (null while in hospital), named los_days."""
    return days_between(admission, discharge).alias("los_days")


def operative_minutes(start: str = "surgery_start", end: str = "surgery_end") -> pl.Expr:
    """Return end - start in minutes (Float64; null when end is missing), named operative_minutes."""
    micro = (pl.col(end) - pl.col(start)).dt.total_microseconds()
    return (micro.cast(pl.Float64) / _MICROSECONDS_PER_MINUTE).alias("operative_minutes")


def _month_day(date: pl.Expr) -> pl.Expr:
    # dt.month()/dt.day() are Int8: widen before multiplying, or December (12 * 100) overflows.
    return date.dt.month().cast(pl.Int32) * 100 + date.dt.day().cast(pl.Int32)


def age_at(birth: str | pl.Expr = "birth_date", at: str | pl.Expr = "surgery_date") -> pl.Expr:
    """Return completed years from `birth` to `at` (Int16), named age_at_surgery.

    A birthday not yet reached in the year of `at` takes one year off; someone born on 29 February turns a
    year older on 1 March in common years (28 February still precedes the birthday).
    """
    birth_expr = pl.col(birth) if isinstance(birth, str) else birth
    at_expr = pl.col(at) if isinstance(at, str) else at
    years = at_expr.dt.year() - birth_expr.dt.year()
    before_birthday = (_month_day(at_expr) < _month_day(birth_expr)).cast(pl.Int32)
    return (years - before_birthday).cast(pl.Int16).alias("age_at_surgery")


def age_band_bounds(bands: Sequence[str] = AGE_BANDS) -> list[tuple[str, int, int | None]]:
    """Return (label, lowest age, highest age or None) for band labels like `<40`, `40-59`, `80+`."""
    bounds: list[tuple[str, int, int | None]] = []
    for label in bands:
        if match := re.fullmatch(r"<(\d+)", label):
            bounds.append((label, 0, int(match[1]) - 1))
        elif match := re.fullmatch(r"(\d+)-(\d+)", label):
            bounds.append((label, int(match[1]), int(match[2])))
        elif match := re.fullmatch(r"(\d+)\+", label):
            bounds.append((label, int(match[1]), None))
        else:
            raise ValueError(f"age band {label!r} is not of the form <N, N-M or N+")
    return bounds


def age_band(age: str | pl.Expr = "age_at_surgery", bands: Sequence[str] = AGE_BANDS) -> pl.Expr:
    """Return the age band label of `age` (contract.AGE_BANDS by default; null when age is), named age_band."""
    age_expr = pl.col(age) if isinstance(age, str) else age
    band: pl.Expr = pl.lit(None, dtype=pl.String)
    # Built from the last band to the first so the first matching band wins in the when/then chain.
    for label, low, high in reversed(age_band_bounds(bands)):
        test = age_expr >= low if high is None else age_expr.is_between(low, high)
        band = pl.when(test).then(pl.lit(label)).otherwise(band)
    return band.alias("age_band")


def period_keys(date: str = "surgery_date") -> list[pl.Expr]:
    """Return period_month (YYYY-MM), period_quarter (YYYY-Qn) and period_year (Int32) of `date`."""
    year = pl.col(date).dt.year().cast(pl.Int32)
    month = pl.col(date).dt.month().cast(pl.Int32)
    quarter = pl.col(date).dt.quarter().cast(pl.Int32)
    return [
        pl.format("{}-{}", year, month.cast(pl.String).str.zfill(2)).alias("period_month"),
        pl.format("{}-Q{}", year, quarter).alias("period_quarter"),
        year.alias("period_year"),
    ]


def surgeon_case_seq(
    surgeon: str = "surgeon_id",
    family: str = "procedure_family",
    start: str = "surgery_start",
    key: str = "case_id",
) -> pl.Expr:
    """Return the 1-based rank of each case among its surgeon's cases of the same family (Int32).

    Ordered by surgery_start, then case_id so that two cases starting at the same minute get a stable order.
    """
    rank = pl.int_range(1, pl.len() + 1, dtype=pl.Int32)
    return rank.over([surgeon, family], order_by=[start, key]).alias("surgeon_case_seq")


def conversion(approach: str = "approach", converted: str = "converted_to_open") -> pl.Expr:
    """Return converted_to_open for laparoscopic and robotic cases, null otherwise, named conversion."""
    return (
        pl.when(pl.col(approach).is_in(_MINIMALLY_INVASIVE))
        .then(pl.col(converted))
        .otherwise(pl.lit(None, dtype=pl.Boolean))
        .alias("conversion")
    )
