"""Referential integrity: where each reference of a table points, among the rows of its parent table.

A parent's status lists every key the parent table was ingested with (after standardisation and deduplication
each appears once: in its clean table or in its quarantine) and whether that row was quarantined. A reference
to a key not in the list is an orphan; a reference to a quarantined row makes the child follow its parent into
quarantine (`parent_quarantined`). A reference is only checked when the parent table is present at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import polars as pl

from ector.consolidate.columns import ORPHAN, QUARANTINED, reference_name
from ector.consolidate.standardise import standardised_key
from ector.contract import TABLES, Table

STATUS_QUARANTINED: Final = "__quarantined"
_PARENT_QUARANTINED: Final = "__parent_quarantined"


def parent_status(clean: pl.LazyFrame, quarantine: pl.LazyFrame, table: Table) -> pl.LazyFrame:
    """Every key of `table` once, with `__quarantined`, from its consolidated clean rows and quarantine.

    The quarantine holds keys as ingested: they are standardised again, exactly as consolidation did.
    """
    quarantined = quarantine.select(standardised_key(table), pl.lit(True).alias(STATUS_QUARANTINED))
    # Unordered: both halves are read as they come (an ordered concat would buffer one while reading the other).
    return pl.union(
        [
            clean.select(table.key, pl.lit(False).alias(STATUS_QUARANTINED)),
            quarantined.filter(pl.col(table.key).is_not_null()),
        ],
        how="vertical",
    )


def check_references(frame: pl.LazyFrame, table: Table, statuses: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
    """`frame` with reference_name(c) for every reference c: null (fine or not checked), 'orphan' or 'quarantined'.

    `statuses` holds the parent_status of every parent table present; a reference to an absent table stays null.
    """
    for reference in table.references:
        state = reference_name(reference.column)
        status = statuses.get(reference.parent)
        if status is None:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(state))
            continue
        parent_key = TABLES[reference.parent].key
        lookup = status.select(
            pl.col(parent_key).alias(reference.column), pl.col(STATUS_QUARANTINED).alias(_PARENT_QUARANTINED)
        )
        # The parent's keys are the build side: the child (often the bigger table) streams past them.
        frame = frame.join(lookup, on=reference.column, how="left", build_side="force_right").with_columns(
            pl.when(pl.col(reference.column).is_null())
            .then(None)
            .when(pl.col(_PARENT_QUARANTINED).is_null())
            .then(pl.lit(ORPHAN))
            .when(pl.col(_PARENT_QUARANTINED))
            .then(pl.lit(QUARANTINED))
            .alias(state)
        )
        frame = frame.drop(_PARENT_QUARANTINED)
    return frame
