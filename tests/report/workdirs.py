"""Work directories for the report tests: a small hand-made case mart run through the real workflow views.

The mart is small enough to know its small counts: most surgeons have between 1 and 10 deaths, one surgeon
operated only 6 times, one planted surgeon has three times the major-complication rate. Surgeon ids (S7xx)
and names are distinctive, so a disclosure check can look for them in every output.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ector.chain import stage
from ector.runner import run_stage
from ector.settings import AnalysisSettings, Settings, load_settings
from ector.transform.mart import EXPECTED
from ector.transform.risk_models import fit_risk_models, pattern_columns, pattern_counts, supplied_counts

SURGEON_IDS = [f"S7{i:02d}" for i in range(1, 13)]
SURGEON_NAMES = {s: f"Dr {n} Quillfeather" for s, n in zip(SURGEON_IDS, "ABCDEFGHIJKL", strict=True)}
PLANTED = "S701"  # three times the major-complication risk: flagged on its funnel
TINY = "S712"  # six cases: its volume is a small count
SITES = ["H1", "H2", "H3"]
FAMILIES = ["cholecystectomy", "hernia_repair"]
KEY = "report-test-key-0123456789"
OTHER_KEY = "another-report-key-9876543210"


def case_mart(seed: int = 11, *, without: tuple[str, ...] = ()) -> pl.DataFrame:
    """Return a case mart (docs/data-dictionary.md columns the views read), sorted by surgery_start, case_id."""
    rng = np.random.default_rng(seed)
    counts = [6 if s == TINY else 160 for s in SURGEON_IDS]
    surgeon = np.repeat(np.array(SURGEON_IDS), counts)
    n = surgeon.size
    site = np.array([SITES[SURGEON_IDS.index(s) % len(SITES)] for s in surgeon])
    asa = rng.choice(np.arange(1, 5), n, p=[0.2, 0.4, 0.3, 0.1]).astype(np.int8)
    urgency = rng.choice(np.array(["elective", "urgent", "emergency"]), n, p=[0.7, 0.2, 0.1])
    risk = 0.015 + 0.01 * (asa - 1)
    major_risk = np.where(surgeon == PLANTED, 0.24, 0.08)
    start = np.datetime64(datetime(2023, 1, 1), "us") + rng.integers(0, 2 * 365 * 86400, n).astype("timedelta64[s]")
    age = rng.integers(25, 99, n).astype(np.int16)
    approach = rng.choice(np.array(["open", "laparoscopic", "robotic"]), n, p=[0.5, 0.4, 0.1])
    mart = pl.DataFrame(
        {
            "case_id": [f"C{i:06d}" for i in range(n)],
            "patient_id": [f"P{i:06d}" for i in rng.integers(0, int(n * 0.9), n)],
            "surgeon_id": surgeon,
            "site_id": site,
            "procedure_family": rng.choice(np.array(FAMILIES), n),
            "approach": approach,
            "urgency": urgency,
            "asa_class": asa,
            "surgery_start": start,
            "sex": rng.choice(np.array(["F", "M"]), n),
            "age_at_surgery": age,
            "operative_minutes": rng.lognormal(np.log(90), 0.25, n),
            "los_days": (1 + rng.geometric(0.4, n)).astype(np.int32),
            "complication_major": rng.random(n) < major_risk,
            "readmission_30d": rng.random(n) < 0.06,
            "reoperation_30d": rng.random(n) < 0.02,
            "mortality_30d": rng.random(n) < risk,
            "expected_mortality_30d": risk,
            "expected_complication_major": np.full(n, 0.09),
            "specialty": np.full(n, "general"),
        }
    ).with_columns(
        complication_any=pl.col("complication_major") | (pl.Series(rng.random(n)) < 0.1),
        conversion=pl.when(pl.col("approach") != "open").then(pl.Series(rng.random(n)) < 0.05),
        surgery_date=pl.col("surgery_start").dt.date(),
        age_band=pl.when(pl.col("age_at_surgery") < 40)
        .then(pl.lit("<40"))
        .when(pl.col("age_at_surgery") < 60)
        .then(pl.lit("40-59"))
        .when(pl.col("age_at_surgery") < 70)
        .then(pl.lit("60-69"))
        .when(pl.col("age_at_surgery") < 80)
        .then(pl.lit("70-79"))
        .otherwise(pl.lit("80+")),
        site_name=pl.concat_str(pl.lit("Hospital "), pl.col("site_id")),
        site_type=pl.lit("teaching"),
        region=pl.lit("North"),
    )
    mart = mart.with_columns(pl.lit(None, mart.schema[c]).alias(c) for c in without)
    return mart.sort("surgery_start", "case_id")


def consolidation_summary() -> pl.DataFrame:
    """Return a consolidate/summary.parquet in its documented long shape, with small counts in it."""
    rows: list[dict[str, Any]] = []
    for table, rows_in, merged, quarantined in (("cases", 1944, 0, 3), ("surgeons", 12, 0, 0)):
        for rule, value in (
            ("rows_in", rows_in),
            ("duplicates_merged", merged),
            ("quarantined", quarantined),
            ("rows_out", rows_in - merged - quarantined),
        ):
            rows.append({"table": table, "kind": "total", "rule": rule, "column": None, "rows": value})
    rows += [
        {"table": "cases", "kind": "repair", "rule": "code_variant", "column": None, "rows": 40},
        {"table": "cases", "kind": "quarantine", "rule": "future_date", "column": None, "rows": 2},
        {"table": "cases", "kind": "quarantine", "rule": "end_before_start", "column": None, "rows": 1},
        {"table": "cases", "kind": "note", "rule": "missing_optional", "column": "asa_class", "rows": 4},
        {"table": "cases", "kind": "note", "rule": "missing_optional", "column": "approach", "rows": 0},
    ]
    schema = {"table": pl.String, "kind": pl.String, "rule": pl.String, "column": pl.String, "rows": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def settings_for(workdir: Path, **overrides: Any) -> Settings:
    """Return settings for a work directory (no config file, no ECTOR_ variable, as the conftest ensures)."""
    return load_settings(overrides={"workdir": str(workdir), **overrides})


def build_workdir(
    workdir: Path,
    *,
    views: tuple[str, ...] = ("patient", "surgeon", "site"),
    mart: pl.DataFrame | None = None,
    with_consolidation: bool = True,
) -> Path:
    """Write the mart, the consolidation outputs the report reads, and run the given workflow views."""
    (workdir / "transform").mkdir(parents=True, exist_ok=True)
    mart = case_mart() if mart is None else mart
    mart.write_parquet(workdir / "transform" / "cases.parquet")
    write_risk_models(workdir, mart)
    if with_consolidation:
        (workdir / "consolidate").mkdir(exist_ok=True)
        consolidation_summary().write_parquet(workdir / "consolidate" / "summary.parquet")
        pl.DataFrame(
            {"surgeon_id": SURGEON_IDS, "surgeon_name": [SURGEON_NAMES[s] for s in SURGEON_IDS]}
        ).write_parquet(workdir / "consolidate" / "surgeons.parquet")
    settings = settings_for(workdir)
    for view in views:
        run_stage(stage(f"workflow/{view}"), settings)
    return workdir


def write_risk_models(workdir: Path, mart: pl.DataFrame, analysis: AnalysisSettings | None = None) -> None:
    """Write transform/risk_models.parquet and risk_calibration.parquet of `mart` as the transform would."""
    analysis = analysis or AnalysisSettings()
    names = set(mart.columns)
    factors = [f for f in analysis.risk_factors if f in names]
    strata = [s for s in analysis.risk_strata if s in names]
    analysis = analysis.model_copy(update={"risk_factors": factors, "risk_strata": strata})
    wanted = {n: spec for n, spec in EXPECTED.items() if n in names and spec[0] in names}
    wanted = {n: (o, g if g in names else None) for n, (o, g) in wanted.items()}
    lazy = mart.lazy()
    patterns = pattern_counts(lazy, [o for o, _ in wanted.values()], pattern_columns(analysis)).collect()
    supplied = {n: supplied_counts(lazy, o, g).collect() for n, (o, g) in wanted.items() if g is not None}
    models = fit_risk_models(patterns, wanted, analysis, supplied)
    models.models.write_parquet(workdir / "transform" / "risk_models.parquet")
    models.calibration.write_parquet(workdir / "transform" / "risk_calibration.parquet")


def demo_period() -> tuple[date, date]:
    """Return the first and last possible surgery dates of `case_mart`."""
    return date(2023, 1, 1), date(2024, 12, 31)
