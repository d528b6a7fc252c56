"""Planted dirt: what goes wrong in real source streams, planted in known amounts into clean tables.

Every kind is named after the consolidation rule that counts it (`consolidate.rules`), and every planted row
is broken in exactly one way, so the truth file's counts are exact:
- dirt lands only on rows whose parents stay (a case of a quarantined patient is already quarantined as
  parent_quarantined, and a second reason would make the count ambiguous);
- a duplicate's source row carries no other dirt, and its copies are clean;
- sites and surgeons get repairs and duplicates only: quarantining one would cascade to a large share of cases.
Which columns each kind may touch follows from the contract (keys and references, coded and boolean columns,
date columns, required columns), so a contract change moves the dirt with it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import polars as pl

from ector.consolidate import rules
from ector.contract import CLAVIEN_DINDO, TABLES, Table
from ector.demo import model, variants
from ector.demo.frames import ID_PREFIXES

BoolArray = npt.NDArray[np.bool_]
Tables = dict[str, pl.DataFrame]

# The tables whose rows may be quarantined.
QUARANTINE_TABLES = ("patients", "cases", "complications", "encounters")
# The value an earlier version of a re-sent row had: the row was sent before this was known or corrected.
RESENT_CHANGES = {
    "sites": "site_name",  # renamed since
    "surgeons": "primary_site_id",  # moved since
    "patients": "sex",  # registered as unknown, corrected later
    "cases": "discharge_date",  # first sent while the patient was still in hospital
    "complications": "clavien_dindo",  # regraded
    "encounters": "discharge_date",  # first sent during the stay
}
# Rules about one column's value relative to another column: (rule, column it breaks, column it needs).
_DOMAIN_RULES = (
    (rules.END_BEFORE_START, "surgery_end", "surgery_start"),
    (rules.OPERATIVE_TIME_OUT_OF_RANGE, "surgery_end", "surgery_start"),
    (rules.DISCHARGE_BEFORE_ADMISSION, "discharge_date", "admission_date"),
    (rules.AGE_OUT_OF_RANGE, "birth_date", "birth_date"),
    (rules.ASA_OUT_OF_RANGE, "asa_class", "asa_class"),
    (rules.NEGATIVE_BLOOD_LOSS, "blood_loss_ml", "blood_loss_ml"),
)
QUARANTINE_RULES = frozenset(
    {rules.UNPARSEABLE_DATE, rules.FUTURE_DATE, rules.MISSING_REQUIRED, rules.UNMAPPED_CODE}
    | {rule for rule, _, _ in _DOMAIN_RULES}
    | set(rules.ORPHAN_RULE_BY_PARENT.values())
)


@dataclass(frozen=True)
class Planting:
    """One kind of dirt planted into a table: `rate` of its rows, spread evenly over `columns`."""

    rule: str
    columns: tuple[str, ...]
    rate: float


def _temporal(dtype: pl.DataType) -> bool:
    return dtype == pl.Date() or isinstance(dtype, pl.Datetime)


def plan(table: Table) -> tuple[Planting, ...]:
    """Returns the kinds of dirt planted into `table`, in planting order, derived from the contract."""
    small = table.name not in QUARANTINE_TABLES
    repair = model.SMALL_TABLE_RATE if small else model.REPAIR_RATE
    duplicate = model.SMALL_TABLE_RATE if small else model.DUPLICATE_RATE
    coded = tuple(c.name for c in table.columns if c.codes is not None)
    booleans = tuple(c.name for c in table.columns if c.dtype == pl.Boolean())
    dates = tuple(c for c in table.columns if _temporal(c.dtype) and c.name != "updated_at")
    references = tuple(r.column for r in table.references)
    plantings = [
        Planting(rules.DUPLICATE_RESENT, (RESENT_CHANGES[table.name],), duplicate),
        Planting(rules.DUPLICATE_EXACT, (table.key,), duplicate),
        Planting(rules.KEY_VARIANT, (table.key, *references), repair),
        Planting(rules.CODE_VARIANT, coded + booleans, repair),
        Planting(rules.DATE_FORMAT, tuple(c.name for c in dates), repair),
    ]
    if not small:
        rate = model.QUARANTINE_RATE
        names = set(table.column_names)
        plantings += [
            Planting(rules.UNPARSEABLE_DATE, tuple(c.name for c in dates if not c.required), rate),
            Planting(rules.FUTURE_DATE, tuple(c.name for c in dates if not c.required and c.dtype == pl.Date()), rate),
            *(Planting(rule, (column,), rate) for rule, column, needs in _DOMAIN_RULES if {column, needs} <= names),
            Planting(
                rules.MISSING_REQUIRED,
                tuple(c for c in table.required_columns if c != table.key and c not in references),
                rate,
            ),
            *(
                Planting(rules.ORPHAN_RULE_BY_PARENT[r.parent], (r.column,), rate)
                for r in table.references
                if r.required
            ),
            Planting(rules.UNMAPPED_CODE, coded, rate),
        ]
    return tuple(p for p in plantings if p.columns)


def text_columns(table: Table) -> tuple[str, ...]:
    """Returns the columns stored as text in the dirty variant: the dates, timestamps and booleans that
    carry text dirt (a database or Parquet column cannot hold `05/03/2024` or `Y` otherwise)."""
    dirty = {c for p in plan(table) if p.rule not in rules.MERGES for c in p.columns}
    return tuple(c.name for c in table.columns if c.name in dirty and (_temporal(c.dtype) or c.dtype == pl.Boolean()))


def output_schema(table: Table, clean: bool) -> pl.Schema:
    """Returns the dtypes of `table` as written: the contract's, with text columns in the dirty variant."""
    text = () if clean else text_columns(table)
    return pl.Schema({c.name: pl.String() if c.name in text else c.dtype for c in table.columns})


@dataclass
class DirtTally:
    """What was planted, per table: counts per rule and per column, rows delivered, rows quarantined."""

    planted: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    by_column: dict[str, dict[str, dict[str, int]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    )
    rows_in: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cascaded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Nulls per optional column among the rows consolidation keeps (its `missing_optional` notes).
    optional_nulls: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def count_optional_nulls(self, name: str, clean: pl.DataFrame, lost: BoolArray | None = None) -> None:
        """Add the nulls of `clean`'s optional columns, outside the `lost` (quarantined) rows."""
        kept = clean if lost is None else clean.filter(pl.Series(~lost))
        for column in TABLES[name].columns:
            if not column.required:
                self.optional_nulls[name][column.name] += kept.get_column(column.name).null_count()


@dataclass
class DirtContext:
    """What planting needs beyond the table itself: the run date, the ids that exist, the learners."""

    run_date: date
    id_width: int
    site_ids: list[str]
    learning_surgeon_ids: list[str]
    _orphans: int = 0

    def orphan_ids(self, parent: str, count: int) -> pl.Series:
        """Returns canonical keys of `parent` that no row has: numbered down from the top of the key range."""
        width = {"sites": model.SITE_ID_WIDTH, "surgeons": model.SURGEON_ID_WIDTH}.get(parent, self.id_width)
        # Sites have only 2 digits: wrap within 99..60, still above the 40 sites there can be.
        span = 40 if parent == "sites" else 10**6
        numbers = [10**width - 1 - (self._orphans + i) % span for i in range(count)]
        self._orphans += count
        return pl.Series([f"{ID_PREFIXES[parent]}{n:0{width}d}" for n in numbers], dtype=pl.String)


def plant_world_tables(tables: Tables, rng: np.random.Generator, context: DirtContext, tally: DirtTally) -> Tables:
    """Returns sites and surgeons with their (repairable or mergeable) dirt planted."""
    result = {}
    for name, frame in tables.items():
        result[name], _ = plant_table(name, frame, np.zeros(frame.height, dtype=bool), rng, context, tally)
        tally.count_optional_nulls(name, frame)
    return result


def plant_chunk(tables: Tables, rng: np.random.Generator, context: DirtContext, tally: DirtTally) -> Tables:
    """Returns one chunk's patients, cases, complications and encounters with dirt planted, parents first,
    so that no dirt lands on a row whose parent is quarantined (the cascades are tallied instead)."""
    patients, cases = tables["patients"], tables["cases"]
    complications, encounters = tables["complications"], tables["encounters"]
    learner_cases = cases.get_column("surgeon_id").is_in(context.learning_surgeon_ids)
    # A learning surgeon's cases stay whole: a quarantined one would shift their case sequence.
    learner_patients = cases.get_column("patient_id").filter(learner_cases)
    protected = patients.get_column("patient_id").is_in(learner_patients).to_numpy()
    dirty_patients, quarantined = plant_table("patients", patients, protected, rng, context, tally)
    tally.count_optional_nulls("patients", patients, quarantined)
    lost_patients = patients.get_column("patient_id").filter(pl.Series(quarantined))

    cascade = cases.get_column("patient_id").is_in(lost_patients).to_numpy()
    tally.cascaded["cases"] += int(cascade.sum())
    blocked = cascade | learner_cases.to_numpy()
    dirty_cases, quarantined = plant_table("cases", cases, blocked, rng, context, tally)
    tally.count_optional_nulls("cases", cases, quarantined | cascade)
    lost_cases = cases.get_column("case_id").filter(pl.Series(quarantined | cascade))

    cascade = complications.get_column("case_id").is_in(lost_cases).to_numpy()
    tally.cascaded["complications"] += int(cascade.sum())
    dirty_complications, quarantined = plant_table("complications", complications, cascade, rng, context, tally)
    tally.count_optional_nulls("complications", complications, quarantined | cascade)

    cascade = encounters.get_column("patient_id").is_in(lost_patients).to_numpy()
    tally.cascaded["encounters"] += int(cascade.sum())
    dirty_encounters, quarantined = plant_table("encounters", encounters, cascade, rng, context, tally)
    tally.count_optional_nulls("encounters", encounters, quarantined | cascade)
    return {
        "patients": dirty_patients,
        "cases": dirty_cases,
        "complications": dirty_complications,
        "encounters": dirty_encounters,
    }


def plant_table(
    name: str, clean: pl.DataFrame, blocked: BoolArray, rng: np.random.Generator, context: DirtContext, tally: DirtTally
) -> tuple[pl.DataFrame, BoolArray]:
    """Returns the table with dirt planted (duplicates appended) and which clean rows are now quarantined.

    `blocked` rows get no dirt at all.
    """
    table = TABLES[name]
    texts = set(text_columns(table))
    frame = clean.with_columns(variants.iso_texts(clean.get_column(c)) for c in texts)
    used = blocked.copy()
    quarantined = np.zeros(clean.height, dtype=bool)
    duplicates: list[pl.DataFrame] = []
    for planting in plan(table):
        total = model.planted_count(planting.rate, clean.height)
        for column, count in _spread(total, planting.columns):
            pool = np.flatnonzero(~used & _eligible(planting.rule, column, clean, context))
            rows = np.sort(rng.choice(pool, size=min(count, len(pool)), replace=False))
            used[rows] = True
            tally.planted[name][planting.rule] += len(rows)
            tally.by_column[name][planting.rule][column] += len(rows)
            if planting.rule == rules.DUPLICATE_EXACT:
                duplicates.append(frame[rows])
            elif planting.rule == rules.DUPLICATE_RESENT:
                duplicates.append(_older_version(name, frame[rows], clean[rows], rng, context))
            elif len(rows):
                values = _dirty_values(table, planting.rule, column, clean[rows], rng, context)
                target = frame.get_column(column).clone()
                target.scatter(rows, values.cast(target.dtype))
                frame = frame.with_columns(target)
                quarantined[rows] = planting.rule in QUARANTINE_RULES
    return pl.concat([frame, *duplicates]), quarantined


def _spread(total: int, columns: tuple[str, ...]) -> list[tuple[str, int]]:
    share, extra = divmod(total, len(columns))
    return [(column, share + (i < extra)) for i, column in enumerate(columns)]


def _eligible(rule: str, column: str, clean: pl.DataFrame, context: DirtContext) -> BoolArray:
    """Returns the rows that can carry this kind of dirt in this column without breaking a second rule."""
    if rule in (rules.KEY_VARIANT, rules.CODE_VARIANT, rules.DATE_FORMAT):
        return clean.get_column(column).is_not_null().to_numpy()
    if rule == rules.DUPLICATE_RESENT and column == "sex":
        return (clean.get_column("sex") != "U").fill_null(False).to_numpy()
    if rule == rules.DUPLICATE_RESENT and column == "discharge_date":
        return clean.get_column("discharge_date").is_not_null().to_numpy()
    if rule == rules.OPERATIVE_TIME_OUT_OF_RANGE:
        # A day or more of surgery must still end before the run date, or it would also be in the future.
        latest = pl.lit(context.run_date - timedelta(days=4)).cast(pl.Datetime("us"))
        return clean.select(pl.col("surgery_start") < latest).to_series().fill_null(False).to_numpy()
    return np.ones(clean.height, dtype=bool)


def _dirty_values(
    table: Table, rule: str, column: str, rows: pl.DataFrame, rng: np.random.Generator, context: DirtContext
) -> pl.Series:
    """Returns the dirty value of `column` for each of `rows` (clean rows, contract dtypes)."""
    n = rows.height
    values = rows.get_column(column)
    if rule == rules.KEY_VARIANT:
        return variants.key_variants(values, rng)
    if rule == rules.CODE_VARIANT:
        return variants.code_variants(values, column, rng)
    if rule == rules.DATE_FORMAT:
        return variants.date_texts(values, rng)
    if rule == rules.UNPARSEABLE_DATE:
        return variants.garbage_dates(values, rng)
    if rule == rules.FUTURE_DATE:
        return variants.future_dates(values, context.run_date, rng)
    if rule == rules.END_BEFORE_START:
        return variants.shifted_timestamps(rows.get_column("surgery_start"), -rng.integers(15, 181, n))
    if rule == rules.OPERATIVE_TIME_OUT_OF_RANGE:
        return variants.shifted_timestamps(rows.get_column("surgery_start"), rng.integers(25 * 60, 60 * 60, n))
    if rule == rules.DISCHARGE_BEFORE_ADMISSION:
        return variants.shifted_dates(rows.get_column("admission_date"), -rng.integers(1, 15, n))
    if rule == rules.AGE_OUT_OF_RANGE:
        return variants.ancient_birth_dates(n, rng)
    if rule == rules.ASA_OUT_OF_RANGE:
        return pl.Series(rng.choice(np.array([0, 6, 7]), n))
    if rule == rules.NEGATIVE_BLOOD_LOSS:
        return pl.Series(-10.0 * rng.integers(1, 51, n))
    if rule == rules.MISSING_REQUIRED:
        # Blank text is missing too, but only in free-text columns: a blank code or date could also be
        # read as unmapped or unparseable.
        plain_text = values.dtype == pl.String() and table.column(column).codes is None
        blanks = [None, "", "  "] if plain_text else [None]
        return pl.Series([blanks[i] for i in rng.integers(0, len(blanks), n)], dtype=values.dtype)
    if rule == rules.UNMAPPED_CODE:
        unknown = variants.UNMAPPED[column]
        return pl.Series([unknown[i] for i in rng.integers(0, len(unknown), n)], dtype=pl.String)
    parent = next(p for p, r in rules.ORPHAN_RULE_BY_PARENT.items() if r == rule)
    return context.orphan_ids(parent, n)


def _older_version(
    name: str, rows: pl.DataFrame, clean: pl.DataFrame, rng: np.random.Generator, context: DirtContext
) -> pl.DataFrame:
    """Returns earlier versions of `rows`: one changed value and an earlier updated_at, otherwise clean."""
    n = rows.height
    column = RESENT_CHANGES[name]
    updated = clean.get_column("updated_at")
    hours = pl.Series(rng.integers(1, 24 * 30, n) * 3_600_000_000).cast(pl.Duration("us"))
    earlier = updated - hours
    changes: list[pl.Series] = []
    if name == "sites":
        old_names = [f"{site.split(' ')[0]} Infirmary" for site in clean.get_column("site_name").to_list()]
        changes.append(pl.Series(column, old_names, dtype=pl.String))
        earlier = updated - timedelta(days=365)
    elif name == "surgeons":
        ids = context.site_ids
        moved = [ids[(ids.index(s) + 1) % len(ids)] for s in clean.get_column(column).to_list()]
        changes.append(pl.Series(column, moved, dtype=pl.String))
    elif name == "patients":
        changes.append(pl.Series(column, ["U"] * n, dtype=pl.String))
    elif name == "cases":
        changes.append(pl.Series(column, [None] * n, dtype=rows.schema[column]))
        changes.append(pl.Series("discharge_destination", [None] * n, dtype=pl.String))
        # Sent once the operation note was in: well before the discharge that the final version carries.
        minutes = pl.Series(rng.integers(10, 51, n) * 60_000_000).cast(pl.Duration("us"))
        earlier = clean.get_column("surgery_end") + minutes
    elif name == "complications":
        # One grade lower than the final one (a grade I was first recorded as II).
        grades = [
            CLAVIEN_DINDO[max(CLAVIEN_DINDO.index(g) - 1, 0) if g != "I" else 1]
            for g in clean.get_column(column).to_list()
        ]
        changes.append(pl.Series(column, grades, dtype=pl.String))
    elif name == "encounters":
        changes.append(pl.Series(column, [None] * n, dtype=rows.schema[column]))
        # Sent on admission, the morning after: before the final version, sent after discharge.
        admitted = clean.get_column("admission_date").cast(pl.Datetime("us"))
        earlier = admitted + pl.Series(rng.integers(6, 13, n) * 3_600_000_000).cast(pl.Duration("us"))
    return rows.with_columns(*changes, earlier.alias("updated_at"))
