"""Enrichment joins: cases with the patient, surgeon and site columns the mart and the workflows need.

Each join is a left join on the parent's key, so every case stays exactly once (consolidation leaves one row
per key and quarantines orphans); like every join, it does not keep row order (sort what you publish). When
the parent table is absent, its columns are added as typed nulls: the plan has the same schema either way, and
"not available" stays null rather than a made-up value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from ector.contract import PATIENTS, SITES, SURGEONS, Table

# What each parent table contributes to a case: birth and death dates feed age and mortality, then are dropped
# from the mart (birth_date is personal data).
PATIENT_COLUMNS = ("birth_date", "sex", "death_date")
SURGEON_COLUMNS = ("specialty",)
SITE_COLUMNS = ("site_name", "site_type", "region")


def join_parent(
    cases: pl.LazyFrame, parent: pl.LazyFrame | None, table: Table, columns: Sequence[str], *, on: str | None = None
) -> pl.LazyFrame:
    """Return `cases` with `columns` of `parent` joined on its key (typed nulls when `parent` is None)."""
    if parent is None:
        return cases.with_columns(pl.lit(None, dtype=table.column(c).dtype).alias(c) for c in columns)
    key = table.key
    right = parent.select(key, *columns)
    return cases.join(right, left_on=on or key, right_on=key, how="left")


def with_patients(cases: pl.LazyFrame, patients: pl.LazyFrame | None) -> pl.LazyFrame:
    """Return `cases` with birth_date, sex and death_date of the case's patient."""
    return join_parent(cases, patients, PATIENTS, PATIENT_COLUMNS)


def with_surgeons(cases: pl.LazyFrame, surgeons: pl.LazyFrame | None) -> pl.LazyFrame:
    """Return `cases` with the operating surgeon's specialty."""
    return join_parent(cases, surgeons, SURGEONS, SURGEON_COLUMNS)


def with_sites(cases: pl.LazyFrame, sites: pl.LazyFrame | None) -> pl.LazyFrame:
    """Return `cases` with site_name, site_type and region of the case's site."""
    return join_parent(cases, sites, SITES, SITE_COLUMNS)


def enrich(cases: pl.LazyFrame, tables: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
    """Return `cases` joined with whichever of patients, surgeons and sites `tables` holds."""
    enriched = with_patients(cases, tables.get("patients"))
    enriched = with_surgeons(enriched, tables.get("surgeons"))
    return with_sites(enriched, tables.get("sites"))
