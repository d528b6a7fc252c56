"""Synthetic case marts (docs/data-dictionary.md) with planted effects, for the workflow tests and benchmark.

Outcomes are drawn from logistic risks of ASA, urgency and age, so indirect standardisation over the default
strata is (nearly) calibrated and a clean surgeon is "as expected" by construction. Vectorised with numpy
and polars: ten million rows take seconds, not minutes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

FAMILIES = ("cholecystectomy", "colectomy", "hernia_repair", "hip_replacement")
STRATA = ["procedure_family", "asa_class", "age_band", "urgency"]
# Optional Gold tables -> the mart columns that are entirely null without them (case-mart spec).
ABSENT_COLUMNS = {
    "patients": ("sex", "age_at_surgery", "age_band"),
    "surgeons": ("specialty",),
    "sites": ("site_name", "site_type", "region"),
    "complications": (
        "complication_count",
        "worst_clavien_dindo",
        "complication_any",
        "complication_major",
        "expected_complication_major",
    ),
    "encounters": ("readmission_30d",),
}


def _logistic(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(1 / (1 + np.exp(-x)), dtype=np.float64)


def make_mart(
    n_surgeons: int = 20,
    cases_per_surgeon: int = 200,
    *,
    n_sites: int = 4,
    seed: int = 0,
    complication_major_factor: Mapping[str, float] | None = None,
    mortality_factor: Mapping[str, float] | None = None,
    learning: bool = False,
    predicted_mortality: bool = False,
    absent: Collection[str] = (),
) -> pl.DataFrame:
    """Return a mart of n_surgeons x cases_per_surgeon cases, sorted by surgery_start then case_id.

    Surgeons are S01..; surgeon i operates at site H{i % n_sites + 1}. complication_major_factor multiplies a
    surgeon's major-complication probability (clipped at 0.95), mortality_factor a site's death probability.
    learning adds operative minutes that fall with the surgeon's case sequence in the family. absent names
    optional tables (patients, surgeons, sites, complications, encounters) or mart columns to make all null.
    """
    rng = np.random.default_rng(seed)
    n = n_surgeons * cases_per_surgeon
    width = max(2, len(str(n_surgeons)))
    surgeon = np.repeat(np.arange(n_surgeons), cases_per_surgeon)
    surgeon_ids = np.array([f"S{i + 1:0{width}d}" for i in range(n_surgeons)])[surgeon]
    site_ids = np.array([f"H{i % n_sites + 1}" for i in range(n_surgeons)])[surgeon]
    family = rng.integers(0, len(FAMILIES), n)
    approach = rng.choice(np.array(["open", "laparoscopic", "robotic"]), n, p=[0.4, 0.4, 0.2])
    urgency = rng.choice(np.array(["elective", "urgent", "emergency"]), n, p=[0.7, 0.2, 0.1])
    asa = rng.choice(np.arange(1, 6), n, p=[0.15, 0.4, 0.3, 0.12, 0.03]).astype(np.int8)
    age = rng.integers(20, 96, n).astype(np.int16)
    emergency = urgency == "emergency"
    start_seconds = rng.integers(0, 3 * 365 * 86400, n)
    start = np.datetime64(datetime(2022, 1, 1), "us") + start_seconds.astype("timedelta64[s]")
    minutes = rng.lognormal(np.log(90), 0.3, n)

    p_major = _logistic(-3.0 + 0.4 * (asa - 2) + 0.6 * emergency + 0.02 * (age - 60))
    p_death = _logistic(-4.5 + 0.6 * (asa - 2) + 1.0 * emergency + 0.04 * (age - 60))
    true_death = p_death.copy()
    for unit, factor in (complication_major_factor or {}).items():
        p_major = np.where(surgeon_ids == unit, np.minimum(p_major * factor, 0.95), p_major)
    for unit, factor in (mortality_factor or {}).items():
        p_death = np.where(site_ids == unit, np.minimum(p_death * factor, 0.95), p_death)
    major = rng.random(n) < p_major
    any_complication = major | (rng.random(n) < 0.10)
    died = rng.random(n) < p_death
    keyhole = approach != "open"
    conversion = np.where(keyhole, rng.random(n) < 0.06, False)

    mart = pl.DataFrame(
        {
            "surgeon_id": surgeon_ids,
            "site_id": site_ids,
            "procedure_family": np.array(FAMILIES)[family],
            "approach": approach,
            "urgency": urgency,
            "asa_class": asa,
            "surgery_start": start,
            "operative_minutes": minutes,
            "sex": rng.choice(np.array(["F", "M"]), n),
            "age_at_surgery": age,
            "complication_any": any_complication,
            "complication_major": major,
            "complication_count": np.where(any_complication, 1 + rng.poisson(0.3, n), 0).astype(np.int32),
            "readmission_30d": rng.random(n) < 0.07,
            "reoperation_30d": rng.random(n) < 0.03,
            "mortality_30d": died,
            "conversion": pl.Series(conversion).set(pl.Series(~keyhole), None),
            "predicted_mortality": true_death if predicted_mortality else np.full(n, np.nan),
            "los_days": (1 + rng.geometric(0.3, n)).astype(np.int32),
            "patient_index": rng.integers(0, max(1, int(n * 0.8)), n),
        }
    )
    return _derive(mart, learning=learning, absent=set(absent))


def _derive(mart: pl.DataFrame, *, learning: bool, absent: set[str]) -> pl.DataFrame:
    n = mart.height
    surgery_date = pl.col("surgery_start").dt.date()
    mart = (
        mart.with_columns(
            case_id=pl.concat_str(pl.lit("C"), pl.int_range(n).cast(pl.String).str.zfill(9)),
            patient_id=pl.concat_str(pl.lit("P"), pl.col("patient_index").cast(pl.String).str.zfill(9)),
            surgery_date=surgery_date,
            predicted_mortality=pl.col("predicted_mortality").fill_nan(None),
            age_band=_age_band(pl.col("age_at_surgery")),
        )
        .sort("surgery_start", "case_id")
        .with_columns(
            surgeon_case_seq=pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over(
                "surgeon_id", "procedure_family", order_by=["surgery_start", "case_id"]
            )
        )
    )
    if learning:
        # Experience shortens operations: up to twice as long at first, half the excess gone by case ~17.
        mart = mart.with_columns(
            operative_minutes=pl.col("operative_minutes") * (1 + (-pl.col("surgeon_case_seq") / 25).exp())
        )
    mart = mart.with_columns(
        site_name=pl.concat_str(pl.lit("Hospital "), pl.col("site_id")),
        site_type=pl.lit("teaching"),
        region=pl.lit("North"),
        specialty=pl.lit("general"),
        admission_date=surgery_date,
        discharge_date=surgery_date + pl.duration(days=pl.col("los_days")),
        surgery_end=pl.col("surgery_start") + pl.duration(minutes=pl.col("operative_minutes")),
        period_month=surgery_date.dt.strftime("%Y-%m"),
        period_quarter=pl.concat_str(surgery_date.dt.year().cast(pl.String), pl.lit("-Q"), surgery_date.dt.quarter()),
        period_year=surgery_date.dt.year().cast(pl.Int32),
        worst_clavien_dindo=pl.when("complication_major")
        .then(pl.lit("IIIa"))
        .when("complication_any")
        .then(pl.lit("II")),
    )
    strata_rate = pl.col("mortality_30d").mean().over(STRATA)
    mart = mart.with_columns(
        expected_mortality_30d=pl.col("predicted_mortality").fill_null(strata_rate),
        expected_complication_major=pl.col("complication_major").cast(pl.Float64).mean().over(STRATA),
    )
    nulls = {c for table in absent for c in ABSENT_COLUMNS.get(table, (table,))}
    if "mortality_30d" in nulls:
        nulls.add("expected_mortality_30d")
    mart = mart.with_columns(pl.lit(None, mart.schema[c]).alias(c) for c in sorted(nulls))
    return mart.drop("patient_index")


def _age_band(age: pl.Expr) -> pl.Expr:
    return (
        pl.when(age < 40)
        .then(pl.lit("<40"))
        .when(age < 60)
        .then(pl.lit("40-59"))
        .when(age < 70)
        .then(pl.lit("60-69"))
        .when(age < 80)
        .then(pl.lit("70-79"))
        .when(age.is_not_null())
        .then(pl.lit("80+"))
    )


def tiny_mart(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Return a mart from a few hand-written cases: unspecified columns take neutral defaults or nulls."""
    defaults: dict[str, Any] = {
        "patient_id": "P1",
        "surgeon_id": "S1",
        "site_id": "H1",
        "procedure_family": "colectomy",
        "approach": "open",
        "urgency": "elective",
        "asa_class": 2,
        "surgery_start": datetime(2024, 1, 1, 8),
        "los_days": 3,
        "operative_minutes": 90.0,
    }
    filled = [{**defaults, "case_id": f"C{i:03d}", **row} for i, row in enumerate(rows)]
    mart = pl.DataFrame(filled, infer_schema_length=None)
    start = pl.col("surgery_start")
    return mart.with_columns(
        surgery_date=start.dt.date(),
        period_month=start.dt.strftime("%Y-%m"),
        period_quarter=pl.concat_str(start.dt.year().cast(pl.String), pl.lit("-Q"), start.dt.quarter()),
        period_year=start.dt.year().cast(pl.Int32),
        asa_class=pl.col("asa_class").cast(pl.Int8),
        los_days=pl.col("los_days").cast(pl.Int32),
    ).sort("surgery_start", "case_id")


__all__ = ["FAMILIES", "STRATA", "make_mart", "tiny_mart"]
