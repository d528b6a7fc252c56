"""Random consolidated-shaped Gold tables (canonical dtypes and column order) for agreement tests and benchmarks.

Independent of the demo generator and of consolidation: every table is already clean, as consolidation
outputs it, but with the edge cases the case mart has to get right planted at random: same-patient second
cases on the same day and at the same minute, complications without onset, planned / unplanned / unknown
encounters, missing discharge and surgery_end, deaths near a case, birthdays on 29 February, late-December dates.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import polars as pl

from ector.contract import APPROACHES, CLAVIEN_DINDO, TABLES, URGENCIES

FAMILIES = (
    "cholecystectomy",
    "hernia_repair",
    "colectomy",
    "hip_replacement",
    "knee_replacement",
    "prostatectomy",
    "hysterectomy",
    "cabg",
)
_START = datetime(2020, 1, 1)
_SPAN_MINUTES = 6 * 365 * 24 * 60  # six years of surgery starts


def synthetic_gold(n_cases: int, seed: int = 7) -> dict[str, pl.DataFrame]:
    """Six canonical tables around `n_cases` cases (a few percent more: planted second cases), as consolidated."""
    rng = np.random.default_rng(seed)
    n_patients = max(3, int(n_cases * 0.7))
    n_surgeons = max(3, n_cases // 2000)
    n_sites = 20
    cases = _cases(rng, n_cases, n_patients, n_surgeons, n_sites)
    return {
        "sites": _sites(n_sites),
        "surgeons": _surgeons(rng, n_surgeons, n_sites),
        "patients": _patients(rng, n_patients, cases),
        "cases": cases,
        "complications": _complications(rng, cases),
        "encounters": _encounters(rng, cases),
    }


def _ids(prefix: str, n: int, width: int = 8) -> pl.Series:
    return pl.select(pl.format(f"{prefix}{{}}", pl.int_range(n).cast(pl.String).str.zfill(width))).to_series()


def _pick(rng: np.random.Generator, values: tuple[str, ...], n: int, null_share: float = 0.0) -> pl.Series:
    chosen = pl.Series(values, dtype=pl.String).gather(rng.integers(0, len(values), n))
    return chosen.scatter(np.flatnonzero(rng.random(n) < null_share), None)


def _masked(values: np.ndarray, rng: np.random.Generator, null_share: float) -> pl.Series:
    series = pl.Series(values)
    return series.scatter(np.flatnonzero(rng.random(len(values)) < null_share), None)


def _canonical(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    schema = TABLES[name].schema
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


def _sites(n: int) -> pl.DataFrame:
    frame = pl.DataFrame({"site_id": _ids("H", n, 2)}).with_columns(
        site_name=pl.format("Site {}", pl.col("site_id")),
        region=pl.when(pl.int_range(pl.len()) % 7 == 0).then(None).otherwise(pl.lit("R1")),
        site_type=pl.lit("teaching"),
        updated_at=pl.lit(datetime(2024, 1, 1)),
    )
    return _canonical("sites", frame)


def _surgeons(rng: np.random.Generator, n: int, n_sites: int) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "surgeon_id": _ids("S", n, 5),
            "surgeon_name": _ids("Dr ", n, 5),
            "specialty": _pick(rng, ("general", "urology", "orthopaedic"), n, 0.1),
            "primary_site_id": _ids("H", n_sites, 2).sample(n, with_replacement=True, seed=1),
            "first_year_in_practice": rng.integers(1980, 2020, n),
        }
    ).with_columns(updated_at=pl.lit(datetime(2024, 1, 1)))
    return _canonical("surgeons", frame)


def _cases(rng: np.random.Generator, n: int, n_patients: int, n_surgeons: int, n_sites: int) -> pl.DataFrame:
    minutes = rng.integers(0, _SPAN_MINUTES, n)
    # A share of surgeries late on 31 December / in late December, where Int8 month arithmetic would overflow.
    december = rng.random(n) < 0.02
    minutes[december] = (rng.integers(0, 6, december.sum()) * 365 + 360) * 24 * 60 + rng.integers(0, 1440)
    base = pl.DataFrame(
        {
            "patient_idx": rng.integers(0, n_patients, n),
            "surgeon_id": pl.Series(rng.integers(0, n_surgeons, n)),
            "site_id": pl.Series(rng.integers(0, n_sites, n)),
            "procedure_family": _pick(rng, FAMILIES, n),
            "approach": _pick(rng, APPROACHES, n, 0.05),
            "urgency": _pick(rng, URGENCIES, n, 0.03),
            "asa_class": _masked(rng.integers(1, 6, n), rng, 0.05),
            "start_minute": minutes,
            "admit_before": rng.integers(0, 3, n),
            "operative": _masked(rng.integers(20, 400, n), rng, 0.03),
            "stay": _masked(rng.integers(0, 15, n), rng, 0.03),
            "converted": _masked(rng.random(n) < 0.07, rng, 0.05),
            "blood_loss_ml": _masked(rng.gamma(2.0, 100.0, n), rng, 0.1),
            "discharge_destination": _pick(rng, ("home", "home", "home", "facility", "died"), n, 0.04),
            "predicted_mortality": _masked(rng.beta(1, 60, n), rng, 0.5),
        }
    )
    # Planted second cases of the same patient: same minute (a tie on surgery_start), same day, or days later.
    extra = base.sample(max(1, n // 25), seed=int(rng.integers(1 << 30)))
    shift = pl.Series(rng.choice([0, 0, 90, 1440 * 3, 1440 * 30, 1440 * 31], len(extra)))
    extra = extra.with_columns(start_minute=pl.col("start_minute") + shift)
    frame = pl.concat([base, extra]).with_row_index("row")
    start = pl.lit(_START) + pl.duration(minutes=pl.col("start_minute"))
    surgery_date = start.dt.date()
    frame = frame.with_columns(
        case_id=pl.format("C{}", pl.col("row").cast(pl.String).str.zfill(9)),
        patient_id=pl.format("P{}", pl.col("patient_idx").cast(pl.String).str.zfill(8)),
        surgeon_id=pl.format("S{}", pl.col("surgeon_id").cast(pl.String).str.zfill(5)),
        site_id=pl.format("H{}", pl.col("site_id").cast(pl.String).str.zfill(2)),
        procedure_code=pl.format("X{}", pl.col("procedure_family").str.len_chars()),
        admission_date=surgery_date - pl.duration(days=pl.col("admit_before")),
        surgery_start=start,
        surgery_end=start + pl.duration(minutes=pl.col("operative")),
        discharge_date=surgery_date + pl.duration(days=pl.col("stay")),
        converted_to_open=pl.when(pl.col("approach").is_in(["laparoscopic", "robotic"]))
        .then(pl.col("converted"))
        .otherwise(pl.when(pl.col("approach") == "open").then(None).otherwise(pl.col("converted"))),
        source_system=pl.lit("synthetic"),
        updated_at=pl.lit(datetime(2026, 1, 1)),
    )
    return _canonical("cases", frame)


def _patients(rng: np.random.Generator, n: int, cases: pl.DataFrame) -> pl.DataFrame:
    epoch_days = (date(1925, 1, 1) - date(1970, 1, 1)).days + rng.integers(0, 80 * 365, n)
    birth = pl.Series(epoch_days).cast(pl.Int32).cast(pl.Date)
    frame = pl.DataFrame({"patient_id": _ids("P", n), "birth_date": birth, "sex": _pick(rng, ("F", "M", "U"), n)})
    # Some birthdays on 29 February (leap-year ages).
    leap = pl.Series(rng.random(n) < 0.01)
    leap_year = pl.Series(1928 + 4 * rng.integers(0, 18, n))
    frame = frame.with_columns(
        birth_date=pl.when(leap).then(pl.date(pl.lit(leap_year), 2, 29)).otherwise(pl.col("birth_date"))
    )
    # Deaths planted around a case of the patient: before it, on day 0, day 30, day 31, later.
    first = cases.group_by("patient_id").agg(pl.col("surgery_start").min().dt.date().alias("first_surgery"))
    offset = pl.Series(rng.choice([-3, 0, 5, 30, 31, 200], len(first)))
    dies = pl.Series(rng.random(len(first)) < 0.06)
    deaths = first.with_columns(
        death_date=pl.when(dies).then(pl.col("first_surgery") + pl.duration(days=pl.lit(offset))).otherwise(None)
    ).drop("first_surgery")
    frame = frame.join(deaths, on="patient_id", how="left").with_columns(updated_at=pl.lit(datetime(2025, 1, 1)))
    return _canonical("patients", frame)


def _complications(rng: np.random.Generator, cases: pl.DataFrame) -> pl.DataFrame:
    chosen = cases.select("case_id", "surgery_start").sample(int(len(cases) * 0.3), with_replacement=True, seed=3)
    n = len(chosen)
    offset = _masked(rng.integers(-2, 40, n), rng, 0.1)
    frame = chosen.with_columns(
        complication_id=_ids("K", n, 9),
        complication_type=_pick(rng, ("ssi", "bleeding", "vte", "uti"), n),
        clavien_dindo=_pick(rng, CLAVIEN_DINDO, n),
        onset_date=pl.col("surgery_start").dt.date() + pl.duration(days=pl.lit(offset)),
        updated_at=pl.lit(datetime(2026, 1, 1)),
    )
    return _canonical("complications", frame)


def _encounters(rng: np.random.Generator, cases: pl.DataFrame) -> pl.DataFrame:
    chosen = cases.select("patient_id", "site_id", "discharge_date", "surgery_start").sample(
        int(len(cases) * 0.2), with_replacement=True, seed=5
    )
    n = len(chosen)
    offset = pl.Series(rng.integers(-5, 45, n))
    anchor = pl.coalesce(pl.col("discharge_date"), pl.col("surgery_start").dt.date())
    planned = _masked(rng.random(n) < 0.3, rng, 0.1)
    frame = chosen.with_columns(
        encounter_id=_ids("E", n, 9),
        admission_date=anchor + pl.duration(days=pl.lit(offset)),
        discharge_date=anchor + pl.duration(days=pl.lit(offset + 2)),
        planned=planned,
        updated_at=pl.lit(datetime(2026, 1, 1)),
    )
    return _canonical("encounters", frame)
