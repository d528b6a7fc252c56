"""The report's tables as data, with the audience's disclosure control applied before anything is drawn.

Each function takes a workflow table and the Disclosure in force and returns the frame a builder renders:
units labelled (pseudonyms for an external audience, never an id or a name), counts withheld where
docs/methods.md says so together with every rate that would reveal them, dates cut to the month.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import polars as pl

from ector.report.disclosure import Disclosure, months_only, suppress_counts
from ector.report.formats import ROMAN

RATE_COLUMNS: Final = ("rate", "rate_lower", "rate_upper")
RATIO_COLUMNS: Final = ("oe", "oe_lower", "oe_upper", "risk_adjusted_rate")
TABLE_MEASURE: Final = {"rate": "proportion", "oe": "oe_ratio"}  # which funnel's flag colours which cell


def unit_labels(
    ids: Sequence[str], kind: str, disclosure: Disclosure, names: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return unit_id -> the label a reader sees: a pseudonym (external surgeon), else the name and/or id."""
    labels: dict[str, str] = {}
    for unit in ids:
        if kind == "surgeon" and disclosure.external:
            labels[unit] = disclosure.pseudonym(unit)
        elif names and names.get(unit):
            labels[unit] = f"{names[unit]} ({unit})"
        else:
            labels[unit] = unit
    return labels


def outcome_dependents(outcome: str, columns: Sequence[str]) -> dict[str, list[str]]:
    """Return the count -> revealing columns map of one outcome: its rates and O/E follow its n and N."""
    revealing = [f"{outcome}_{m}" for m in (*RATE_COLUMNS, *RATIO_COLUMNS) if f"{outcome}_{m}" in columns]
    return {f"{outcome}_events": revealing, f"{outcome}_cases": revealing}


def units_table(
    summary: pl.DataFrame,
    funnel: pl.DataFrame | None,
    outcomes: Sequence[str],
    labels: Mapping[str, str],
    disclosure: Disclosure,
) -> pl.DataFrame:
    """Return the units table: `unit` label, the summary's columns and `<outcome>_<rate|oe>_flag`, by volume.

    Sorted by cases, largest first; units whose volume is withheld come last in label order, so their
    position says nothing about their size. `unit_id` is dropped for an external audience.
    """
    frame = summary.with_columns(unit=pl.col("unit_id").replace_strict(labels, default=None, return_dtype=pl.String))
    if funnel is not None and funnel.height:
        for outcome in outcomes:
            for cell, measure in TABLE_MEASURE.items():
                flags = funnel.filter((pl.col("outcome") == outcome) & (pl.col("measure") == measure)).select(
                    "unit_id", pl.col("flag").alias(f"{outcome}_{cell}_flag")
                )
                frame = frame.join(flags, on="unit_id", how="left")
    k = disclosure.min_cell_size
    if disclosure.external:
        counts: list[str] = [c for c in ("cases", "patients") if c in frame.columns]
        dependents: dict[str, list[str]] = {}
        for outcome in outcomes:
            counts += [f"{outcome}_events", f"{outcome}_cases"]
            dependents |= outcome_dependents(outcome, frame.columns)
        rank = pl.when(pl.col("cases") >= k).then(pl.col("cases")).otherwise(-1)
        frame = frame.sort([rank, pl.col("unit")], descending=[True, False])
        frame = suppress_counts(frame, counts, k, dependents=dependents).drop("unit_id")
        return _uncoloured_blanks(months_only(frame), outcomes)
    return _uncoloured_blanks(frame.sort([pl.col("cases"), pl.col("unit")], descending=[True, False]), outcomes)


def _uncoloured_blanks(frame: pl.DataFrame, outcomes: Sequence[str]) -> pl.DataFrame:
    """Return the frame with no flag where the flagged value is not shown: a colour on a blank says too much."""
    return frame.with_columns(
        pl.when(pl.col(f"{o}_{cell}").is_null())
        .then(None)
        .otherwise(pl.col(f"{o}_{cell}_flag"))
        .alias(f"{o}_{cell}_flag")
        for o in outcomes
        for cell in TABLE_MEASURE
        if f"{o}_{cell}_flag" in frame.columns and f"{o}_{cell}" in frame.columns
    )


def cohort_table(summary: pl.DataFrame, outcomes: Sequence[str], disclosure: Disclosure) -> pl.DataFrame:
    """Return the patient cohort cells with readable levels; counts withheld per dimension for external."""
    level = pl.col("level").cast(pl.String)
    asa = level.cast(pl.Int64, strict=False)
    roman = pl.concat_str(pl.lit("ASA "), asa.replace_strict(list(range(1, 7)), list(ROMAN), default=level))
    frame = summary.with_columns(
        level=pl.when(pl.col("dimension") == "all")
        .then(pl.lit("all cases"))
        .when(level.is_null())
        .then(pl.lit("unknown"))
        .when(pl.col("dimension") == "asa_class")
        .then(roman)
        .otherwise(level)
    )
    if not disclosure.external:
        return frame
    counts = ["cases", "patients"]
    dependents: dict[str, list[str]] = {}
    for outcome in outcomes:
        counts += [f"{outcome}_events", f"{outcome}_cases"]
        dependents |= outcome_dependents(outcome, frame.columns)
    # The levels of a dimension add up to the whole cohort, which is published: one line per dimension.
    return suppress_counts(frame, counts, disclosure.min_cell_size, lines=[["dimension"]], dependents=dependents)


def headline_table(
    cohort: pl.DataFrame | None,
    surgeons: pl.DataFrame | None,
    sites: pl.DataFrame | None,
    outcomes: Sequence[str],
    disclosure: Disclosure,
) -> pl.DataFrame:
    """Return the headline figures: `figure, events, cases, rate, rate_lower, rate_upper`, one row each.

    Totals come from the patient view's whole-cohort cell; without it, cases and outcome counts are summed
    over surgeons (patients cannot be: one patient may see several surgeons, so they stay not available).
    """
    rows: list[dict[str, object]] = []
    whole = cohort.filter(pl.col("dimension") == "all") if cohort is not None else None
    source = whole if whole is not None and whole.height else None
    if source is None and surgeons is not None:
        numeric = [c for c in surgeons.columns if c == "cases" or c.endswith(("_events", "_cases"))]
        source = surgeons.select(pl.col(numeric).sum()).with_columns(patients=pl.lit(None, pl.Int64))
        for outcome in outcomes:
            events, cases = pl.col(f"{outcome}_events"), pl.col(f"{outcome}_cases")
            source = source.with_columns((events / cases).alias(f"{outcome}_rate"))
    rows.append({"figure": "Cases", "cases": _first(source, "cases")})
    rows.append({"figure": "Patients", "cases": _first(source, "patients")})
    rows.append({"figure": "Surgeons", "cases": surgeons.height if surgeons is not None else None})
    rows.append({"figure": "Sites", "cases": sites.height if sites is not None else None})
    for outcome in outcomes:
        row: dict[str, object] = {"figure": outcome}
        for metric in ("events", "cases", *RATE_COLUMNS):
            row[metric] = _first(source, f"{outcome}_{metric}")
        rows.append(row)
    schema = {
        "figure": pl.String,
        "events": pl.Int64,
        "cases": pl.Int64,
        "rate": pl.Float64,
        "rate_lower": pl.Float64,
        "rate_upper": pl.Float64,
    }
    frame = pl.DataFrame(rows, schema=schema)
    if not disclosure.external:
        return frame
    # Each figure is its own total: only small-count suppression applies, there is nothing to complement.
    return suppress_counts(
        frame,
        ["events", "cases"],
        disclosure.min_cell_size,
        lines=[["figure"]],
        dependents={"events": list(RATE_COLUMNS), "cases": list(RATE_COLUMNS)},
    )


def _first(frame: pl.DataFrame | None, column: str) -> object:
    if frame is None or column not in frame.columns or frame.height == 0:
        return None
    return frame[column][0]


def availability_notes(*tables: pl.DataFrame | None) -> pl.DataFrame:
    """Return the inputs not available in any view: `column, role, note`, one row per column, sorted."""
    parts = [t.filter(~pl.col("available")).select("column", "role", "note") for t in tables if t is not None]
    if not parts:
        return pl.DataFrame(schema={"column": pl.String, "role": pl.String, "note": pl.String})
    return pl.concat(parts).unique("column", keep="first").sort("role", "column")


def labels_of(ids: Sequence[str], kind: str, disclosure: Disclosure, names: pl.DataFrame | None) -> dict[str, str]:
    """Return unit labels, with surgeon names from the consolidated surgeons table when internal."""
    mapping = None
    if names is not None and not disclosure.external:
        mapping = {r["surgeon_id"]: r["surgeon_name"] for r in names.iter_rows(named=True)}
    return unit_labels(ids, kind, disclosure, mapping)
