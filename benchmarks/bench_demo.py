"""Time `ector demo` generation at the sizes given on the command line and report peak memory.

    python benchmarks/bench_demo.py 20000 1000000 10000000
    python benchmarks/bench_demo.py --format parquet --clean 1000000

Each size runs in a fresh child process, so its peak RSS (resource.getrusage) is its own. By default sizes up
to 1,000,000 cases are written to SQLite and larger ones to a Parquet folder, as the CLI suggests.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SQLITE_LIMIT = 1_000_000


def _child(cases: int, fmt: str, folder: Path, seed: int, clean: bool) -> None:
    """Generate one layer and print its measurements as one JSON line (run in a child process)."""
    from ector.demo import write_demo

    out = f"{folder}/layer/" if fmt == "parquet" else str(folder / "gold.sqlite")
    started = time.perf_counter()
    result = write_demo(out, cases=cases, seed=seed, clean=clean)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    size = sum(p.stat().st_size for p in result.paths)
    print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024, "bytes": size, "rows": result.rows}))


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_mib: float
    bytes: int
    rows: dict[str, int]


def _measure(cases: int, fmt: str, seed: int, clean: bool, keep: Path | None) -> Measurement:
    folder = Path(tempfile.mkdtemp(prefix="bench-demo-", dir=keep))
    try:
        command = [sys.executable, __file__, "--child", str(folder), "--format", fmt, "--seed", str(seed), str(cases)]
        if clean:
            command.append("--clean")
        completed = subprocess.run(command, check=True, capture_output=True, text=True)
        return Measurement(**json.loads(completed.stdout.strip().splitlines()[-1]))
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[20_000, 1_000_000])
    parser.add_argument("--format", choices=["auto", "sqlite", "parquet"], default="auto")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clean", action="store_true", help="no planted dirt")
    parser.add_argument("--keep", type=Path, help="write the layers under this folder and keep them")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # internal: measure one size into a folder
    args = parser.parse_args()
    if args.child is not None:
        _child(args.sizes[0], args.format, args.child, args.seed, args.clean)
        return
    print(f"{'cases':>12}  {'format':<8} {'seconds':>8} {'peak MiB':>9} {'MB on disk':>10}  rows written")
    for cases in args.sizes:
        fmt = args.format if args.format != "auto" else ("sqlite" if cases <= SQLITE_LIMIT else "parquet")
        m = _measure(cases, fmt, args.seed, args.clean, args.keep)
        rows = ", ".join(f"{t} {m.rows[t]:,}" for t in ("patients", "complications", "encounters"))
        print(f"{cases:>12,}  {fmt:<8} {m.seconds:>8.1f} {m.peak_mib:>9.0f} {m.bytes / 1e6:>10.1f}  {rows}", flush=True)


if __name__ == "__main__":
    main()
