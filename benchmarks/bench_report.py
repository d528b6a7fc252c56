"""Benchmark: `ector report` time and peak memory (issue #7: at most 15 s for a 1M-case demo, flat in the cases).

    python benchmarks/bench_report.py --workdir ector-work            # the report of an existing work directory
    python benchmarks/bench_report.py --demo 1000000                  # demo -> ... -> workflows once, then report
    python benchmarks/bench_report.py --scale 250000 1000000 4000000  # same 2,000 surgeons, more and more cases

Each report runs in a fresh process through the real runner (`run_stage(REPORT, ...)`), writing to a
temporary folder; its wall time and the peak RSS of the process and of its figure workers are printed.
Work directories built here are kept under benchmarks/data/report-*/ and reused by later runs: delete them
after a change to the stages before the report, or they hold the old stages' output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
KEY = "benchmark-pseudonym-key-000000"
SCALE_SURGEONS, SCALE_SITES = 2000, 40  # the units of a 1M-case demo

_REPORT = """
import json, resource, sys
from pathlib import Path
from ector.chain import REPORT
from ector.runner import run_stage
from ector.settings import load_settings
workdir, audience, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
overrides = {"workdir": workdir, "report.audience": audience, "privacy.pseudonym_key": sys.argv[4]}
settings = load_settings(overrides=overrides)
run_stage(REPORT, settings, {"out": out})
me, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"peak_mb": me.ru_maxrss / 1024, "worker_peak_mb": workers.ru_maxrss / 1024,
                  "cpu": me.ru_utime + me.ru_stime, "worker_cpu": workers.ru_utime + workers.ru_stime}))
"""


def time_report(workdir: Path, audience: str) -> dict[str, float]:
    """Return wall seconds, CPU seconds and peak RSS (MB) of one report of `workdir`, run in a fresh process.

    cpu is the report process's own, worker_cpu the sum over its figure workers: with the machine to itself,
    the wall time is about cpu (reading, tables) plus worker_cpu divided among the CPUs.
    """
    with tempfile.TemporaryDirectory(prefix="bench-report-") as out:
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", _REPORT, str(workdir), audience, out, KEY],
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            raise RuntimeError(f"the report failed:\n{result.stderr[-3000:]}")
        figures = len(list((Path(out) / "figures").glob("*.png")))
    usage = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "seconds": round(seconds, 2),
        "cpu": round(usage["cpu"], 2),
        "worker_cpu": round(usage["worker_cpu"], 2),
        "peak_mb": round(usage["peak_mb"]),
        "worker_peak_mb": round(usage["worker_peak_mb"]),
        "figures": figures,
    }


def units(workdir: Path) -> dict[str, int]:
    """Return the cases, surgeons and sites of a work directory's views."""
    import polars as pl

    counts = {"cases": 0, "surgeons": 0, "sites": 0}
    surgeon = workdir / "workflow" / "surgeon" / "summary.parquet"
    site = workdir / "workflow" / "site" / "summary.parquet"
    if surgeon.is_file():
        summary = pl.read_parquet(surgeon, columns=["cases"])
        counts["cases"], counts["surgeons"] = int(summary["cases"].sum()), summary.height
    if site.is_file():
        counts["sites"] = pl.read_parquet(site, columns=["cases"]).height
    return counts


def demo_workdir(cases: int) -> Path:
    """Return a work directory of a demo of `cases` cases taken through every stage up to the workflows."""
    workdir = DATA / f"report-demo-{cases}" / "work"
    if (workdir / "workflow" / "site" / "summary.parquet").is_file():
        return workdir
    from ector.chain import chain_slice
    from ector.demo import write_demo
    from ector.runner import run_stage
    from ector.settings import load_settings

    print(f"building a {cases:,}-case demo work directory in {workdir.parent} ...", file=sys.stderr)
    demo = write_demo(f"{workdir.parent / 'gold'}/", cases=cases, seed=7)
    settings = load_settings(overrides={"workdir": str(workdir), "source.uri": demo.source_uri})
    for stage in chain_slice(None, "workflow"):
        run_stage(stage, settings)
    return workdir


def scale_workdir(cases: int) -> Path:
    """Return a work directory whose views come from a synthetic mart of 2,000 surgeons and `cases` cases."""
    workdir = DATA / f"report-scale-{cases}" / "work"
    if (workdir / "workflow" / "site" / "summary.parquet").is_file():
        return workdir
    sys.path.insert(0, str(ROOT))
    from tests.workflows.marts import make_mart

    from ector.chain import VIEWS
    from ector.runner import run_stage
    from ector.settings import load_settings

    print(f"building a {cases:,}-case synthetic work directory in {workdir.parent} ...", file=sys.stderr)
    (workdir / "transform").mkdir(parents=True, exist_ok=True)
    mart = make_mart(SCALE_SURGEONS, max(1, cases // SCALE_SURGEONS), n_sites=SCALE_SITES, seed=1, learning=True)
    mart.write_parquet(workdir / "transform" / "cases.parquet")
    del mart
    settings = load_settings(overrides={"workdir": str(workdir)})
    for view in VIEWS:
        run_stage(view, settings)
    return workdir


def build(kind: str, cases: int) -> Path:
    """Return the work directory of a demo or synthetic mart, built (once) by a process of its own."""
    subprocess.run([sys.executable, __file__, "--build", kind, str(cases)], check=True)
    return DATA / f"report-{'demo' if kind == 'demo' else 'scale'}-{cases}" / "work"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, help="time the report of this work directory")
    parser.add_argument("--demo", type=int, help="build (once) and time a demo of this many cases")
    parser.add_argument("--scale", type=int, nargs="+", help="case counts of synthetic marts with the same units")
    parser.add_argument("--audience", choices=("internal", "external", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=1, help="runs per work directory; the best is kept")
    parser.add_argument("--build", nargs=2, metavar=("KIND", "CASES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:  # in a process of its own: a report process forked from a large one would inherit its peak
        (demo_workdir if args.build[0] == "demo" else scale_workdir)(int(args.build[1]))
        return

    workdirs: list[tuple[str, Path]] = []
    if args.workdir:
        workdirs.append((str(args.workdir), args.workdir))
    if args.demo or not (args.workdir or args.scale):
        cases = args.demo or 1_000_000
        workdirs.append((f"demo {cases:,}", build("demo", cases)))
    for cases in args.scale or []:
        workdirs.append((f"synthetic {cases:,}", build("scale", cases)))

    audiences = ("internal", "external") if args.audience == "both" else (args.audience,)
    print(
        f"{'work directory':<28} {'cases':>10} {'surgeons':>8} {'sites':>5} {'audience':>9} {'figures':>7} "
        f"{'seconds':>8} {'cpu':>6} {'workers':>8} {'peak MB':>8} {'workers':>8}"
    )
    results = []
    for name, workdir in workdirs:
        size = units(workdir)
        for audience in audiences:
            runs = [time_report(workdir, audience) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r["seconds"])
            results.append({"workdir": name, "audience": audience, **size, **best})
            print(
                f"{name:<28} {size['cases']:>10,} {size['surgeons']:>8,} {size['sites']:>5} {audience:>9} "
                f"{best['figures']:>7.0f} {best['seconds']:>8.2f} {best['cpu']:>6.1f} {best['worker_cpu']:>8.1f} "
                f"{best['peak_mb']:>8.0f} {best['worker_peak_mb']:>8.0f}"
            )
    print(
        f"\ntarget: at most 15 s for a 1M-case demo, not growing with the cases; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} (other processes' share of the CPUs)"
    )
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / "bench_report.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
