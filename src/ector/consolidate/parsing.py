"""The code maps and date formats one consolidation run uses: the defaults of `codes`, merged with settings.

Settings are checked here, once, so that a map onto a value the contract does not know is a configuration error
naming the key, not a stream of quarantined rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import polars as pl

from ector.consolidate import codes
from ector.consolidate.dates import DateOrder, Readers, readers
from ector.contract import TABLES
from ector.errors import ConfigError
from ector.settings import ConsolidationSettings

BOOLEAN_MAP_KEY = "boolean"  # consolidation.code_maps.boolean applies to every boolean column
_BOOLEAN_VALUES = ("true", "false")


@dataclass(frozen=True)
class Parsing:
    """How text becomes canonical values: code maps by column (keys trimmed and lower-cased) and formats."""

    code_maps: Mapping[str, Mapping[str, str]]  # coded or boolean column -> variant -> canonical ('true'/'false')
    date_formats: tuple[str, ...]
    timestamp_formats: tuple[str, ...]
    date_orders: Mapping[tuple[str, str], DateOrder] = field(default_factory=dict)  # (table, column) -> stated

    @property
    def date_readers(self) -> Readers:
        """How a date column reads text: the date formats, then the timestamp formats."""
        return readers(self.date_formats, self.timestamp_formats, to_date=True)

    @property
    def timestamp_readers(self) -> Readers:
        """How a timestamp column reads text."""
        return readers((), self.timestamp_formats, to_date=False)

    def code_map(self, column: str) -> Mapping[str, str]:
        """The map of `column` (every canonical value maps to itself)."""
        return self.code_maps[column]


def _coded_columns() -> dict[str, tuple[str, ...]]:
    """Coded column -> its canonical values, and boolean column -> ('true', 'false'), across all tables."""
    coded: dict[str, tuple[str, ...]] = {}
    for table in TABLES.values():
        for column in table.columns:
            if column.codes is not None:
                coded[column.name] = column.codes
            elif column.dtype == pl.Boolean():
                coded[column.name] = _BOOLEAN_VALUES
    return coded


def _normalised(variants: Mapping[str, str]) -> dict[str, str]:
    # A blank variant is dropped: blank text is a missing value, never a code.
    return {variant.strip().lower(): canonical for variant, canonical in variants.items() if variant.strip()}


def parsing_from_settings(settings: ConsolidationSettings) -> Parsing:
    """The run's code maps and formats: defaults from `codes`, overridden and extended by settings.

    Raises ConfigError for a map of an unknown column or onto a value that is not canonical, and for an empty
    format list.
    """
    coded = _coded_columns()
    for key, variants in settings.code_maps.items():
        if key != BOOLEAN_MAP_KEY and key not in coded:
            raise ConfigError(
                f"consolidation.code_maps.{key}: {key!r} is not a coded column",
                f"coded columns: {', '.join(sorted(coded))}, or {BOOLEAN_MAP_KEY!r} for every boolean column",
            )
        allowed = _BOOLEAN_VALUES if key == BOOLEAN_MAP_KEY else coded[key]
        for variant, canonical in variants.items():
            if canonical not in allowed:
                raise ConfigError(
                    f"consolidation.code_maps.{key}.{variant}: {canonical!r} is not a canonical value",
                    f"canonical values: {', '.join(allowed)}",
                )
    maps: dict[str, dict[str, str]] = {}
    for column, canonical_values in coded.items():
        is_boolean = canonical_values == _BOOLEAN_VALUES
        merged = {value.lower(): value for value in canonical_values}
        merged |= _normalised(codes.BOOLEAN if is_boolean else codes.CODE_MAPS.get(column, {}))
        if is_boolean:
            merged |= _normalised(settings.code_maps.get(BOOLEAN_MAP_KEY, {}))
        merged |= _normalised(settings.code_maps.get(column, {}))
        maps[column] = merged
    date_formats = tuple(settings.date_formats) if settings.date_formats is not None else codes.DATE_FORMATS
    timestamp_formats = (
        tuple(settings.timestamp_formats) if settings.timestamp_formats is not None else codes.TIMESTAMP_FORMATS
    )
    for key, formats in (("date_formats", date_formats), ("timestamp_formats", timestamp_formats)):
        if not formats:
            raise ConfigError(f"consolidation.{key} is empty", "list at least one strftime format, or remove the key")
    parsing = Parsing(maps, date_formats, timestamp_formats)
    orders: dict[tuple[str, str], DateOrder] = {}
    for table_name, columns in settings.date_order.items():
        for column_name, order in columns.items():
            column_readers = parsing.date_readers if _is_date(table_name, column_name) else parsing.timestamp_readers
            if not column_readers.paired:
                raise ConfigError(
                    f"consolidation.date_order.{table_name}.{column_name}: the formats hold no day-first format "
                    "with its month-first twin (such as %d/%m/%Y and %m/%d/%Y), so there is no order to choose",
                    "remove the setting, or list both formats",
                )
            orders[(table_name, column_name)] = order
    return replace(parsing, date_orders=orders)


def _is_date(table: str, column: str) -> bool:
    return TABLES[table].column(column).dtype == pl.Date()
