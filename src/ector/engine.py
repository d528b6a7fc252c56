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


def collect(frame: pl.LazyFrame, engine: Engine, *, shared_scans: bool = True) -> pl.DataFrame:
    """Collect one plan with `engine`; without `shared_scans`, each branch of the plan reads its input itself."""
    check_engine(engine)
    return frame.collect(engine=engine, optimizations=optimizations(shared_scans))


def collect_all(frames: Sequence[pl.LazyFrame], engine: Engine) -> list[pl.DataFrame]:
    """Collect several plans with `engine`, in one pass (shared scans) except on the GPU."""
    import polars as pl

    check_engine(engine)
    if engine == "gpu":
        return [frame.collect(engine="gpu") for frame in frames]
    return pl.collect_all(frames, engine=engine)


def sink_all(targets: dict[Path, pl.LazyFrame], engine: Engine, *, shared_scans: bool = True) -> None:
    """Sink each plan to its Parquet file with `engine`, in one pass except on the GPU (`shared_scans`: see
    `collect`)."""
    import polars as pl

    check_engine(engine)
    flags = optimizations(shared_scans)
    if engine == "gpu":
        for path, frame in targets.items():
            frame.sink_parquet(path, engine="gpu", optimizations=flags)
        return
    sinks = [frame.sink_parquet(path, lazy=True) for path, frame in targets.items()]
    pl.collect_all(sinks, engine=engine, optimizations=flags)


def optimizations(shared_scans: bool) -> pl.QueryOptFlags:
    """Polars' default optimisations, less the sharing of a scan between branches when `shared_scans` is off.

    A shared scan feeds every branch at the pace of the fastest, and the streaming engine buffers what the
    others have not consumed yet. Where a plan's branches run one after the other on purpose (groups of units or
    patients, `workflows.groups`), that buffer is the whole projected mart: at 10M cases in 20 groups of patients
    the distinct patients of a cohort took 0.70 GB with the scan shared and 0.32 GB without.
    """
    import polars as pl

    return pl.QueryOptFlags(comm_subplan_elim=shared_scans)
