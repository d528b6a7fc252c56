"""The benchmark's demo Gold layers: generated once per size, then reused.

A layer is a Parquet folder written by `ector demo --out DIR/ --cases N` into `<data>/gold-<N>/`; it is
written under a temporary name and renamed when complete, so a half-written folder is never reused.
The data folder is benchmarks/data/ (gitignored) unless `--data` or ECTOR_BENCH_DATA names another.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "benchmarks" / "data"


def data_folder(option: Path | None) -> Path:
    """The folder holding the cached layers: the option, else ECTOR_BENCH_DATA, else benchmarks/data/."""
    if option is not None:
        return option
    return Path(os.environ.get("ECTOR_BENCH_DATA", DEFAULT_DATA))


def gold_layer(data: Path, cases: int, seed: int = 7) -> Path:
    """The demo Gold layer of `cases` cases in `data`, generated first if it is not there."""
    gold = data / f"gold-{cases}"
    if (gold / "cases.parquet").is_file():
        return gold
    data.mkdir(parents=True, exist_ok=True)
    partial = data / f".gold-{cases}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    print(f"generating a demo Gold layer of {cases:,} cases in {gold} ...", flush=True)
    start = time.perf_counter()
    command = [sys.executable, "-m", "ector", "-q", "demo", "--out", f"{partial}/", "--cases", str(cases)]
    subprocess.run([*command, "--seed", str(seed)], check=True)
    partial.rename(gold)
    print(f"generated in {time.perf_counter() - start:.0f} s", flush=True)
    return gold
