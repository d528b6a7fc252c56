"""The engine seam: every plan that reads data is collected or sunk here, with `settings.engine`.

`auto` lets polars choose (streaming where a plan streams), `streaming` and `in-memory` force one engine, and
`gpu` runs each plan on polars' GPU engine (cudf-polars, an NVIDIA GPU). The GPU engine cannot run several
plans in one pass, so under `gpu` plans are collected or sunk one after the other. Without cudf-polars,
`gpu` is refused with one clear line, before any work: no silent fallback to the CPU, since a setting
that does not do what it says would mislead whoever measures with it.

Not routed here, on purpose: collects of frames already in memory (the funnel's per-unit rates, the
availability table), which read no data, and `consolidate.consolidate`, the in-memory API the tests use.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ector.errors import ConfigError

if TYPE_CHECKING:
    import polars as pl

    from ector.settings import Engine


def check_engine(engine: Engine) -> None:
    """Raise ConfigError when `engine` cannot run here (gpu without cudf-polars)."""
    if engine == "gpu" and importlib.util.find_spec("cudf_polars") is None:
        raise ConfigError(
            "engine: gpu needs the cudf-polars package and an NVIDIA GPU, and cudf-polars is not installed",
            "install cudf-polars matching your CUDA version (docs.pola.rs GPU support), or set engine: auto",
        )


def collect(frame: pl.LazyFrame, engine: Engine) -> pl.DataFrame:
    """Collect one plan with `engine`."""
    check_engine(engine)
    return frame.collect(engine=engine)


def collect_all(frames: Sequence[pl.LazyFrame], engine: Engine) -> list[pl.DataFrame]:
    """Collect several plans with `engine`, in one pass (shared scans) except on the GPU."""
    import polars as pl

    check_engine(engine)
    if engine == "gpu":
        return [frame.collect(engine="gpu") for frame in frames]
    return pl.collect_all(frames, engine=engine)


def sink_all(targets: dict[Path, pl.LazyFrame], engine: Engine) -> None:
    """Sink each plan to its Parquet file with `engine`, in one pass except on the GPU."""
    import polars as pl

    check_engine(engine)
    if engine == "gpu":
        for path, frame in targets.items():
            frame.sink_parquet(path, engine="gpu")
        return
    pl.collect_all([frame.sink_parquet(path, lazy=True) for path, frame in targets.items()], engine=engine)
