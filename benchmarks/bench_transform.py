"""Benchmark: the case mart (ector.transform.case_mart) against a DuckDB SQL reference doing the same derivations.

Both read the same consolidated-shaped Parquet folder and write the mart to Parquet, each measurement in its
own subprocess so that its peak memory (max RSS, from os.wait4's rusage of that child) is its own. The time
reported is measured inside the child, from the start of the plan to the written file (interpreter start and
imports excluded); the wall time of the whole child is reported beside it.

    python benchmarks/bench_transform.py --cases 10000000            # generates benchmarks/data/transform-10000000/
    python benchmarks/bench_transform.py --data DIR --repeat 3       # a folder of <table>.parquet files
    python benchmarks/bench_transform.py --cases 1000000 --engine streaming --engine in-memory

Target (issue #5): Ector no slower than 1.25x DuckDB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("sites", "surgeons", "patients", "cases", "complications", "encounters")
TARGET_RATIO = 1.25


def generate(folder: Path, cases: int, seed: int) -> None:
    """Write the synthetic consolidated tables of `cases` cases to folder/<table>.parquet."""
    sys.path.insert(0, str(ROOT))
    from tests.transform.synthetic import synthetic_gold

    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in synthetic_gold(cases, seed).items():
        frame.write_parquet(folder / f"{name}.parquet")


def run_polars(data: Path, out: Path, engine: str) -> dict[str, float]:
    """Sink the case mart of `data` to `out`; return seconds and rows."""
    import polars as pl

    from ector.settings import AnalysisSettings, Engine
    from ector.transform import case_mart

    tables = {name: pl.scan_parquet(data / f"{name}.parquet") for name in TABLES}
    start = time.perf_counter()
    case_mart(tables, AnalysisSettings()).sink_parquet(out, engine=cast(Engine, engine))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": pl.scan_parquet(out).select(pl.len()).collect().item()}


def out_of_order(out: Path) -> int:
    """Return how many rows of the mart at `out` are not in (surgery_start, case_id) order after the previous."""
    import polars as pl

    start, key = pl.col("surgery_start"), pl.col("case_id")
    before = (start.shift(-1) < start) | ((start.shift(-1) == start) & (key.shift(-1) < key))
    return int(pl.scan_parquet(out).select(before.sum()).collect().item())


def compare(ours: Path, reference: Path) -> str:
    """Return 'identical', or the first column in which the two marts differ."""
    import polars as pl
    from polars.testing import assert_series_equal

    left = pl.read_parquet(ours)
    right = pl.read_parquet(reference).select(pl.col(n).cast(t) for n, t in left.schema.items())
    if left.height != right.height:
        return f"row counts differ: {left.height} vs {right.height}"
    for name in left.columns:
        try:
            assert_series_equal(left[name], right[name], check_exact=False, rel_tol=1e-9, abs_tol=1e-12)
        except AssertionError:
            return f"first difference in column {name}"
    return "identical"


def run_duckdb(data: Path, out: Path, threads: int | None) -> dict[str, float]:
    """Write the DuckDB reference mart of `data` to `out`; return seconds and rows."""
    import duckdb

    sys.path.insert(0, str(ROOT))
    from tests.transform.duckdb_reference import reference_sql, register_parquet

    from ector.settings import AnalysisSettings

    analysis = AnalysisSettings()
    with duckdb.connect() as db:
        if threads:
            db.execute(f"SET threads = {threads}")
        register_parquet(db, data)
        start = time.perf_counter()
        sql = reference_sql(analysis.outcome_window_days, analysis.risk_strata)
        db.execute(f"COPY ({sql}) TO '{out.as_posix()}' (FORMAT parquet)")
        seconds = time.perf_counter() - start
        rows = db.execute(f"SELECT COUNT(*) FROM read_parquet('{out.as_posix()}')").fetchone()
    return {"seconds": seconds, "rows": rows[0] if rows else 0}


def measure(args: list[str]) -> dict[str, float]:
    """Run this script as a worker with `args`; return its report plus wall seconds and peak RSS in MB."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"worker {' '.join(args)} failed with exit code {process.returncode}")
    report: dict[str, float] = json.loads(output)
    # ru_maxrss is in kilobytes on Linux. CPU seconds (user + system, whole child) are steadier than wall time
    # on a shared machine.
    return report | {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases to generate (default 1,000,000)")
    parser.add_argument("--data", type=Path, help="folder of consolidated <table>.parquet (default: generate)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="measurements per contender; the median is compared")
    parser.add_argument("--engine", action="append", help="polars engine(s): auto, streaming, in-memory")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's own, all cores)")
    parser.add_argument("--check", action="store_true", help="also compare the two marts row by row")
    parser.add_argument("--worker", choices=["polars", "duckdb"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        data, out = args.data, args.out
        engine = (args.engine or ["auto"])[0]
        report = run_polars(data, out, engine) if args.worker == "polars" else run_duckdb(data, out, args.threads)
        # Outside the timing: the mart must come out sorted at every size, not only at test sizes.
        report["out_of_order"] = out_of_order(out)
        print(json.dumps(report))
        return

    data = args.data or ROOT / "benchmarks" / "data" / f"transform-{args.cases}"
    if not (data / "cases.parquet").is_file():
        start = time.perf_counter()
        generate(data, args.cases, args.seed)
        print(f"generated {data} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    contenders = [(f"ector ({e})", ["--worker", "polars", "--engine", e]) for e in args.engine or ["auto"]]
    duck_args = ["--worker", "duckdb"] + (["--threads", str(args.threads)] if args.threads else [])
    contenders.append(("duckdb", duck_args))

    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in contenders}
    with tempfile.TemporaryDirectory() as tmp:
        outs = {name: Path(tmp) / f"mart-{i}.parquet" for i, (name, _) in enumerate(contenders)}
        for _ in range(args.repeat):
            # Interleaved, so a slow patch of the machine hits every contender alike.
            for name, worker_args in contenders:
                outs[name].unlink(missing_ok=True)
                results[name].append(measure([*worker_args, "--data", str(data), "--out", str(outs[name])]))
        if args.check:
            for name in outs:
                if name != "duckdb":
                    print(f"{name} vs duckdb: {compare(outs[name], outs['duckdb'])}", file=sys.stderr)

    duck = statistics.median(r["seconds"] for r in results["duckdb"])
    duck_cpu = statistics.median(r["cpu"] for r in results["duckdb"])
    print(
        f"{'contender':<22}{'rows':>12}{'median s':>10}{'min s':>8}{'wall s':>8}{'cpu s':>8}{'peak MB':>9}"
        f"{'ratio':>7}{'cpu ratio':>10}{'unsorted':>9}"
    )
    for name, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        print(
            f"{name:<22}{int(runs[0]['rows']):>12,}{seconds:>10.2f}{min(r['seconds'] for r in runs):>8.2f}"
            f"{statistics.median(r['wall'] for r in runs):>8.2f}{cpu:>8.1f}{max(r['peak_mb'] for r in runs):>9.0f}"
            f"{seconds / duck:>7.2f}{cpu / duck_cpu:>10.2f}{int(max(r['out_of_order'] for r in runs)):>9}"
        )
    worst = max(statistics.median(r["seconds"] for r in runs) for n, runs in results.items() if n != "duckdb")
    verdict = "met" if worst <= TARGET_RATIO * duck else "NOT met"
    print(f"target ector <= {TARGET_RATIO}x duckdb: {verdict}")


if __name__ == "__main__":
    main()
