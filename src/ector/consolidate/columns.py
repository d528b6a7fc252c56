"""What kind of value each canonical column holds, and the names of consolidation's working columns.

Consolidation works on one wide frame per table: the standardised value of every canonical column under its
canonical name, the value as ingested beside it (`raw_name`), and helper columns whose names start with `__`
so they can never meet a canonical column. Only this module spells those names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from enum import Enum
from typing import Final

import polars as pl

from ector.contract import TIMESTAMP, Column, Table


class Kind(Enum):
    """How a canonical column is standardised and which rule a value it cannot read breaks."""

    KEY = "key"  # a table key or a reference to one: trimmed and upper-cased
    CODE = "code"  # a coded string: mapped through a code map
    BOOLEAN = "boolean"  # true/false, possibly spelled as text (Y, 1, yes): mapped through the boolean map
    DATE = "date"
    TIMESTAMP = "timestamp"
    INTEGER = "integer"
    FLOAT = "float"
    TEXT = "text"  # free text: kept as given; blank counts as missing


def kind(table: Table, column: Column) -> Kind:
    """The kind of `column` in `table`, from the contract (key, references, codes, dtype)."""
    if column.name == table.key or column.name in {r.column for r in table.references}:
        return Kind.KEY
    if column.codes is not None:
        return Kind.CODE
    dtype = column.dtype
    if dtype == pl.Boolean():
        return Kind.BOOLEAN
    if dtype == pl.Date():
        return Kind.DATE
    if dtype == TIMESTAMP:
        return Kind.TIMESTAMP
    if dtype.is_integer():
        return Kind.INTEGER
    if dtype.is_float():
        return Kind.FLOAT
    return Kind.TEXT


# The dtype a column is validated in. Integers are validated as Int64 so that an ASA class of 1000 is reported as
# out of range rather than failing a cast; the clean output narrows them to the contract dtype afterwards.
WORKING_DTYPES: Final[dict[Kind, pl.DataType]] = {
    Kind.KEY: pl.String(),
    Kind.CODE: pl.String(),
    Kind.TEXT: pl.String(),
    Kind.BOOLEAN: pl.Boolean(),
    Kind.DATE: pl.Date(),
    Kind.TIMESTAMP: TIMESTAMP,
    Kind.INTEGER: pl.Int64(),
    Kind.FLOAT: pl.Float64(),
}

_RAW: Final = "__raw__"
_REF: Final = "__ref__"
_REPAIR: Final = "__repair__"
_DANGLING: Final = "__dangling__"
_AMBIGUOUS: Final = "__ambiguous__"

ROW_HASH: Final = "__row_hash"  # hash of the standardised values: equal for exact duplicates
RAW_HASH: Final = "__raw_hash"  # hash of the ingested values: the last, stable tie-break
ROW: Final = "__row"  # the row's position in the ingested table: how a checked row finds its quarantine record
VALID: Final = "__valid"  # the row broke no rule


def raw_name(column: str) -> str:
    """The working column holding `column` as ingested."""
    return f"{_RAW}{column}"


def reference_name(column: str) -> str:
    """The working column holding the state of reference `column`: null (fine), 'orphan' or 'quarantined'."""
    return f"{_REF}{column}"


def repair_name(rule: str) -> str:
    """The working column flagging the rows repaired by `rule`."""
    return f"{_REPAIR}{rule}"


def dangling_name(column: str) -> str:
    """The working column flagging rows whose optional reference `column` names no clean parent row."""
    return f"{_DANGLING}{column}"


def ambiguous_name(column: str) -> str:
    """The working column flagging the rows whose date text in `column` reads as two dates (`dates`)."""
    return f"{_AMBIGUOUS}{column}"


# Values of a reference_name column.
ORPHAN: Final = "orphan"
QUARANTINED: Final = "quarantined"


def mapped(value: pl.Expr, mapping: Mapping[str, str]) -> pl.Expr:
    """`value` looked up in `mapping` (null where the map has no entry), as a chain of `is_in` per target.

    Not `replace_strict`: in Polars 2.1 it does not stream, and would hold the whole column in memory.
    """
    variants_by_target: dict[str, list[str]] = defaultdict(list)
    for variant, target in mapping.items():
        variants_by_target[target].append(variant)
    result: pl.Expr = pl.lit(None, dtype=pl.String)
    for target, variants in sorted(variants_by_target.items(), reverse=True):
        result = pl.when(value.is_in(variants)).then(pl.lit(target)).otherwise(result)
    return result
