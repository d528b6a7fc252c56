"""The case mart built part by part, so that memory follows the size of a part rather than of the whole mart.

One plan over every case held hash tables over all cases and sorted them all (5.8 GB at 10M cases,
docs/performance.md). Here the cases are cut into runs of consecutive surgery days of about `part_cases` cases
each. Each part is built, sorted and written in turn (`mart.case_mart`); then one streaming pass reads the
parts in order, adds the expected rates and writes the mart. Parts follow the mart's sort order, so the parts
read in order are the sorted mart.

What a case needs from outside its part is brought in explicitly:
- surgeon_case_seq: each surgeon and family's number of cases in earlier parts, added to the rank in the part;
- reoperation: the later cases looked for reach `window` days past the part's last day;
- readmission: the encounters read reach `window` days past the part's last discharge;
- expected rates: stratum rates over all the parts, joined in the last pass (`risk.with_expected`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import polars as pl

from ector.transform import derive
from ector.transform.dictionary import MART_COLUMN_NAMES
from ector.transform.mart import EXPECTED, case_rows

UNIT = ("surgeon_id", "procedure_family")  # the cases surgeon_case_seq counts
_EARLIER = "_earlier_cases"


@dataclass(frozen=True)
class Part:
    """A run of consecutive surgery days: the first and last (None: unbounded), and the span of its discharges."""

    index: int
    first_day: date | None
    last_day: date | None
    first_discharge: date | None
    last_discharge: date | None


def surgery_days(cases: pl.LazyFrame, part_cases: int) -> pl.LazyFrame:
    """Return one row per surgery day: its cases `n`, first and last discharge date, and the `part` it falls in.

    Days are given to parts in date order, a new part starting once the earlier days hold `part_cases`
    cases: a part holds whole days, so a day busier than `part_cases` is a part of its own.
    """
    days = (
        cases.group_by("surgery_date")
        .agg(
            n=pl.len(),
            first_discharge=pl.col("discharge_date").min(),
            last_discharge=pl.col("discharge_date").max(),
        )
        .sort("surgery_date")  # nulls first, like the mart's sort
    )
    return days.with_columns(part=((pl.col("n").cum_sum() - pl.col("n")) // part_cases).cast(pl.Int32))


def parts_of(days: pl.DataFrame) -> list[Part]:
    """Return the parts of `surgery_days`; the first has no lower bound and the last no upper bound.

    Without any case, one part without bounds: the mart is then empty, with its columns.
    """
    if days.is_empty():
        return [Part(index=0, first_day=None, last_day=None, first_discharge=None, last_discharge=None)]
    spans = (
        days.group_by("part")
        .agg(
            first_day=pl.col("surgery_date").min(),
            last_day=pl.col("surgery_date").max(),
            first_discharge=pl.col("first_discharge").min(),
            last_discharge=pl.col("last_discharge").max(),
        )
        .sort("part")
    )
    last = spans.height - 1
    return [
        Part(
            index=row["part"],  # not k: a day busier than a part skips part numbers
            first_day=None if k == 0 else row["first_day"],
            last_day=None if k == last else row["last_day"],
            first_discharge=row["first_discharge"],
            last_discharge=row["last_discharge"],
        )
        for k, row in enumerate(spans.iter_rows(named=True))
    ]


def earlier_cases(cases: pl.LazyFrame, days: pl.DataFrame) -> pl.LazyFrame:
    """Return, per surgeon, procedure family and part, the unit's number of cases in the parts before it."""
    counts = (
        cases.select(*UNIT, "surgery_date")
        .join(days.lazy().select("surgery_date", "part"), on="surgery_date", how="left", nulls_equal=True)
        .group_by(*UNIT, "part")
        .agg(n=pl.len().cast(pl.Int32))
    )
    earlier = (pl.col("n").cum_sum() - pl.col("n")).over(list(UNIT), order_by="part")
    return counts.select(*UNIT, "part", earlier.alias(_EARLIER))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def starts_between(first_day: date | None, before_day: date | None) -> pl.Expr:
    """Return whether surgery_start is on or after `first_day` and before `before_day` (None: unbounded).

    Without a lower bound, a case with no surgery_start is in: the mart sorts those first.
    """
    start = pl.col("surgery_start")
    conditions = []
    if first_day is not None:
        conditions.append(start >= _midnight(first_day))
    if before_day is not None:
        conditions.append(start < _midnight(before_day))
    within = pl.all_horizontal(conditions) if conditions else pl.lit(value=True)
    return within if first_day is not None else within | start.is_null()


def part_tables(tables: Mapping[str, pl.LazyFrame], part: Part, window: int) -> dict[str, pl.LazyFrame]:
    """Return `tables` with the cases of `part` only, and the encounters a readmission of them can be."""
    day = timedelta(days=1)
    before = None if part.last_day is None else part.last_day + day
    chosen = dict(tables)
    chosen["cases"] = tables["cases"].filter(starts_between(part.first_day, before))
    if "encounters" in tables:
        # A readmission is the first unplanned admission on or after the discharge, counted within the window:
        # admissions outside the part's discharges (plus the window) can be no case's readmission.
        admitted = pl.col("admission_date")
        if part.first_discharge is None or part.last_discharge is None:
            keep = pl.lit(value=False)
        else:
            keep = admitted.is_between(part.first_discharge, part.last_discharge + timedelta(days=window))
        chosen["encounters"] = tables["encounters"].filter(keep)
    return chosen


def part_plan(tables: Mapping[str, pl.LazyFrame], part: Part, earlier: pl.DataFrame, window: int) -> pl.LazyFrame:
    """Return the plan of one part of the mart: every mart column but the expected rates, sorted."""
    chosen = part_tables(tables, part, window)
    cases = chosen["cases"].with_columns(derive.surgery_date())
    offsets = earlier.lazy().filter(pl.col("part") == part.index).drop("part")
    cases = cases.join(offsets, on=list(UNIT), how="left", nulls_equal=True)
    reach = None if part.last_day is None else part.last_day + timedelta(days=window + 1)
    later = tables["cases"].filter(starts_between(part.first_day, reach)).with_columns(derive.surgery_date())
    seq = (derive.surgeon_case_seq() + pl.col(_EARLIER).fill_null(0)).alias("surgeon_case_seq")
    frame = case_rows(cases, chosen, window, later=later, case_seq=seq)
    return frame.select(c for c in MART_COLUMN_NAMES if c not in EXPECTED).sort("surgery_start", "case_id")
