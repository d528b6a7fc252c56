"""A small reference consolidation, written independently of the demo generator, to count its dirt.

It follows the semantics the truth file promises: keys standardised first (trim, upper case), then
duplicates merged (latest updated_at wins), then every rule evaluated on the surviving rows, orphans and
cascades in contract order. It records every rule a row breaks, so a test can insist that each planted
row breaks exactly one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from ector.consolidate import codes, rules
from ector.contract import TABLES, Table

_DATE_FORMATS = codes.DATE_FORMATS
_TIMESTAMP_FORMATS = codes.TIMESTAMP_FORMATS


@dataclass
class Consolidated:
    frame: pl.DataFrame  # rows out, contract dtypes
    rows_in: int
    duplicates_by_rule: dict[str, int]
    repairs: dict[str, int]
    quarantine_by_rule: dict[str, int]
    quarantined_keys: set[str]
    rows_breaking_several_rules: int
    repaired_rows_not_kept: int
    all_keys: set[str] = field(default_factory=set)

    @property
    def quarantined(self) -> int:
        return sum(self.quarantine_by_rule.values())


def _is_temporal(dtype: pl.DataType) -> bool:
    return dtype == pl.Date() or isinstance(dtype, pl.Datetime)


def _parse(column: str, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """The parsed value of a text date column, and whether it needed a non-ISO format."""
    raw = pl.col(column)
    formats = _TIMESTAMP_FORMATS if isinstance(dtype, pl.Datetime) else _DATE_FORMATS

    def attempt(fmt: str) -> pl.Expr:
        if isinstance(dtype, pl.Datetime):
            return raw.str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True)
        return raw.str.strptime(pl.Date, fmt, strict=False, exact=True)

    iso = attempt(formats[0])
    parsed = pl.coalesce([attempt(f) for f in formats])
    return parsed, raw.is_not_null() & iso.is_null() & parsed.is_not_null()


def consolidate_table(
    table: Table, raw: pl.DataFrame, run_date: date, parents: dict[str, Consolidated]
) -> Consolidated:
    frame = raw.with_row_index("_row")
    repairs: dict[str, pl.Expr] = {}
    broken: dict[str, pl.Expr] = {}

    # Keys and references: trimmed, upper case.
    keys = [table.key, *(r.column for r in table.references)]
    changed = [pl.col(k).is_not_null() & (pl.col(k) != pl.col(k).str.strip_chars().str.to_uppercase()) for k in keys]
    repairs[rules.KEY_VARIANT] = pl.any_horizontal(changed)
    standard = [pl.col(k).str.strip_chars().str.to_uppercase() for k in keys]

    # Missing required values are judged on the raw text: blank counts as missing.
    missing = []
    for name in table.required_columns:
        column = pl.col(name)
        blank = column.cast(pl.String).str.strip_chars() == "" if raw.schema[name] == pl.String() else pl.lit(False)
        missing.append(column.is_null() | blank)
    broken[rules.MISSING_REQUIRED] = pl.any_horizontal(missing)

    # Codes and booleans.
    code_changed, unmapped, mapped = [], [], []
    for c in table.columns:
        text_boolean = c.dtype == pl.Boolean() and raw.schema[c.name] == pl.String()
        if c.codes is None and not text_boolean:
            continue
        mapping = codes.BOOLEAN if text_boolean else codes.CODE_MAPS[c.name]
        value = pl.col(c.name).str.strip_chars().str.to_lowercase().replace_strict(mapping, default=None)
        code_changed.append(pl.col(c.name).is_not_null() & value.is_not_null() & (value != pl.col(c.name)))
        unmapped.append(pl.col(c.name).is_not_null() & pl.col(c.name).str.strip_chars().ne("") & value.is_null())
        mapped.append((value == "true") if text_boolean else value)
    repairs[rules.CODE_VARIANT] = pl.any_horizontal(code_changed) if code_changed else pl.lit(False)
    broken[rules.UNMAPPED_CODE] = pl.any_horizontal(unmapped) if unmapped else pl.lit(False)

    # Text dates.
    reformatted, garbage, parsed = [], [], []
    for c in table.columns:
        if _is_temporal(c.dtype) and raw.schema[c.name] == pl.String():
            value, other_format = _parse(c.name, c.dtype)
            reformatted.append(other_format)
            garbage.append(pl.col(c.name).is_not_null() & value.is_null())
            parsed.append(value.alias(c.name))
    repairs[rules.DATE_FORMAT] = pl.any_horizontal(reformatted) if reformatted else pl.lit(False)
    broken[rules.UNPARSEABLE_DATE] = pl.any_horizontal(garbage) if garbage else pl.lit(False)

    frame = frame.with_columns(
        **{f"_repair_{rule}": expr for rule, expr in repairs.items()},
        **{f"_broken_{rule}": expr for rule, expr in broken.items()},
    ).with_columns(*standard, *mapped, *parsed)
    frame = frame.with_columns(pl.col(c.name).cast(c.dtype) for c in table.columns)

    # Duplicates: the latest updated_at wins; an extra row equal to the winner is an exact duplicate.
    frame = frame.sort(["updated_at", "_row"], descending=[True, False], nulls_last=True)
    kept = frame.unique(subset=[table.key], keep="first", maintain_order=True)
    extra = frame.join(kept.select("_row"), on="_row", how="anti")
    columns = table.column_names
    exact = extra.select(columns).join(kept.select(columns), on=columns, how="semi", nulls_equal=True).height
    duplicates = {rules.DUPLICATE_EXACT: exact, rules.DUPLICATE_RESENT: extra.height - exact}

    # Rules on the surviving rows.
    run = pl.lit(run_date)
    names = set(table.column_names)
    checks: dict[str, pl.Expr] = {rule: pl.col(f"_broken_{rule}") for rule in broken}
    future = [
        (pl.col(c.name).dt.date() if isinstance(c.dtype, pl.Datetime) else pl.col(c.name)) > run
        for c in table.columns
        if _is_temporal(c.dtype)
    ]
    checks[rules.FUTURE_DATE] = pl.any_horizontal(future).fill_null(False)
    if {"surgery_start", "surgery_end"} <= names:
        checks[rules.END_BEFORE_START] = pl.col("surgery_end") < pl.col("surgery_start")
        checks[rules.OPERATIVE_TIME_OUT_OF_RANGE] = (pl.col("surgery_end") - pl.col("surgery_start")) > timedelta(
            hours=24
        )
    if {"admission_date", "discharge_date"} <= names:
        checks[rules.DISCHARGE_BEFORE_ADMISSION] = pl.col("discharge_date") < pl.col("admission_date")
    if "birth_date" in names:
        oldest = date(run_date.year - 120, run_date.month, run_date.day)
        checks[rules.AGE_OUT_OF_RANGE] = (pl.col("birth_date") < oldest) | (pl.col("birth_date") > run)
    if "asa_class" in names:
        checks[rules.ASA_OUT_OF_RANGE] = ~pl.col("asa_class").is_between(1, 5)
    if "blood_loss_ml" in names:
        checks[rules.NEGATIVE_BLOOD_LOSS] = pl.col("blood_loss_ml") < 0
    if "predicted_mortality" in names:
        checks[rules.RISK_OUT_OF_RANGE] = ~pl.col("predicted_mortality").is_between(0, 1)
    cascade = []
    for ref in table.references:
        parent = parents.get(ref.parent)
        if parent is None or not ref.required:
            continue
        value = pl.col(ref.column)
        checks[rules.ORPHAN_RULE_BY_PARENT[ref.parent]] = value.is_not_null() & ~value.is_in(list(parent.all_keys))
        cascade.append(value.is_in(list(parent.quarantined_keys)))
    kept = kept.with_columns(**{f"_check_{rule}": expr.fill_null(False) for rule, expr in checks.items()})
    own = [f"_check_{rule}" for rule in checks]
    parent_lost = pl.any_horizontal(cascade) if cascade else pl.lit(False)
    kept = kept.with_columns(_own=pl.sum_horizontal(own), _parent_lost=parent_lost)
    # A row whose parent is quarantined, and that broke no rule of its own, is quarantined as a cascade.
    kept = kept.with_columns(_cascade=pl.col("_parent_lost") & (pl.col("_own") == 0))
    quarantine = {rule: int(kept.get_column(f"_check_{rule}").sum()) for rule in checks}
    quarantine[rules.PARENT_QUARANTINED] = int(kept.get_column("_cascade").sum())
    out_mask = (pl.col("_own") == 0) & ~pl.col("_cascade")
    quarantined_keys = set(kept.filter(~out_mask).get_column(table.key).to_list())
    repair_counts = {rule: int(kept.filter(out_mask).get_column(f"_repair_{rule}").sum()) for rule in repairs}
    not_kept = frame.join(kept.filter(out_mask).select("_row"), on="_row", how="anti")
    return Consolidated(
        frame=kept.filter(out_mask).select(columns).sort(table.key),
        rows_in=raw.height,
        duplicates_by_rule=duplicates,
        repairs=repair_counts,
        quarantine_by_rule={rule: n for rule, n in quarantine.items() if n},
        quarantined_keys=quarantined_keys,
        rows_breaking_several_rules=int(((kept.get_column("_own") + kept.get_column("_parent_lost")) > 1).sum()),
        repaired_rows_not_kept=int(
            not_kept.select(pl.any_horizontal(f"_repair_{r}" for r in repairs)).to_series().sum()
        ),
        all_keys=set(kept.get_column(table.key).to_list()),
    )


def consolidate(tables: dict[str, pl.DataFrame], run_date: date) -> dict[str, Consolidated]:
    """Every table consolidated, parents before children."""
    result: dict[str, Consolidated] = {}
    for name, table in TABLES.items():
        result[name] = consolidate_table(table, tables[name], run_date, result)
    return result
