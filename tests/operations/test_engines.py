"""The engine seam: the whole chain gives the same files under every engine; gpu without a GPU is refused."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal


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
