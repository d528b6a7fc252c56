"""Ingest benchmark: `ector ingest` of a SQLite Gold layer against pandas.read_sql of the same tables.

usage: python benchmarks/bench_ingest.py [--cases N] [--data DIR]
Targets (issue #2): at least 3x faster than pandas.read_sql; peak memory at most 2x the Arrow size of the data.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from measure import Measurement, measure, table

TABLES = ("sites", "surgeons", "patients", "cases", "complications", "encounters")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=Path("benchmarks/data"))
    args = parser.parse_args()

    gold = args.data / f"gold-{args.cases}.sqlite"
    if not gold.exists():
        from ector.demo import write_demo

        args.data.mkdir(parents=True, exist_ok=True)
        print(f"writing a clean demo Gold layer of {args.cases:,} cases to {gold} ...", file=sys.stderr)
        write_demo(str(gold), cases=args.cases, seed=1, clean=True)
    uri = f"sqlite://{gold.resolve()}"
    work = args.data / "ingest-work"

    ector = measure(
        "ector ingest",
        "from ector.cli import main\n"
        f"sys.argv = ['ector', '-q', '-w', {str(work)!r}, 'ingest', '--force', '-s', {uri!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code",
    )
    pandas = measure(
        "pandas.read_sql",
        f"import sqlite3, pandas as pd\ncon = sqlite3.connect({str(gold)!r})\n"
        f"frames = {{t: pd.read_sql(f'SELECT * FROM {{t}}', con) for t in {TABLES!r}}}",
    )
    arrow_mb = measure_arrow_size(work)
    print(table([ector, pandas], "ector ingest"))
    speedup = pandas.seconds / ector.seconds
    print(f"\nspeed-up over pandas: {speedup:.1f}x (target >= 3x)")
    print(
        f"Arrow size of the data: {arrow_mb:.0f} MB; ector peak {ector.peak_mb:.0f} MB = "
        f"{ector.peak_mb / arrow_mb:.2f}x (target <= 2x)"
    )
    save(args.cases, [ector, pandas], arrow_mb)


def measure_arrow_size(work: Path) -> float:
    import polars as pl

    return sum(pl.read_parquet(p).estimated_size("mb") for p in (work / "ingest").glob("*.parquet"))


def save(cases: int, rows: list[Measurement], arrow_mb: float) -> None:
    results = Path("benchmarks/results")
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{date.today().isoformat()}-ingest-{cases}.json"
    data = {"cases": cases, "arrow_mb": arrow_mb, "measurements": [r.__dict__ for r in rows]}
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
