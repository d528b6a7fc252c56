"""Rerun benchmark: an unchanged rerun of `ector all` against the first run, on one demo Gold layer.

usage: python benchmarks/bench_rerun.py [--cases N] [--data DIR]
Target (issue #8): at 100,000 cases the unchanged rerun takes under a quarter of the first run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from measure import measure, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=Path("benchmarks/data"))
    args = parser.parse_args()

    gold = args.data / f"rerun-gold-{args.cases}.sqlite"
    if not gold.exists():
        from ector.demo import write_demo

        args.data.mkdir(parents=True, exist_ok=True)
        write_demo(str(gold), cases=args.cases, seed=3)
    work = args.data / f"rerun-work-{args.cases}"
    shutil.rmtree(work, ignore_errors=True)
    run = (
        "from ector.cli import main\n"
        f"sys.argv = ['ector', '-q', '-w', {str(work)!r}, 'all', '--source', {str(gold)!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code"
    )
    first = measure("first run of ector all", run)
    rerun = measure("unchanged rerun", run)
    print(table([first, rerun], "first run of ector all"))
    ratio = rerun.seconds / first.seconds
    print(f"\nrerun / first run: {ratio:.3f} (target < 0.25)")
    results = Path("benchmarks/results")
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{date.today().isoformat()}-rerun-{args.cases}.json"
    data = {"cases": args.cases, "ratio": ratio, "measurements": [first.__dict__, rerun.__dict__]}
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
