"""Windowed event outcomes per case: complications, readmission, reoperation, mortality (docs/gold-contract.md).

Windows are inclusive whole days: an event counts when (event date - anchor date) is 0..window_days. Events are
matched to cases by case_id or patient_id and brought back to one row per case, so memory grows with the number
of cases and events, never with their product: complications are aggregated per case; readmission and
reoperation are as-of joins that find, per case, the single next event of the same patient.

The `with_*` functions add their columns to any frame holding the key columns (see `case_keys`); like every
join, they do not keep row order. `event_outcomes` computes all of them on the narrow key columns alone, for
one join back onto a wide frame (what the case mart does): sorting and joining five columns is far cheaper
than sorting and joining forty.

An outcome whose source table is absent is null for every case ("not available"), never false.
"""

from __future__ import annotations

import polars as pl

from ector.contract import CLAVIEN_DINDO, MAJOR_CLAVIEN_DINDO
from ector.transform.derive import days_between, surgery_date, within_window

_GRADE_RANK = {grade: rank for rank, grade in enumerate(CLAVIEN_DINDO, start=1)}
_RANK_GRADE = {rank: grade for grade, rank in _GRADE_RANK.items()}
_MAJOR_RANK = min(_GRADE_RANK[g] for g in MAJOR_CLAVIEN_DINDO)
KEY_COLUMNS = ("case_id", "patient_id", "surgery_start", "surgery_date", "discharge_date")
EVENT_COLUMNS: dict[str, pl.DataType] = {
    "complication_count": pl.Int32(),
    "worst_clavien_dindo": pl.String(),
    "complication_any": pl.Boolean(),
    "complication_major": pl.Boolean(),
    "readmission_30d": pl.Boolean(),
    "reoperation_30d": pl.Boolean(),
}


def case_keys(cases: pl.LazyFrame) -> pl.LazyFrame:
    """Return the columns events are matched on: case_id, patient_id, surgery_start, surgery_date, discharge_date.

    surgery_date is derived from surgery_start when `cases` lacks it.
    """
    if "surgery_date" not in cases.collect_schema():
        cases = cases.with_columns(surgery_date())
    return cases.select(KEY_COLUMNS)


def _unavailable(frame: pl.LazyFrame, *columns: str) -> pl.LazyFrame:
    return frame.with_columns(pl.lit(None, dtype=EVENT_COLUMNS[c]).alias(c) for c in columns)


def clavien_dindo_rank(grade: str | pl.Expr = "clavien_dindo") -> pl.Expr:
    """Return the severity rank of a Clavien-Dindo grade, 1 (I) to 7 (V) as Int8; null for an unknown grade."""
    expr = pl.col(grade) if isinstance(grade, str) else grade
    return expr.replace_strict(_GRADE_RANK, default=None, return_dtype=pl.Int8)


def complications_in_window(keys: pl.LazyFrame, complications: pl.LazyFrame, window_days: int) -> pl.LazyFrame:
    """Return, per case with a complication in the window, case_id, complication_count and worst_rank.

    `keys` holds case_id and surgery_date. A complication counts when its onset is 0..window days after
    surgery_date, or when its onset_date is unknown (docs/gold-contract.md).
    """
    onset = days_between(pl.col("surgery_date"), pl.col("onset_date"))
    return (
        complications.select("case_id", "clavien_dindo", "onset_date")
        .join(keys.select("case_id", "surgery_date"), on="case_id", how="inner")
        .filter(pl.col("onset_date").is_null() | within_window(onset, window_days))
        .group_by("case_id")
        .agg(complication_count=pl.len().cast(pl.Int32), worst_rank=clavien_dindo_rank().max())
    )


def with_complications(
    cases: pl.LazyFrame, complications: pl.LazyFrame | None, window_days: int, *, keys: pl.LazyFrame | None = None
) -> pl.LazyFrame:
    """Return `cases` with complication_count, worst_clavien_dindo, complication_any, complication_major.

    Without a complications table all four are null (not available); with one, a case without complications
    in the window has count 0, worst grade null, and both flags false. A grade outside Clavien-Dindo counts
    for complication_count and complication_any only. Complications are dated against `keys` (default: `cases`).
    """
    if complications is None:
        return _unavailable(
            cases, "complication_count", "worst_clavien_dindo", "complication_any", "complication_major"
        )
    counted = complications_in_window(case_keys(cases) if keys is None else keys, complications, window_days)
    count = pl.col("complication_count").fill_null(0)
    worst = pl.col("worst_rank")
    return (
        cases.join(counted, on="case_id", how="left")
        .with_columns(
            complication_count=count,
            worst_clavien_dindo=worst.replace_strict(_RANK_GRADE, default=None, return_dtype=pl.String),
            complication_any=count > 0,
            complication_major=(worst >= _MAJOR_RANK).fill_null(False),
        )
        .drop("worst_rank")
    )


def with_readmission(cases: pl.LazyFrame, encounters: pl.LazyFrame | None, window_days: int) -> pl.LazyFrame:
    """Return `cases` with readmission_30d: an unplanned encounter admitted 0..window days after discharge.

    Only encounters explicitly marked planned are excluded: planned = null counts as unplanned, the registry
    convention (an admission is a readmission unless known to be planned). Null without a discharge_date, and
    for every case without an encounters table. `cases` needs patient_id and discharge_date.
    """
    if encounters is None:
        return _unavailable(cases, "readmission_30d")
    unplanned = (
        encounters.filter(pl.col("planned").fill_null(False).not_())
        .select("patient_id", pl.col("admission_date").alias("next_admission"))
        .drop_nulls()
        .sort("next_admission")
    )
    # The first unplanned admission of the patient on or after the discharge date: if that one is outside the
    # window, so is every later one. A case without a discharge date matches nothing.
    matched = cases.sort("discharge_date").join_asof(
        unplanned,
        left_on="discharge_date",
        right_on="next_admission",
        by="patient_id",
        strategy="forward",
        allow_exact_matches=True,  # admitted on the day of discharge: day 0 counts
        check_sortedness=False,  # both sides are sorted just above; the check cannot see through `by`
    )
    gap = days_between(pl.col("discharge_date"), pl.col("next_admission"))
    readmitted = pl.when(pl.col("discharge_date").is_not_null()).then(within_window(gap, window_days).fill_null(False))
    return matched.with_columns(readmission_30d=readmitted).drop("next_admission")


def with_reoperation(cases: pl.LazyFrame, window_days: int, *, keys: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """Return `cases` with reoperation_30d: another case of the patient starting later, within the window.

    "Later" is a strictly later surgery_start: of two cases of a patient starting at the same minute neither
    is the other's reoperation; a second case later the same day counts for the first (0 days). The window is
    on surgery dates. `cases` needs patient_id, surgery_start and surgery_date; the later cases are looked for
    in `keys` (default: `cases` itself).
    """
    later = (
        (cases if keys is None else keys)
        .select("patient_id", pl.col("surgery_start").alias("next_start"), pl.col("surgery_date").alias("next_date"))
        .sort("next_start")
    )
    matched = cases.sort("surgery_start").join_asof(
        later,
        left_on="surgery_start",
        right_on="next_start",
        by="patient_id",
        strategy="forward",
        allow_exact_matches=False,  # strictly later: equal starts are not a reoperation
        check_sortedness=False,  # both sides are sorted just above; the check cannot see through `by`
    )
    gap = days_between(pl.col("surgery_date"), pl.col("next_date"))
    reoperated = within_window(gap, window_days).fill_null(False)
    return matched.with_columns(reoperation_30d=reoperated).drop("next_start", "next_date")


def event_outcomes(
    keys: pl.LazyFrame,
    complications: pl.LazyFrame | None,
    encounters: pl.LazyFrame | None,
    window_days: int,
    *,
    later: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Return case_id and the EVENT_COLUMNS of every case of `keys` (see `case_keys`), in no particular order.

    Reoperations are looked for among `later` (default: `keys`), which must hold every case of the same
    patients starting up to `window_days` after the last case of `keys`.
    """
    events = with_readmission(keys, encounters, window_days)
    events = with_reoperation(events, window_days, keys=keys if later is None else later)
    events = with_complications(events, complications, window_days, keys=keys)
    return events.select("case_id", *EVENT_COLUMNS)


def mortality(window_days: int, *, patients_available: bool = True) -> pl.Expr:
    """Return mortality_30d: death_date 0..window days after surgery_date, or discharge_destination died.

    Needs surgery_date, death_date (from patients) and discharge_destination. A patient not known to have died
    (death_date null) is alive. Without the patients table it is null for every case: counting only in-hospital
    deaths would report a 30-day mortality that misses every death after discharge.
    """
    if not patients_available:
        return pl.lit(None, dtype=pl.Boolean).alias("mortality_30d")
    died_in_window = within_window(days_between(pl.col("surgery_date"), pl.col("death_date")), window_days)
    died_in_hospital = pl.col("discharge_destination") == "died"
    return (died_in_window.fill_null(False) | died_in_hospital.fill_null(False)).alias("mortality_30d")
