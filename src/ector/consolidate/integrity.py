"""Referential integrity: where each reference of a table points, among the keys of its consolidated parent.

A parent's keys are its clean keys (sorted, as its clean table is written) and the keys it quarantined. A
reference to neither is an orphan; a reference to a quarantined key makes the child follow its parent into
quarantine (`parent_quarantined`). A reference is only checked when the parent table is present at all.

Membership is a binary search in the sorted keys, not a join: a child is checked a chunk at a time, and a
join would build a hash table over every parent key for each chunk (62M patients at 100M cases), where a search
needs only the sorted keys, held once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import polars as pl

from ector.consolidate.columns import ORPHAN, QUARANTINED, dangling_name, reference_name
from ector.contract import Table


@dataclass(frozen=True)
class SortedKeys:
    """Distinct keys in ascending order, searchable from an expression."""

    keys: pl.Series

    def contains(self, value: pl.Expr) -> pl.Expr:
        """Return whether each value is one of the keys (null for a null value)."""
        if self.keys.is_empty():
            return pl.when(value.is_not_null()).then(pl.lit(value=False))
        keys = pl.lit(self.keys)
        position = keys.search_sorted(value, side="left").clip(0, self.keys.len() - 1)
        return keys.gather(position) == value


@dataclass(frozen=True)
class ParentKeys:
    """A consolidated parent table's keys: the clean ones and the quarantined ones, each sorted and distinct."""

    clean: SortedKeys
    quarantined: SortedKeys

    @classmethod
    def of(cls, clean: pl.Series, quarantined: pl.Series) -> ParentKeys:
        """Return the parent keys of `clean` (already sorted, as written) and `quarantined` keys (any order)."""
        # One chunk each: a literal Series of several chunks made polars 2.1 panic when gathered from.
        return cls(SortedKeys(clean.rechunk()), SortedKeys(quarantined.drop_nulls().unique().sort().rechunk()))


NOT_CHECKED: Final = pl.lit(None, dtype=pl.String)


def with_reference_states(frame: pl.LazyFrame, table: Table, parents: Mapping[str, ParentKeys]) -> pl.LazyFrame:
    """Return `frame` with reference_name(c) for every reference c: null (fine or not checked), 'orphan' or
    'quarantined'; and dangling_name(c) for every optional reference: true where it names no clean parent row.

    `parents` holds the keys of every parent table present; a reference to an absent table is not checked.
    """
    states: list[pl.Expr] = []
    for reference in table.references:
        keys = parents.get(reference.parent)
        value = pl.col(reference.column)
        if keys is None:
            states.append(NOT_CHECKED.alias(reference_name(reference.column)))
            continue
        clean = keys.clean.contains(value)
        state = (
            pl.when(value.is_null() | clean)
            .then(NOT_CHECKED)
            .when(keys.quarantined.contains(value))
            .then(pl.lit(QUARANTINED))
            .otherwise(pl.lit(ORPHAN))
        )
        states.append(state.alias(reference_name(reference.column)))
        if not reference.required:
            states.append((value.is_not_null() & ~clean).fill_null(False).alias(dangling_name(reference.column)))
    return frame.with_columns(states) if states else frame


def dangling_references(table: Table, parents: Mapping[str, object]) -> list[str]:
    """Return the optional references of `table` whose parent is present: the ones counted as dangling."""
    return [r.column for r in table.references if not r.required and r.parent in parents]
