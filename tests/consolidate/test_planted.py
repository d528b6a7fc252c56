"""Against the demo's planted dirt: consolidation finds exactly what the truth file says was planted.

The demo writes a dirty Gold layer and a truth file with, per table, the counts consolidation must report;
its clean variant (same seed) is the layer before any dirt. Both go through the real ingest and consolidate
stages, so this is also the end-to-end check of the two stages together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ector import demo
from ector.chain import CONSOLIDATE, INGEST
from ector.consolidate import rules
from ector.consolidate.summary import TableTotals, table_totals
from ector.contract import TABLES
from ector.runner import run_stage

CASES = 3_000
SEEDS = (3, 7, 11)


def _consolidated(root: Path, seed: int, clean: bool) -> tuple[Path, dict[str, Any]]:
    """Write a demo layer, ingest and consolidate it; return the work directory and the truth."""
    from ector.settings import load_settings

    gold = root / ("clean" if clean else "dirty")
    result = demo.write_demo(f"{gold}/", cases=CASES, seed=seed, clean=clean)
    workdir = root / f"work-{gold.name}"
    settings = load_settings(
        overrides={
            "workdir": workdir,
            "source.uri": str(gold),
            "consolidation.run_date": result.truth["run_date"],
            "consolidation.max_quarantine_fraction": 1.0,
        }
    )
    run_stage(INGEST, settings)
    run_stage(CONSOLIDATE, settings)
    return workdir, result.truth


def _counts(totals: TableTotals) -> dict[str, Any]:
    return {
        "rows_in": totals.rows_in,
        "duplicates_merged": totals.duplicates_merged,
        "quarantined": totals.quarantined,
        "rows_out": totals.rows_out,
        "duplicates_by_rule": {rule: totals.merges.get(rule, 0) for rule in rules.MERGES},
        "quarantine_by_rule": {rule: rows for rule, rows in totals.quarantine_by_rule.items() if rows},
        "repairs": {rule: totals.repairs.get(rule, 0) for rule in rules.REPAIRS},
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_consolidation_finds_exactly_the_planted_dirt(tmp_path: Path, seed: int) -> None:
    workdir, truth = _consolidated(tmp_path, seed, clean=False)

    summary = pl.read_parquet(workdir / "consolidate" / "summary.parquet")
    totals = table_totals(summary)
    for name, expected in truth["expected"].items():
        wanted = {key: expected[key] for key in _counts(totals[name])}
        wanted["quarantine_by_rule"] = {rule: n for rule, n in expected["quarantine_by_rule"].items() if n}
        assert _counts(totals[name]) == wanted, name
        notes = summary.filter(pl.col("table") == name, pl.col("kind") == "note")
        missing = notes.filter(pl.col("rule") == rules.MISSING_OPTIONAL)
        assert dict(missing.select("column", "rows").iter_rows()) == expected["notes"]["missing_optional_by_column"]


@pytest.mark.parametrize("seed", SEEDS[:1])
def test_every_variant_is_repaired_to_the_clean_value_and_no_clean_row_is_lost(tmp_path: Path, seed: int) -> None:
    dirty, _ = _consolidated(tmp_path, seed, clean=False)
    clean, _ = _consolidated(tmp_path, seed, clean=True)

    for name, table in TABLES.items():
        quarantine = pl.read_parquet(dirty / "consolidate" / "quarantine" / f"{name}.parquet")
        lost = quarantine.get_column(table.key).str.strip_chars().str.to_uppercase().implode()
        reference = pl.read_parquet(clean / "consolidate" / f"{name}.parquet")
        assert pl.read_parquet(clean / "consolidate" / "quarantine" / f"{name}.parquet").height == 0, name
        assert_frame_equal(
            pl.read_parquet(dirty / "consolidate" / f"{name}.parquet").sort(table.key),
            reference.filter(~pl.col(table.key).is_in(lost)).sort(table.key),
        )
