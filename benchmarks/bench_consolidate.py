"""Consolidation at scale: time and peak memory of `ector consolidate` against the floor of reading its input.

    python benchmarks/bench_consolidate.py --ingest WORKDIR/ingest        # an ingest folder (from `ector ingest`)
    python benchmarks/bench_consolidate.py --generate 10000000            # synthetic ingest-shaped data

    python benchmarks/bench_consolidate.py --ingest DIR --spill-mb 512 --no-spill  # other budgets, no spilling

The floor is `pl.scan_parquet(...).collect()` of every ingested file: what merely holding the input in memory
costs. Consolidation is `ector consolidate --force` as a user runs it, in its own process (its peak RSS and CPU
time are its own, from `wait4`), with the default settings: table by table, each output streamed to Parquet,
clean tables sorted by key (the sort spills beyond `spill_mb`). `--spill-mb MB` measures it again under another
budget, `--no-spill` with the sort held in memory. On a shared machine, read wall time next to CPU time.
Synthetic data has the six tables (patients = cases / 2, complications = cases / 10, encounters = cases / 5)
with ~1% re-sent duplicates, ~0.5% lower-case key variants and a few orphans; columns have ingest dtypes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

_MEASURE = """
import json, resource, sys, time
t0 = time.perf_counter()
{body}
seconds = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps({{"seconds": seconds, "cpu_seconds": cpu, "peak_mb": usage.ru_maxrss / 1024, **extra}}))
"""

_FLOOR = """
import polars as pl
folder = {folder!r}
files = sorted(p for p in __import__("pathlib").Path(folder).glob("*.parquet"))
frames = pl.collect_all([pl.scan_parquet(f) for f in files])
extra = {{"rows": sum(f.height for f in frames), "in_memory_mb": sum(f.estimated_size() for f in frames) / 2**20}}
"""


def measure(body: str) -> dict[str, float]:
    """Run `body` in a fresh interpreter; its wall time (after imports in body) and peak RSS."""
    code = _MEASURE.format(body=textwrap.indent(textwrap.dedent(body), ""))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"measurement failed:\n{result.stderr[-3000:]}")
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def consolidate(workdir: Path, engine: str, spill_mb: int | None) -> dict[str, float]:
    """Run `ector consolidate --force` on `workdir` (spill_mb None: the default); its wall, CPU time and peak RSS."""
    # Settings come from here alone: run beside the work dir (no ector.yaml), no ECTOR_* or polars budget inherited.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECTOR_") and k != "POLARS_OOC_MEMORY_BUDGET_MB"}
    env |= {"ECTOR_ENGINE": engine, "ECTOR_CONSOLIDATION__MAX_QUARANTINE_FRACTION": "1.0"}
    env |= {"ECTOR_CONSOLIDATION__RUN_DATE": "2026-01-01"}
    if spill_mb is not None:
        env["ECTOR_SPILL_MB"] = str(spill_mb)
    command = [sys.executable, "-m", "ector", "-w", str(workdir), "consolidate", "--force"]
    # stderr to a file, not a pipe: nobody reads a pipe before wait4 returns, and a full one would block the run.
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=workdir.parent, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            stderr.seek(0)
            raise SystemExit(f"ector consolidate failed:\n{stderr.read().decode(errors='replace')[-3000:]}")
    return {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}


def generate(folder: Path, cases: int, seed: int = 7) -> None:
    """Write synthetic ingest-shaped Parquet files for the six tables into `folder`."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_sites, n_surgeons, n_patients = 50, 2000, max(cases // 2, 1)
    n_complications, n_encounters = max(cases // 10, 1), max(cases // 5, 1)

    def ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
        return pl.Series(numbers).cast(pl.String).str.zfill(width).str.replace("^", prefix)

    def minutes(values: np.ndarray) -> np.ndarray:
        return values.astype("timedelta64[m]").astype("timedelta64[us]")

    def with_dirt(frame: pl.DataFrame, key: str) -> pl.DataFrame:
        """~1% of rows re-sent later with another value, ~0.5% of keys in lower case."""
        resent = frame.sample(fraction=0.01, seed=seed).with_columns(pl.col("updated_at") + pl.duration(days=1))
        frame = pl.concat([frame, resent])
        lower = pl.Series(rng.random(frame.height) < 0.005)
        return frame.with_columns(pl.when(lower).then(pl.col(key).str.to_lowercase()).otherwise(pl.col(key)))

    start = (np.datetime64("2020-01-01T00:00") + minutes(rng.integers(0, 4 * 365 * 24 * 60, cases))).astype(
        "datetime64[us]"
    )
    updated = pl.Series(np.full(cases, np.datetime64("2025-01-01T00:00:00", "us")))
    sites = pl.DataFrame(
        {
            "site_id": ids("H", np.arange(n_sites), 2),
            "site_name": [f"Site {i}" for i in range(n_sites)],
            "region": rng.choice(["North", "South"], n_sites),
            "site_type": rng.choice(["teaching", "community", "ambulatory"], n_sites),
            "updated_at": updated[:n_sites],
        }
    )
    surgeons = pl.DataFrame(
        {
            "surgeon_id": ids("S", np.arange(n_surgeons), 4),
            "surgeon_name": [f"Dr {i}" for i in range(n_surgeons)],
            "specialty": rng.choice(["general", "urology", "orthopaedic"], n_surgeons),
            "primary_site_id": ids("H", rng.integers(0, n_sites, n_surgeons), 2),
            "first_year_in_practice": rng.integers(1980, 2020, n_surgeons),
            "updated_at": updated[:n_surgeons],
        }
    )
    patients = pl.DataFrame(
        {
            "patient_id": ids("P", np.arange(n_patients), 9),
            "birth_date": pl.Series(np.datetime64("1930-01-01") + rng.integers(0, 70 * 365, n_patients)).cast(pl.Date),
            "sex": rng.choice(["F", "M"], n_patients),
            "death_date": pl.Series([None] * n_patients, dtype=pl.Date),
            "updated_at": updated[:n_patients],
        }
    )
    # A few orphans: patients and surgeons beyond the tables.
    case_patients = rng.integers(0, n_patients + max(n_patients // 10_000, 1), cases)
    cases_frame = pl.DataFrame(
        {
            "case_id": ids("C", np.arange(cases), 10),
            "patient_id": ids("P", case_patients, 9),
            "surgeon_id": ids("S", rng.integers(0, n_surgeons, cases), 4),
            "site_id": ids("H", rng.integers(0, n_sites, cases), 2),
            "procedure_code": ids("", rng.integers(10000, 99999, cases), 5),
            "procedure_family": rng.choice(["cholecystectomy", "colectomy", "hernia_repair", "hip_replacement"], cases),
            "approach": rng.choice(["open", "laparoscopic", "robotic"], cases),
            "urgency": rng.choice(["elective", "urgent", "emergency"], cases),
            "asa_class": rng.integers(1, 6, cases),
            "admission_date": pl.Series(start).dt.date(),
            "surgery_start": pl.Series(start),
            "surgery_end": pl.Series(start + minutes(rng.integers(30, 400, cases))),
            "discharge_date": pl.Series(start + minutes(rng.integers(0, 14 * 24 * 60, cases))).dt.date(),
            "converted_to_open": rng.random(cases) < 0.05,
            "blood_loss_ml": rng.gamma(2.0, 100.0, cases),
            "discharge_destination": rng.choice(["home", "facility"], cases),
            "predicted_mortality": rng.beta(1, 60, cases),
            "source_system": rng.choice(["north", "south"], cases),
            "updated_at": updated,
        }
    )
    complications = pl.DataFrame(
        {
            "complication_id": ids("K", np.arange(n_complications), 9),
            "case_id": ids("C", rng.integers(0, cases, n_complications), 10),
            "complication_type": rng.choice(["ssi", "bleeding", "vte", "pneumonia"], n_complications),
            "clavien_dindo": rng.choice(["I", "II", "IIIa", "IVa"], n_complications),
            "onset_date": pl.Series([None] * n_complications, dtype=pl.Date),
            "updated_at": updated[:n_complications],
        }
    )
    encounters = pl.DataFrame(
        {
            "encounter_id": ids("E", np.arange(n_encounters), 9),
            "patient_id": ids("P", rng.integers(0, n_patients, n_encounters), 9),
            "site_id": ids("H", rng.integers(0, n_sites, n_encounters), 2),
            "admission_date": pl.Series(start[:n_encounters]).dt.date(),
            "discharge_date": pl.Series(start[:n_encounters] + minutes(rng.integers(0, 9000, n_encounters))).dt.date(),
            "planned": rng.random(n_encounters) < 0.3,
            "updated_at": updated[:n_encounters],
        }
    )
    tables = {
        "sites": (sites, "site_id"),
        "surgeons": (surgeons, "surgeon_id"),
        "patients": (patients, "patient_id"),
        "cases": (cases_frame, "case_id"),
        "complications": (complications, "complication_id"),
        "encounters": (encounters, "encounter_id"),
    }
    for name, (frame, key) in tables.items():
        with_dirt(frame, key).write_parquet(folder / f"{name}.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ingest", type=Path, help="an ingest folder: <table>.parquet as `ector ingest` writes")
    source.add_argument("--generate", type=int, metavar="CASES", help="generate synthetic data with this many cases")
    parser.add_argument("--engine", default="auto", help="settings.engine for the consolidation run")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it (default: a temp folder)")
    parser.add_argument("--spill-mb", type=int, metavar="MB", help="also measure with settings spill_mb=MB")
    parser.add_argument("--no-spill", action="store_true", help="also measure with spill_mb 0 (sort in memory)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ector-bench-") as scratch:
        workdir = Path(scratch) / "work"
        ingest = workdir / "ingest"
        if args.generate is not None:
            folder = args.keep or Path(scratch) / "generated"
            print(f"generating {args.generate:,} cases into {folder} ...", file=sys.stderr)
            generate(folder, args.generate)
        else:
            folder = args.ingest
        ingest.mkdir(parents=True)
        for file in sorted(folder.glob("*.parquet")):
            (ingest / file.name).symlink_to(file.resolve())

        floor = measure(_FLOOR.format(folder=str(folder)))
        variants = {"consolidate (defaults)": None}
        if args.spill_mb:
            variants[f"  spill_mb {args.spill_mb}"] = args.spill_mb
        if args.no_spill:
            variants["  spill_mb 0 (sort in memory)"] = 0
        runs = {label: consolidate(workdir, args.engine, spill_mb) for label, spill_mb in variants.items()}
        size_mb = sum(f.stat().st_size for f in folder.glob("*.parquet")) / 2**20

    print(f"input: {floor['rows']:,.0f} rows, {size_mb:,.0f} MB of Parquet, {floor['in_memory_mb']:,.0f} MB in memory")
    print(
        f"{'':<32}{'seconds':>9}{'cpu s':>8}{'peak MB':>9}{'time x floor':>14}{'peak x floor':>14}{'peak x data':>13}"
    )
    floor_row = f"{floor['seconds']:>9.2f}{floor['cpu_seconds']:>8.1f}{floor['peak_mb']:>9.0f}"
    print(f"{'floor (read once, collect)':<32}{floor_row}")
    for label, run in runs.items():
        ratios = (run["seconds"] / floor["seconds"], run["peak_mb"] / floor["peak_mb"])
        data = run["peak_mb"] / floor["in_memory_mb"]
        print(
            f"{label:<32}{run['seconds']:>9.2f}{run['cpu_seconds']:>8.1f}{run['peak_mb']:>9.0f}"
            f"{ratios[0]:>14.1f}{ratios[1]:>14.2f}{data:>13.2f}"
        )


if __name__ == "__main__":
    main()
