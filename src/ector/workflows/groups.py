"""Work that holds a state per unit or per patient, done a group at a time so memory follows the group.

Three kinds of aggregate keep every key in memory until the end: per-case series (sorted by unit and time),
distinct (group, patient) pairs, and one row per patient. Their memory grows with the mart: measured alone at
10M cases, the learning curves took 2.65 GB, the per-patient table 1.96 GB and the distinct patients of a
unit 1.5 GB; at 100M cases they would not fit in 24 GB. Split by a hash of the unit or the patient, or by
ranges of patient_id, each group is a fraction of that, and the result is the same table: a unit's series, a
patient's pairs and a patient's row lie wholly in one group.

Distinct counts stay single plans, a concatenation of group plans (`parallel=False`) that the streaming engine
runs mostly one group after the other, provided the groups do not share one scan of the mart (the views collect
and sink with `shared_scans=False`, see `engine.optimizations`): at 10M cases, the distinct patients of surgeons
in four groups peaked at 0.49 GB against 1.43 GB whole. Their results are a few rows per group; a large result
overlaps more: the per-patient table in 20 ranges, as one plan, took 0.79 GB against 1.87 GB in one range and
0.27 GB as 20 separate sinks, so its ranges are `plan.Parts`, written one after the other by the stage. The
series are collected group by group, as their plans end in a thinning window over each group's own sort.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from math import ceil
from typing import Final

import polars as pl

from ector.workflows.plan import Parts

# Cases per group of units whose per-case series are computed together: the series hold their cases in memory.
SERIES_CASES: Final = 1_000_000
# Cases per group of patients for distinct patients and the per-patient table: each group costs one pass over
# the mart's few columns, so groups are larger; up to this many cases there is one group, the plan as it was.
PATIENT_CASES: Final = 5_000_000
# Patient ids drawn (by hash) to place the boundaries of the per-patient ranges; only their balance depends on it.
SAMPLED_PATIENTS: Final = 200_000
PATIENT: Final = "patient_id"


def group_count(cases: int, per_group: int) -> int:
    """Return how many groups split `cases` into groups of about `per_group` (at least one)."""
    return max(1, ceil(cases / per_group))


def in_unit_groups(
    plan_of: Callable[[pl.LazyFrame], pl.LazyFrame],
    mart: pl.LazyFrame,
    unit: str,
    *,
    cases: int,
    order: Sequence[str],
    collect: Callable[[pl.LazyFrame], pl.DataFrame],
) -> pl.LazyFrame | pl.DataFrame:
    """Return `plan_of(mart)`, computed for groups of units of about SERIES_CASES cases and sorted by `order`.

    Each group is collected in turn (with `collect`). Up to SERIES_CASES cases, the plan itself, for the runner
    to sink. `plan_of` must compute each unit's rows from that unit's cases alone.
    """
    groups = group_count(cases, SERIES_CASES)
    if groups == 1:
        return plan_of(mart)
    group = pl.col(unit).hash(seed=0) % groups
    # Rechunked because a thinned series' strings are views into the buffers of every case of its group, which
    # they would keep alive: at 10M cases, ten groups of learning curves held 1.64 GB kept as collected, 1.07 GB
    # rechunked (the rows themselves are about 0.3 GB).
    parts = [collect(plan_of(mart.filter(group == g))).rechunk() for g in range(groups)]
    return pl.concat(parts).sort(list(order), nulls_last=True)


def distinct_patients(mart: pl.LazyFrame, keys: Sequence[str], *, cases: int) -> pl.LazyFrame:
    """Return the plan of `*keys, patients`: distinct non-null patient_id per group of `keys`.

    n_unique does not stream: distinct (keys, patient) pairs first, which do, then counted. Above
    PATIENT_CASES cases the pairs are taken per group of patients (by hash) and the counts added: a patient is
    in one group, so each pair is counted once.
    """
    keys = list(keys)

    def counted(frame: pl.LazyFrame) -> pl.LazyFrame:
        pairs = frame.select(*keys, PATIENT).filter(pl.col(PATIENT).is_not_null()).unique()
        return pairs.group_by(keys).agg(patients=pl.len().cast(pl.Int64))

    groups = group_count(cases, PATIENT_CASES)
    if groups == 1:
        return counted(mart)
    group = pl.col(PATIENT).hash(seed=0) % groups
    parts = pl.concat([counted(mart.filter(group == g)) for g in range(groups)], parallel=False)
    return parts.group_by(keys).agg(pl.col("patients").sum())


def patient_sample_plan(mart: pl.LazyFrame, *, cases: int) -> pl.LazyFrame:
    """Return the plan of about SAMPLED_PATIENTS distinct patient ids (a hash sample), sorted; empty when the
    per-patient table needs one range only. `patient_ranges` turns it into boundaries."""
    if group_count(cases, PATIENT_CASES) == 1:
        return pl.LazyFrame(schema={PATIENT: pl.String})
    every = max(1, cases // SAMPLED_PATIENTS)
    drawn = pl.col(PATIENT).is_not_null() & (pl.col(PATIENT).hash(seed=1) % every == 0)
    return mart.select(pl.col(PATIENT).cast(pl.String)).filter(drawn).unique().sort(PATIENT)


def patient_ranges(sample: pl.DataFrame, *, cases: int) -> list[pl.Expr]:
    """Return filters that split patients into consecutive patient_id ranges of about PATIENT_CASES cases.

    Boundaries are evenly spaced ids of the sorted `sample`; null ids fall in the last range (they sort last).
    One filter, all rows, when the sample is empty.
    """
    ids = sample[PATIENT]
    groups = min(group_count(cases, PATIENT_CASES), ids.len())
    bounds = list(dict.fromkeys(ids[(ids.len() * g) // groups] for g in range(1, groups)))
    patient = pl.col(PATIENT).cast(pl.String)

    def between(low: str | None, high: str | None) -> pl.Expr:
        above = pl.lit(True) if low is None else patient >= low
        return above | pl.col(PATIENT).is_null() if high is None else above & (patient < high)

    return [between(low, high) for low, high in pairwise([None, *bounds, None])]


def in_patient_ranges(
    plan_of: Callable[[pl.LazyFrame], pl.LazyFrame], mart: pl.LazyFrame, ranges: Sequence[pl.Expr]
) -> pl.LazyFrame | Parts:
    """Return `plan_of` over each patient range, as Parts in range order: sorted by patient_id when `plan_of`
    sorts by it (the ranges are consecutive). One range: the plan itself."""
    if len(ranges) == 1:
        return plan_of(mart)
    return Parts(tuple(plan_of(mart.filter(selected)) for selected in ranges))
