"""The engine seam: the same files under every engine; gpu without a GPU is refused; consolidate in chunks."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ector.runner import StageRun


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


def test_consolidate_in_chunks_spilled_or_held_writes_the_files_of_one_chunk(
    cli, gold: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 300 rows cut every table into ranges of keys; held in memory (the demo is far below spill_mb)
    or spilled to the stage's scratch files (spill_mb: 0), the files are those of one chunk."""
    spilled: list[tuple[str, str]] = []
    real_spill = StageRun.spill

    def recording(run: StageRun, name: str, frame: pl.DataFrame) -> pl.LazyFrame:
        spilled.append((run.workdir.root.name, name))
        return real_spill(run, name, frame)

    monkeypatch.setattr(StageRun, "spill", recording)
    assert cli("-w", "whole", "all", "--source", str(gold), "--to", "consolidate").exit_code == 0
    monkeypatch.setenv("ECTOR_CHUNK_ROWS", "300")
    for workdir, spill_mb in (("held", "512"), ("spilled", "0")):
        monkeypatch.setenv("ECTOR_SPILL_MB", spill_mb)
        shutil.copytree(tmp_path / "whole", tmp_path / workdir)
        result = cli("-w", workdir, "consolidate", "--force")
        assert result.exit_code == 0, (workdir, result.output)

    files = _parquet_files(tmp_path / "whole" / "consolidate")
    assert len(files) == 13
    for workdir in ("held", "spilled"):
        assert _parquet_files(tmp_path / workdir / "consolidate") == files
        assert not list((tmp_path / workdir).glob(".staging-*")), "scratch files left behind"
        for relative in files:
            expected = pl.read_parquet(tmp_path / "whole" / "consolidate" / relative)
            assert_frame_equal(pl.read_parquet(tmp_path / workdir / "consolidate" / relative), expected)
    assert {workdir for workdir, _ in spilled} == {"spilled"}
    assert any(name.startswith("cases-") for _, name in spilled)
