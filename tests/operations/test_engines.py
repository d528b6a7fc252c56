"""The engine seam: the same files under every engine; gpu without a GPU is refused; the spill budget."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ector.engine import SPILL_BUDGET, sink_all, spill_budget
from ector.settings import Engine


def _parquet_files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*.parquet") if not p.name.startswith("."))


def test_streaming_and_in_memory_engines_write_identical_files_at_every_stage(
    cli, gold: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for engine in ("streaming", "in-memory"):
        monkeypatch.setenv("ECTOR_ENGINE", engine)
        result = cli("-w", engine, "all", "--source", str(gold), "--to", "workflow")
        assert result.exit_code == 0, (engine, result.output)

    streaming, in_memory = tmp_path / "streaming", tmp_path / "in-memory"
    files = _parquet_files(streaming)
    assert files == _parquet_files(in_memory)
    stages = {path.parts[0] for path in files}
    assert stages == {"ingest", "consolidate", "transform", "workflow"}
    assert len(files) > 30
    for relative in files:
        # Row order included: every output is sorted, whatever the engine.
        assert_frame_equal(pl.read_parquet(streaming / relative), pl.read_parquet(in_memory / relative))


@pytest.mark.skipif(importlib.util.find_spec("cudf_polars") is not None, reason="cudf-polars is installed here")
def test_gpu_engine_without_cudf_polars_is_a_clear_configuration_error(
    cli, gold: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECTOR_ENGINE", "gpu")

    result = cli("all", "--source", str(gold), "--to", "workflow")

    assert result.exit_code == 2
    assert "engine: gpu needs the cudf-polars package" in result.stderr
    assert "set engine: auto" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "ector-work").rglob("*.parquet"))  # refused before any output


def test_spill_budget_is_set_for_the_block_and_lifted_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SPILL_BUDGET, raising=False)

    with spill_budget(64):
        inside = os.environ.get(SPILL_BUDGET)
    assert inside == "64"
    assert SPILL_BUDGET not in os.environ

    with spill_budget(None):
        assert SPILL_BUDGET not in os.environ


def test_spill_budget_is_lifted_when_the_block_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SPILL_BUDGET, raising=False)

    with pytest.raises(RuntimeError), spill_budget(64):
        raise RuntimeError("stage failed")

    assert SPILL_BUDGET not in os.environ


def test_a_spill_budget_set_in_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SPILL_BUDGET, "500")

    with spill_budget(64):
        inside = os.environ.get(SPILL_BUDGET)

    assert inside == "500"
    assert os.environ[SPILL_BUDGET] == "500"


# Two sorts of the same file: under the budget, then after it was lifted. POLARS_OOC_LOG_METRICS makes polars
# report on stderr, per operator, how often it spilled: "spill_stats(sort): ... spill(succ=100.0%, n=17)".
_TWO_SORTS = """
import sys
import polars as pl
from ector.engine import spill_budget
with spill_budget(int(sys.argv[2])):
    pl.scan_parquet(sys.argv[1]).sort("key").sink_parquet(sys.argv[1] + ".budget.parquet")
pl.scan_parquet(sys.argv[1]).sort("key").sink_parquet(sys.argv[1] + ".after.parquet")
"""


def test_a_sort_spills_under_the_budget_only_and_gives_the_same_file(tmp_path: Path) -> None:
    """The budget is applied in-process, after polars was imported: what lets `spill_mb` cover one stage."""
    rows = 2_000_000
    data = tmp_path / "data.parquet"
    pl.select(key=pl.int_range(rows).shuffle(seed=3), text=pl.int_range(rows).cast(pl.String)).write_parquet(data)
    env = {k: v for k, v in os.environ.items() if k != SPILL_BUDGET} | {"POLARS_OOC_LOG_METRICS": "1"}

    run = subprocess.run(
        [sys.executable, "-c", _TWO_SORTS, str(data), "16"], capture_output=True, text=True, env=env, check=True
    )

    spills = [int(n) for n in re.findall(r"spill_stats\(sort\):.*? spill\(succ=[^,]*, n=(\d+)\)", run.stderr)]
    assert len(spills) == 2, run.stderr[-2000:]
    assert spills[0] > 0  # 2M rows (about 50 MB) against a 16 MB budget
    assert spills[1] == 0  # the budget was lifted
    budget, after = pl.read_parquet(f"{data}.budget.parquet"), pl.read_parquet(f"{data}.after.parquet")
    assert_frame_equal(budget, after)
    assert budget["key"].is_sorted()
    assert budget.height == rows


def test_consolidate_runs_under_the_spill_budget_of_the_settings_and_later_stages_do_not(
    cli, gold: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SPILL_BUDGET, raising=False)
    monkeypatch.setenv("ECTOR_SPILL_MB", "300")
    budgets: dict[str, set[str | None]] = {}

    def recording(targets: dict[Path, pl.LazyFrame], chosen: Engine, *, shared_scans: bool = True) -> None:
        for path in targets:
            stage = next(part for part in path.parts if part in {"ingest", "consolidate", "transform"})
            budgets.setdefault(stage, set()).add(os.environ.get(SPILL_BUDGET))
        sink_all(targets, chosen, shared_scans=shared_scans)

    monkeypatch.setattr("ector.engine.sink_all", recording)

    result = cli("all", "--source", str(gold), "--to", "transform")

    assert result.exit_code == 0, result.output
    assert budgets == {"ingest": {None}, "consolidate": {"300"}, "transform": {None}}
