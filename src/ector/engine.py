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
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ector.errors import ConfigError

if TYPE_CHECKING:
    import polars as pl

    from ector.settings import Engine


# Polars' out-of-core budget: what its streaming operators hold beyond it spills to temporary files on disk.
SPILL_BUDGET = "POLARS_OOC_MEMORY_BUDGET_MB"


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


@contextmanager
def spill_budget(megabytes: int | None) -> Iterator[None]:
    """Within the block, polars spills to disk what its streaming operators hold beyond `megabytes` (None: never).

    Polars reads its budget from the environment and rereads it on `pl.Config.reload_env_vars()`; measured with
    polars 2.1, a streaming sort of 20M rows peaked at 370 MB under a 300 MB budget against 1.46 GB without, and
    lifting the budget afterwards in the same process restored the in-memory sort. A budget set in the
    environment by the user wins and is left alone. Spill files go to polars' own temporary folder (see
    docs/operations.md): the folder is not changed from here, because polars fixes it at the first spill and
    panics on the next one if that folder is gone.
    """
    import polars as pl

    if megabytes is None or SPILL_BUDGET in os.environ:
        yield
        return
    os.environ[SPILL_BUDGET] = str(megabytes)
    pl.Config.reload_env_vars()
    try:
        yield
    finally:
        os.environ.pop(SPILL_BUDGET, None)
        pl.Config.reload_env_vars()
