"""The benchmark behind `nox -s bench`: every stage of Ector, and two reference implementations, at scale.

    nox -s bench                                   # 1M and 10M cases; data cached in benchmarks/data/
    nox -s bench -- --sizes 1000000 --docs         # one size; refresh the summary in docs/performance.md
    python benchmarks/run.py --data /big/disk --sizes 1000000 --no-postgres

For each size: the demo Gold layer (generated once, benchmarks/data.py); each stage (`ector ingest`,
`consolidate`, `transform`, `workflow patient|surgeon|site`, `report`) in its own process (wall and CPU time,
peak RSS), and `ector all` from scratch; the DuckDB SQL and pandas references of consolidate + transform +
workflow aggregations (benchmarks/ref_spec.py) on the same ingested data, each checked against Ector's outputs
(counts and event counts, hence rates) before any figure is reported (`--no-check` reports anyway); ingest
from PostgreSQL at partition_num 1, 2, 4 against pandas.read_sql. Prints the ratios and the targets of issue #17,
writes benchmarks/results/<date>-<size>.json, and with `--docs` the marked section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agreement import check
from data import ROOT, data_folder, gold_layer
from docs_section import refresh_docs
from measure import Run, run_command
from ref_spec import STEPS_MARK

RESULTS = ROOT / "benchmarks" / "results"
STAGES = (
    ("ingest", []),
    ("consolidate", []),
    ("transform", []),
    ("workflow patient", ["workflow", "patient"]),
    ("workflow surgeon", ["workflow", "surgeon"]),
    ("workflow site", ["workflow", "site"]),
    ("report", []),
)
CORE = ("consolidate", "transform", "workflow patient", "workflow surgeon", "workflow site")
VIEWS = ("workflow patient", "workflow surgeon", "workflow site")
# Issue #17's targets: the DuckDB ratios at 10M cases, pandas, `ector all` and the report at 1M; peaks at both.
TARGET_CASES = 10_000_000
PANDAS_CASES = 1_000_000
MAX_DUCKDB_RATIO = 1.0  # consolidate + transform + workflows, against DuckDB's whole reference
MAX_STEP_RATIO = 1.5  # consolidate, and transform, against DuckDB's same step
MAX_VIEWS_RATIO = 4.0  # the three views together, against DuckDB's workflow step (they compute more)
MIN_PANDAS_SPEEDUP = 3.0
MAX_STAGE_PEAK_MB = 3 * 1024
MAX_REPORT_SECONDS = 5.0
MAX_ALL_SECONDS = 20.0  # `ector all` from scratch at 1M cases
# A machine busier than this (1-minute load average per core, sampled through the run) makes the run "busy".
BUSY_LOAD_PER_CORE = 0.5
PANDAS_MAX_PEAK_MB = 10 * 1024
PANDAS_MAX_SECONDS = 20 * 60


def ector(workdir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "ector", "-q", "-w", str(workdir), *args]


LOAD = None  # the run's LoadWatch, set by main


def measured(run: Run) -> Run:
    """`run`, or exit with its error when it failed; the machine's load is sampled after each run."""
    if LOAD is not None:
        LOAD.sample()
    if run.exit_code != 0:
        raise SystemExit(f"{run.name} failed with exit code {run.exit_code}:\n{run.stderr}")
    print(f"  {run.name:<34}{run.seconds:>9.1f} s{run.cpu_seconds:>9.1f} cpu s{run.peak_mb:>9,.0f} MB", flush=True)
    return run


def run_stages(gold: Path, work: Path) -> list[Run]:
    shutil.rmtree(work, ignore_errors=True)
    runs = []
    for name, args in STAGES:
        command = args or [name]
        extra = ["--source", f"{gold}/"] if name == "ingest" else []
        runs.append(measured(run_command(f"ector {name}", ector(work, *command, *extra))))
    return runs


def pandas_projection(cases: int, previous: dict[str, Any] | None) -> str | None:
    """Why pandas is not run at `cases`, projected from a smaller pandas run; None to run it."""
    if previous is None:
        return None
    scale = cases / previous["cases"]
    peak, seconds = previous["peak_mb"] * scale, previous["seconds"] * scale
    if peak > PANDAS_MAX_PEAK_MB or seconds > PANDAS_MAX_SECONDS:
        return (
            f"pandas not run at {cases:,} cases: projected linearly from {previous['cases']:,} cases to "
            f"{peak / 1024:.1f} GB peak and {seconds / 60:.0f} min (limits 10 GB, 20 min)"
        )
    return None


def latest_pandas(below: int) -> dict[str, Any] | None:
    """The pandas figures of the latest results file of the largest size below `below`, for the projection."""
    best: dict[str, Any] | None = None
    for path in sorted(RESULTS.glob("*-*.json")):  # by date: a later file of a size replaces an earlier one
        stem = path.stem.rsplit("-", 1)[-1]
        if not stem.isdigit() or int(stem) >= below or (best and int(stem) < best["cases"]):
            continue
        pandas = json.loads(path.read_text()).get("references", {}).get("pandas")
        if pandas and pandas.get("seconds"):
            best = {"cases": int(stem), **pandas}
    return best


def reference_steps(stderr: str) -> dict[str, float]:
    """The seconds of each step a reference printed (inside its process: imports and start excluded)."""
    lines = [line for line in stderr.splitlines() if line.startswith(STEPS_MARK)]
    return json.loads(lines[-1].removeprefix(STEPS_MARK)) if lines else {}


def machine() -> dict[str, Any]:
    import duckdb
    import pandas
    import polars
    import pyarrow

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return {
        "cores": os.cpu_count(),
        "ram_gb": round(ram, 1),
        "cpu_model": model,
        "python": platform.python_version(),
        "polars": polars.__version__,
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
        "pyarrow": pyarrow.__version__,
        "ector_commit": commit.stdout.strip(),
    }


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue #17's targets that apply at this run's size: PASS or MISS (or n/a when not measured)."""
    cases, core, refs, stages = result["cases"], result["core"], result["references"], result["stages"]
    seconds = {s["name"].removeprefix("ector "): s["seconds"] for s in stages}
    out: list[dict[str, Any]] = []

    def target(text: str, value: str, passed: bool | None) -> None:
        out.append({"target": text, "value": value, "pass": passed})

    duck = refs.get("duckdb") or {}
    steps = duck.get("steps") or {}
    if cases == TARGET_CASES and duck.get("seconds"):
        ratio = core["seconds"] / duck["seconds"]
        target(
            f"consolidate+transform+workflows <= {MAX_DUCKDB_RATIO}x DuckDB's time",
            f"{ratio:.2f}x",
            ratio <= MAX_DUCKDB_RATIO,
        )
        for step in ("consolidate", "transform"):
            if step in steps:
                step_ratio = seconds[step] / steps[step]
                target(
                    f"{step} <= {MAX_STEP_RATIO}x DuckDB's {step}", f"{step_ratio:.2f}x", step_ratio <= MAX_STEP_RATIO
                )
        if "workflows" in steps:
            views = sum(seconds[v] for v in VIEWS) / steps["workflows"]
            passed = views <= MAX_VIEWS_RATIO
            target(f"three views <= {MAX_VIEWS_RATIO:.0f}x DuckDB's workflow step", f"{views:.2f}x", passed)
    if cases == PANDAS_CASES:
        pandas = refs.get("pandas") or {}
        if pandas.get("seconds"):
            speedup = pandas["seconds"] / core["seconds"]
            target(
                f"pandas >= {MIN_PANDAS_SPEEDUP:.0f}x Ector's time", f"{speedup:.2f}x", speedup >= MIN_PANDAS_SPEEDUP
            )
        else:
            target(f"pandas >= {MIN_PANDAS_SPEEDUP:.0f}x Ector's time", "not measured", None)
        run_all = result.get("all")
        if run_all:
            target(
                f"ector all from scratch <= {MAX_ALL_SECONDS:.0f} s",
                f"{run_all['seconds']:.1f} s",
                run_all["seconds"] <= 20,
            )
        report = seconds["report"]
        target(f"report <= {MAX_REPORT_SECONDS:.0f} s", f"{report:.1f} s", report <= MAX_REPORT_SECONDS)
    worst = max(stages, key=lambda s: s["peak_mb"])
    target(
        "peak RSS <= 3 GB per stage",
        f"{worst['peak_mb'] / 1024:.2f} GB ({worst['name']})",
        worst["peak_mb"] <= MAX_STAGE_PEAK_MB,
    )
    return out


class LoadWatch:
    """Samples the 1-minute load average while the run goes on: a run is `busy` when other jobs shared the cores."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    def sample(self) -> None:
        self.samples.append(os.getloadavg()[0])

    def verdict(self) -> dict[str, Any]:
        """Busy when the load beyond our own measured process (which keeps every core busy) passed the threshold."""
        cores = os.cpu_count() or 1
        peak = max(self.samples, default=0.0)
        busy = (peak - cores) / cores > BUSY_LOAD_PER_CORE
        return {"busy": busy, "max_load": round(peak, 2), "cores": cores}


def print_summary(result: dict[str, Any]) -> None:
    cases, core, refs = result["cases"], result["core"], result["references"]
    print(f"\n== {cases:,} cases: consolidate + transform + workflows ==")
    print(f"{'':<22}{'seconds':>10}{'cpu s':>9}{'peak MB':>10}{'':>18}{'time':>8}{'cpu':>8}{'peak':>8}")
    print(f"{'Ector':<22}{core['seconds']:>10.1f}{core['cpu_seconds']:>9.1f}{core['peak_mb']:>10,.0f}")
    for name, ref in refs.items():
        if not ref.get("seconds"):
            print(f"{name:<22}{ref.get('skipped', 'not run')}")
            continue
        # Each ratio is "how many times" the slower side over the faster by the targets' reading.
        top, bottom = (core, ref) if name == "duckdb" else (ref, core)
        label = "Ector / DuckDB" if name == "duckdb" else "pandas / Ector"
        ratios = [top[k] / bottom[k] for k in ("seconds", "cpu_seconds", "peak_mb")]
        print(
            f"{name:<22}{ref['seconds']:>10.1f}{ref['cpu_seconds']:>9.1f}{ref['peak_mb']:>10,.0f}"
            f"{label:>18}" + "".join(f"{r:>8.2f}" for r in ratios)
        )
    scope = "" if cases == TARGET_CASES else f" (targets are set for {TARGET_CASES:,} cases)"
    print(f"\ntargets{scope}:")
    for t in result["targets"]:
        verdict = {True: "PASS", False: "MISS", None: "n/a "}[t["pass"]]
        print(f"  {verdict}  {t['target']}: {t['value']}")


def bench_size(cases: int, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    data = data_folder(args.data)
    gold = gold_layer(data, cases)
    work = scratch / f"work-{cases}"
    print(f"\n== {cases:,} cases: stages, each in its own process (wall, CPU, peak RSS) ==", flush=True)
    stages = run_stages(gold, work)
    result: dict[str, Any] = {
        "date": date.today().isoformat(),
        "finished": None,
        "cases": cases,
        "gold": gold.name,  # the cached layer's folder name: where it lives is this machine's business
        "machine": machine(),
        "note": args.note,
        "stages": [asdict(s) | {"stderr": None} for s in stages],
    }
    core_runs = [s for s in stages if s.name.removeprefix("ector ") in CORE]
    result["core"] = {
        "seconds": sum(s.seconds for s in core_runs),
        "cpu_seconds": sum(s.cpu_seconds for s in core_runs),
        "peak_mb": max(s.peak_mb for s in core_runs),
    }
    if not args.skip_all:
        all_work = scratch / f"work-all-{cases}"
        shutil.rmtree(all_work, ignore_errors=True)
        result["all"] = asdict(
            measured(run_command("ector all (from scratch)", ector(all_work, "all", "--source", f"{gold}/")))
        ) | {"stderr": None}
        shutil.rmtree(all_work, ignore_errors=True)

    print("\n== references on the same ingested data ==", flush=True)
    refs: dict[str, Any] = {}
    ok = True
    run_date = date.today().isoformat()
    skip_pandas = "pandas skipped (--skip-pandas)" if args.skip_pandas else None
    if skip_pandas is None and args.pandas_max_cases and cases > args.pandas_max_cases:
        skip_pandas = f"pandas not run above --pandas-max-cases {args.pandas_max_cases:,}"
    if skip_pandas is None:
        skip_pandas = pandas_projection(cases, args.pandas_seen or latest_pandas(cases))
    for name, script, extra in (
        ("duckdb", "ref_duckdb.py", ["--memory-limit", args.duckdb_memory_limit] if args.duckdb_memory_limit else []),
        ("pandas", "ref_pandas.py", []),
    ):
        if name == "pandas" and skip_pandas:
            print(f"  {skip_pandas}")
            refs[name] = {"skipped": skip_pandas}
            continue
        out = scratch / f"{name}-{cases}"
        shutil.rmtree(out, ignore_errors=True)
        command = [sys.executable, str(ROOT / "benchmarks" / script), str(work / "ingest"), str(out)]
        run = measured(run_command(f"{name} reference", [*command, "--run-date", run_date, *extra]))
        agrees = check(name, work, out / "aggregates.parquet")
        ok &= agrees
        refs[name] = asdict(run) | {"stderr": None, "agrees": agrees, "steps": reference_steps(run.stderr)}
        if name == "pandas":
            args.pandas_seen = {"cases": cases, "seconds": run.seconds, "peak_mb": run.peak_mb}
        shutil.rmtree(out, ignore_errors=True)
    result["references"] = refs
    if not ok and not args.no_check:
        raise SystemExit("a reference disagrees with Ector (above): no figures written; --no-check to write them")

    if args.postgres and cases == args.pg_cases:
        result["postgres"] = bench_postgres(gold, scratch, args.pg_port)
    result["targets"] = targets(result)
    if LOAD is not None:
        result["load"] = LOAD.verdict()
        result["note"] = result["note"] or ("busy machine" if result["load"]["busy"] else "quiet machine")
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    shutil.rmtree(work, ignore_errors=True)
    return result


def bench_postgres(gold: Path, scratch: Path, port: int | None) -> dict[str, Any]:
    from pg_ingest import load, measure_ingest, postgres_server

    print("\n== ingest from PostgreSQL ==", flush=True)
    with postgres_server(port) as (uri, how):
        if uri is None:
            print(f"  skipped: {how}")
            return {"skipped": how}
        seconds = load(uri, gold)
        print(f"  loaded the layer with COPY in {seconds:.1f} s ({how})", flush=True)
        runs = [measured(r) for r in measure_ingest(uri, scratch, (1, 2, 4))]
    pandas = runs[-1]
    for r in runs[:-1]:
        print(
            f"  {r.name}: {pandas.seconds / r.seconds:.1f}x faster than pandas.read_sql, "
            f"peak {r.peak_mb / pandas.peak_mb:.2f}x pandas'"
        )
    return {"server": how, "load_seconds": seconds, "runs": [asdict(r) | {"stderr": None} for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000], help="numbers of cases")
    parser.add_argument(
        "--data", type=Path, help="folder of cached gold-<N>/ layers (default: benchmarks/data/, or ECTOR_BENCH_DATA)"
    )
    parser.add_argument("--scratch", type=Path, help="folder for work directories (default: a temporary folder)")
    parser.add_argument("--no-check", action="store_true", help="report figures even if a reference disagrees")
    parser.add_argument("--skip-all", action="store_true", help="do not measure `ector all` from scratch")
    parser.add_argument("--skip-pandas", action="store_true", help="do not run the pandas reference")
    parser.add_argument("--pandas-max-cases", type=int, help="run the pandas reference only up to this size")
    parser.add_argument("--duckdb-memory-limit", help="DuckDB memory_limit, e.g. 6GB (default: DuckDB's, 80%% of RAM)")
    parser.add_argument("--no-postgres", dest="postgres", action="store_false", help="skip the PostgreSQL ingest")
    parser.add_argument("--pg-cases", type=int, default=1_000_000, help="size for the PostgreSQL ingest (default 1M)")
    parser.add_argument("--pg-port", type=int, help="port for a throwaway PostgreSQL server (default: a free one)")
    parser.add_argument("--note", default="", help="a note stored with the results (e.g. 'machine shared')")
    parser.add_argument("--docs", action="store_true", help="refresh the bench section of docs/performance.md")
    parser.add_argument("--docs-only", action="store_true", help="only refresh docs/performance.md from results")
    args = parser.parse_args()
    args.pandas_seen = None
    if args.docs_only:
        print(f"refreshed: {refresh_docs(RESULTS, ROOT / 'docs' / 'performance.md').relative_to(ROOT)}")
        return

    global LOAD
    LOAD = LoadWatch()
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ector-bench-") as tmp:
        scratch = args.scratch or Path(tmp)
        for cases in sorted(args.sizes):
            result = bench_size(cases, args, scratch)
            print_summary(result)
            path = RESULTS / f"{result['date']}-{cases}.json"
            path.write_text(json.dumps(result, indent=2) + "\n")
            print(f"results: {path.relative_to(ROOT)}", flush=True)
    if args.docs:
        print(f"refreshed: {refresh_docs(RESULTS, ROOT / 'docs' / 'performance.md').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
