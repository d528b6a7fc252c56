"""The pandas reference: consolidate + transform + workflow aggregations of an ingest folder (see ref_spec).

    python benchmarks/ref_pandas.py INGEST_DIR OUT_DIR --run-date 2026-11-26

Plain, vectorised pandas, as such pipelines are usually written: read each table whole, clean it column by
column, sort and drop duplicates, merge, group by. Writes OUT_DIR/<table>.parquet (clean), OUT_DIR/mart.parquet
and OUT_DIR/aggregates.parquet.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ref_spec import (
    BOOLEAN,
    CODE_MAPS,
    DATE_FORMATS,
    DIMENSIONS,
    MAX_AGE_YEARS,
    MAX_OPERATIVE_HOURS,
    NULL_LEVEL,
    OUTCOMES,
    STEPS_MARK,
    STRATA,
    TIMESTAMP_FORMATS,
    UNITS,
    WINDOW,
    TableSpec,
    table_specs,
)

GRADES = {"I": 1, "II": 2, "IIIa": 3, "IIIb": 4, "IVa": 5, "IVb": 6, "V": 7}


def parse_datetimes(text: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """The first format that reads each value, trying the next formats only on what is still unread."""
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    todo = text.notna()
    for fmt in formats:
        if not todo.any():
            break
        attempt = pd.to_datetime(text[todo], format=fmt.replace("%.f", ".%f"), errors="coerce")
        parsed[todo] = attempt
        todo &= parsed.isna()
    return parsed


def standardise(raw: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, pd.Series]:
    """The standardised table, and which rows hold a value that cannot be read (unknown code, bad date)."""
    out = pd.DataFrame(index=raw.index)
    unreadable = pd.Series(False, index=raw.index)
    for name in spec.dtypes:
        column = raw[name]
        if not pd.api.types.is_string_dtype(column):
            # Integers with missing values stay integers (nullable), not floats.
            out[name] = column.astype("Int64") if spec.dtypes[name].is_integer() else column
            continue
        trimmed = column.str.strip()
        present = trimmed.notna() & (trimmed != "")
        if name in spec.keys:
            out[name] = trimmed.str.upper().where(present)
        elif name in spec.codes or name in spec.booleans:
            mapping = CODE_MAPS[name] if name in spec.codes else BOOLEAN
            value = trimmed.str.lower().map(mapping)
            unreadable |= present & value.isna()
            out[name] = value if name in spec.codes else value.map({"true": True, "false": False}).astype("boolean")
        elif name in spec.dates or name in spec.timestamps:
            formats = DATE_FORMATS if name in spec.dates else TIMESTAMP_FORMATS
            value = parse_datetimes(trimmed.where(present), formats)
            unreadable |= present & value.isna()
            out[name] = value.dt.normalize() if name in spec.dates else value
        else:
            out[name] = column.where(present)
    return out, unreadable


def consolidate(raw: pd.DataFrame, spec: TableSpec, clean: dict[str, pd.DataFrame], run_date: date) -> pd.DataFrame:
    """The clean rows of one table, given the clean tables of its parents."""
    table, unreadable = standardise(raw, spec)
    table = table[~unreadable]
    keyed = table[spec.key].notna()
    latest = (
        table[keyed]
        .sort_values([spec.key, "updated_at"], ascending=[True, False], na_position="last")
        .drop_duplicates(spec.key, keep="first")
    )
    table = pd.concat([latest, table[~keyed]])
    day = pd.Timestamp(run_date)
    bad = table[list(spec.required)].isna().any(axis=1)
    for name in spec.dates:
        bad |= table[name] > day
    for name in spec.timestamps:
        bad |= table[name] >= day + pd.Timedelta(days=1)
    bad |= domain_broken(table, spec, day)
    for column, parent in spec.parents:
        bad |= ~table[column].isin(clean[parent][_key(parent)])
    return table[~bad].reset_index(drop=True)


def domain_broken(table: pd.DataFrame, spec: TableSpec, day: pd.Timestamp) -> pd.Series:
    """Rows breaking a domain rule of the contract (comparisons with a missing value are false)."""
    broken = pd.Series(False, index=table.index)
    if spec.name in ("cases", "encounters"):
        broken |= table["discharge_date"] < table["admission_date"]
    if spec.name == "cases":
        duration = table["surgery_end"] - table["surgery_start"]
        broken |= (duration < pd.Timedelta(0)) | (duration > pd.Timedelta(hours=MAX_OPERATIVE_HOURS))
        broken |= ~table["asa_class"].between(1, 5) & table["asa_class"].notna()
        broken |= table["blood_loss_ml"] < 0
        broken |= ~table["predicted_mortality"].between(0, 1) & table["predicted_mortality"].notna()
    if spec.name == "patients":
        earliest = day - pd.DateOffset(years=MAX_AGE_YEARS + 1)
        broken |= (table["birth_date"] <= earliest) | (table["birth_date"] > day)
    return broken


_KEYS = {spec.name: spec.key for spec in table_specs()}


def _key(table: str) -> str:
    return _KEYS[table]


def case_mart(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The case mart: derived columns, outcome flags, the surgeon's case sequence and the expected risks."""
    cases = t["cases"].copy()
    cases["surgery_date"] = cases["surgery_start"].dt.normalize()
    patients = t["patients"][["patient_id", "sex", "birth_date", "death_date"]]
    mart = cases.merge(patients, on="patient_id", how="left")
    mart = mart.merge(t["surgeons"][["surgeon_id", "specialty"]], on="surgeon_id", how="left")
    mart = mart.merge(t["sites"][["site_id", "site_name", "site_type", "region"]], on="site_id", how="left")

    surgery, birth = mart["surgery_date"], mart["birth_date"]
    before_birthday = (surgery.dt.month * 100 + surgery.dt.day) < (birth.dt.month * 100 + birth.dt.day)
    age = (surgery.dt.year - birth.dt.year - before_birthday.astype(int)).where(birth.notna())
    mart["age_at_surgery"] = age.astype("Int16")
    mart["age_band"] = pd.cut(
        age, [-np.inf, 40, 60, 70, 80, np.inf], right=False, labels=["<40", "40-59", "60-69", "70-79", "80+"]
    ).astype("string")
    mart["period_quarter"] = surgery.dt.year.astype("string") + "-Q" + surgery.dt.quarter.astype("string")
    mart["los_days"] = (mart["discharge_date"] - mart["admission_date"]).dt.days
    mart["operative_minutes"] = (mart["surgery_end"] - mart["surgery_start"]).dt.total_seconds() / 60

    # Complications within the window of their case.
    comp = t["complications"].merge(mart[["case_id", "surgery_date"]], on="case_id")
    days = (comp["onset_date"] - comp["surgery_date"]).dt.days
    comp = comp[comp["onset_date"].isna() | days.between(0, WINDOW)]
    per_case = comp.assign(grade=comp["clavien_dindo"].map(GRADES)).groupby("case_id")["grade"].agg(["size", "max"])
    mart = mart.merge(per_case, left_on="case_id", right_index=True, how="left")
    mart["complication_count"] = mart["size"].fillna(0).astype(int)
    mart["complication_any"] = mart["size"].notna()
    mart["complication_major"] = mart["max"].fillna(0) >= GRADES["IIIa"]
    mart = mart.drop(columns=["size", "max"])

    # Readmission: the first unplanned admission on or after discharge, within the window.
    encounters = t["encounters"]
    unplanned = encounters.loc[encounters["planned"].ne(True), ["patient_id", "admission_date"]]
    discharged = mart.loc[mart["discharge_date"].notna(), ["case_id", "patient_id", "discharge_date"]]
    nxt = pd.merge_asof(
        discharged.sort_values("discharge_date"),
        unplanned.sort_values("admission_date"),
        left_on="discharge_date",
        right_on="admission_date",
        by="patient_id",
        direction="forward",
    )
    readmitted = nxt.loc[(nxt["admission_date"] - nxt["discharge_date"]).dt.days <= WINDOW, "case_id"]
    mart["readmission_30d"] = mart["case_id"].isin(readmitted).astype("boolean").where(mart["discharge_date"].notna())

    # Reoperation: the patient's next case strictly after this one starts, within the window (in days).
    starts = mart[["case_id", "patient_id", "surgery_start", "surgery_date"]].sort_values("surgery_start")
    later = starts[["patient_id", "surgery_start", "surgery_date"]].rename(
        columns={"surgery_start": "next_start", "surgery_date": "next_date"}
    )
    nxt = pd.merge_asof(
        starts,
        later,
        left_on="surgery_start",
        right_on="next_start",
        by="patient_id",
        direction="forward",
        allow_exact_matches=False,
    )
    reoperated = nxt.loc[(nxt["next_date"] - nxt["surgery_date"]).dt.days <= WINDOW, "case_id"]
    mart["reoperation_30d"] = mart["case_id"].isin(reoperated)

    death_days = (mart["death_date"] - mart["surgery_date"]).dt.days
    mart["mortality_30d"] = death_days.between(0, WINDOW) | mart["discharge_destination"].eq("died")
    minimally_invasive = mart["approach"].isin(["laparoscopic", "robotic"])
    mart["conversion"] = mart["converted_to_open"].astype("boolean").where(minimally_invasive)

    # The risk columns: the observed rate of each risk stratum, unless the source gave a predicted risk.
    mart = mart.sort_values(["surgery_start", "case_id"]).reset_index(drop=True)
    mart["surgeon_case_seq"] = mart.groupby(["surgeon_id", "procedure_family"]).cumcount() + 1
    strata = mart.groupby(list(STRATA), dropna=False)
    stratum_mortality = strata["mortality_30d"].transform("mean")
    mart["expected_mortality_30d"] = mart["predicted_mortality"].fillna(stratum_mortality)
    mart["expected_complication_major"] = strata["complication_major"].transform("mean")
    return mart


def aggregates(mart: pd.DataFrame, clean: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The workflow aggregations, in the long format of ref_spec.AGGREGATE_KEYS."""
    flags = mart[list(OUTCOMES)].astype("Int64")
    frames = []
    for view, column in UNITS.items():
        for scope, by in (("overall", [column]), ("family", [column, "procedure_family"])):
            grouped = flags.groupby([mart[c] for c in by])
            cells = pd.concat({"cases": grouped.count(), "events": grouped.sum()}, axis=1).stack(level=1)
            cells = cells.rename_axis([*by, "outcome"]).reset_index()
            cells["scope_value"] = cells["procedure_family"] if scope == "family" else "all"
            frames.append(cells.assign(view=view, unit_id=cells[column], scope=scope))
    for dimension, column in DIMENSIONS.items():
        level = (
            pd.Series("all", index=mart.index) if column is None else mart[column].astype("string").fillna(NULL_LEVEL)
        )
        grouped = flags.groupby(level.rename("scope_value"))
        cells = pd.concat({"cases": grouped.count(), "events": grouped.sum()}, axis=1).stack(level=1)
        cells = cells.rename_axis(["scope_value", "outcome"]).reset_index()
        totals = level.value_counts().rename_axis("scope_value").reset_index(name="cases")
        cells = pd.concat([cells, totals.assign(outcome="__cases", events=0)])
        frames.append(cells.assign(view="patient", unit_id=dimension, scope="cohort"))
    counts = pd.DataFrame(
        {
            "view": "clean",
            "unit_id": list(clean),
            "scope": "table",
            "scope_value": "all",
            "outcome": "rows",
            "cases": [len(f) for f in clean.values()],
            "events": 0,
        }
    )
    columns = ["view", "unit_id", "scope", "scope_value", "outcome", "cases", "events"]
    long = pd.concat([f[columns] for f in [*frames, counts]], ignore_index=True)
    return long.astype({"cases": "int64", "events": "int64", "scope_value": "string", "unit_id": "string"})


def run(ingest: Path, out: Path, run_date: date) -> dict[str, float]:
    """Write the clean tables, the mart and the aggregates to `out`; the seconds of each step."""
    out.mkdir(parents=True, exist_ok=True)
    steps: dict[str, float] = {}
    start = time.perf_counter()
    clean: dict[str, pd.DataFrame] = {}
    for spec in table_specs():
        clean[spec.name] = consolidate(pd.read_parquet(ingest / f"{spec.name}.parquet"), spec, clean, run_date)
        clean[spec.name].to_parquet(out / f"{spec.name}.parquet", index=False)
    steps["consolidate"] = time.perf_counter() - start
    start = time.perf_counter()
    mart = case_mart(clean)
    mart.to_parquet(out / "mart.parquet", index=False)
    steps["transform"] = time.perf_counter() - start
    start = time.perf_counter()
    aggregates(mart, clean).to_parquet(out / "aggregates.parquet", index=False)
    steps["workflows"] = time.perf_counter() - start
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ingest", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--run-date", type=date.fromisoformat, default=date.today())
    args = parser.parse_args()
    steps = run(args.ingest, args.out, args.run_date)
    print(f"{STEPS_MARK} {json.dumps(steps)}", file=sys.stderr)


if __name__ == "__main__":
    main()
