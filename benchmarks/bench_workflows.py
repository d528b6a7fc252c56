"""Benchmark: `ector workflow patient|surgeon|site` on a large case mart (issue #6: 10M cases, time and peak memory).

    python benchmarks/bench_workflows.py                      # 10M synthetic cases
    python benchmarks/bench_workflows.py --cases 1000000 --views surgeon
    python benchmarks/bench_workflows.py --mart path/to/cases.parquet --engine in-memory

The mart is generated with numpy (tests/workflows/marts.py, the tests' generator) into a Parquet file, once,
in its own process. Each view then runs in a fresh process through the real stage runner (`run_stage` of the
view's declaration, sinking every table to a temporary work directory), and reports its wall time and peak RSS
(resource.getrusage of that process, so the generator's memory is not counted). CPU seconds (user + system)
are printed beside wall seconds: on a shared machine they vary less.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIEWS = ("patient", "surgeon", "site")
CASES_PER_SURGEON = 5000
SURGEONS_PER_SITE = 20


def generate(cases: int, path: Path) -> None:
    """Write a synthetic mart of about `cases` cases (whole surgeons of 5,000 cases) to `path`."""
    sys.path.insert(0, str(ROOT))
    from tests.workflows.marts import make_mart

    surgeons = max(1, cases // CASES_PER_SURGEON)
    per_surgeon = cases // surgeons
    mart = make_mart(surgeons, per_surgeon, n_sites=max(1, surgeons // SURGEONS_PER_SITE), seed=1, learning=True)
    mart.write_parquet(path)


def run_view(view: str, mart: Path, engine: str) -> dict[str, float | int | str]:
    """Run one view through the stage runner in this process; return wall and CPU seconds, peak RSS and rows
    written."""
    from ector.chain import stage
    from ector.runner import run_stage
    from ector.settings import load_settings

    name = f"workflow/{view}"
    with tempfile.TemporaryDirectory(prefix="ector-bench-") as work:
        (Path(work) / "transform").mkdir()
        (Path(work) / "transform" / "cases.parquet").symlink_to(mart.resolve())
        settings = load_settings(overrides={"workdir": work, "engine": engine})
        start = time.perf_counter()
        run_stage(stage(name), settings)
        seconds = time.perf_counter() - start
        stages = json.loads((Path(work) / "manifest.json").read_text())["stages"]
        rows = sum(output["rows"] for output in stages[name]["outputs"].values())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = usage.ru_maxrss / 1024  # Linux reports KiB
    cpu = usage.ru_utime + usage.ru_stime
    return {"view": view, "seconds": round(seconds, 2), "cpu": round(cpu, 1), "peak_rss_mb": round(peak_mb)} | {
        "rows": rows
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000_000, help="synthetic mart size (ignored with --mart)")
    parser.add_argument("--mart", type=Path, help="an existing case-mart Parquet file instead of a synthetic one")
    parser.add_argument("--views", nargs="+", choices=VIEWS, default=list(VIEWS))
    parser.add_argument("--engine", default="auto", choices=["auto", "streaming", "in-memory"])
    parser.add_argument("--child", choices=VIEWS, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(run_view(args.child, args.mart, args.engine)))
        return

    with tempfile.TemporaryDirectory(prefix="ector-bench-mart-") as folder:
        mart = args.mart
        if mart is None:
            mart = Path(folder) / "cases.parquet"
            start = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--generate", str(args.cases), str(mart)], check=True)
            print(f"generated {args.cases:,} cases in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        print(f"{'view':<9} {'seconds':>8} {'CPU s':>7} {'peak RSS MB':>12} {'rows written':>14}", flush=True)
        for view in args.views:
            command = [sys.executable, __file__, "--child", view, "--mart", str(mart), "--engine", args.engine]
            result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            seconds, cpu, peak, rows = (result[key] for key in ("seconds", "cpu", "peak_rss_mb", "rows"))
            print(f"{view:<9} {seconds:>8} {cpu:>7} {peak:>12,} {rows:>14,}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--generate":
        generate(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
