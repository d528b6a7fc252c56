"""The case mart as a dataframely schema, generated from the data dictionary (`dictionary.MART_COLUMNS`).

`CaseMart` says what a mart is, column by column: its dtype, whether it may be null, and case_id as the key.
`case_mart` casts its output through it, and a mart that arrives from outside (a file or a pipe given to a view
with `-i`) is validated by it at that boundary (`validate_given_mart`), so a view never computes on a mart that
counts a case twice or has a case without a surgeon.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Final, cast

import dataframely as dy
import polars as pl

from ector.errors import ContractError
from ector.schemas import dataframely_column
from ector.transform.dictionary import MART_COLUMNS, MartColumn

KEY: Final = "case_id"


def _schema(name: str, columns: tuple[MartColumn, ...]) -> type[dy.Schema]:
    namespace: dict[str, Any] = {
        c.name: dataframely_column(c.dtype, nullable=c.nullable, alias=c.name, primary_key=c.name == KEY)
        for c in columns
    }
    return cast("type[dy.Schema]", type(name, (dy.Schema,), namespace))


CaseMart: Final = _schema("CaseMart", MART_COLUMNS)


@cache
def _present(names: frozenset[str]) -> type[dy.Schema]:
    """CaseMart restricted to the columns `names` holds (a foreign mart may lack optional ones)."""
    return _schema("CaseMart", tuple(c for c in MART_COLUMNS if c.name in names))


def validate_given_mart(frame: pl.DataFrame, required: tuple[str, ...]) -> pl.DataFrame:
    """Return a mart read from a file or a pipe, its mart columns cast to their dtypes and checked by CaseMart.

    Columns outside the mart are kept as they are; optional mart columns may be absent (the views treat them as
    not available). Raises ContractError naming what is wrong: a column of `required` missing, a value that is
    not of its column's type, a null where the mart has none, a case_id given twice.
    """
    names = frame.columns
    missing = [c for c in required if c not in names]
    if missing:
        raise ContractError(
            f"the case mart lacks required column(s) {', '.join(missing)}",
            "the case mart is written by `ector transform` (docs/data-dictionary.md)",
        )
    schema = _present(frozenset(names) & {c.name for c in MART_COLUMNS})
    try:
        checked = schema.validate(frame.select(schema.column_names()), cast=True)
    except (dy.exc.ValidationError, dy.exc.SchemaError, pl.exceptions.InvalidOperationError) as exc:
        raise ContractError(
            f"the case mart given is not a case mart: {_first_line(exc)}",
            "give the output of `ector transform -o -`, or a table with the columns of docs/data-dictionary.md",
        ) from None
    return frame.with_columns(checked)


def _first_line(exc: Exception) -> str:
    """dataframely's report on one line: "'primary_key' failed for 2 rows; column 'surgeon_id': 'nullability'
    failed for 1 rows" (its first line, a count of the rules, is left out)."""
    lines = [line.strip(" -*") for line in str(exc).splitlines()]
    lines = [line for line in lines if line and not line.startswith("This error occurred")]
    if len(lines) > 1 and "failed validation" in lines[0]:
        lines = lines[1:]
    text = "; ".join(lines).replace(":; ", ": ")
    text = re.sub(r"'primary_key' failed for (\d+) rows", r"case_id repeated in \1 rows", text)
    return re.sub(r"Column ('[^']+') failed validation for \d+ rules?:", r"column \1:", text)
