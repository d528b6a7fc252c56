"""Dataframely columns from polars dtypes: what the consolidation rules and the case-mart schema are built from."""

from __future__ import annotations

from typing import Any

import dataframely as dy
import polars as pl

_INTEGERS: dict[pl.DataType, type[dy.Column]] = {
    pl.Int8(): dy.Int8,
    pl.Int16(): dy.Int16,
    pl.Int32(): dy.Int32,
    pl.Int64(): dy.Int64,
}


def dataframely_column(
    dtype: pl.DataType, *, nullable: bool, alias: str, check: Any = None, primary_key: bool = False
) -> dy.Column:
    """The dataframely column of polars `dtype`; TypeError for a dtype no Ector table uses."""
    if dtype == pl.String():
        return dy.String(nullable=nullable, alias=alias, check=check, primary_key=primary_key)
    if dtype == pl.Boolean():
        return dy.Bool(nullable=nullable, alias=alias, check=check)
    if dtype == pl.Date():
        return dy.Date(nullable=nullable, alias=alias, check=check)
    if isinstance(dtype, pl.Datetime):
        return dy.Datetime(
            nullable=nullable, alias=alias, check=check, time_unit=dtype.time_unit, time_zone=dtype.time_zone
        )
    if dtype in _INTEGERS:
        return _INTEGERS[dtype](nullable=nullable, alias=alias, check=check)
    if dtype == pl.Float64():
        # NaN and infinity are rules of their own where they matter (consolidation's invalid_number), so
        # dataframely must not add rules of its own.
        return dy.Float64(nullable=nullable, alias=alias, check=check, allow_nan=True, allow_inf=True)
    raise TypeError(f"no dataframely column for dtype {dtype}")
