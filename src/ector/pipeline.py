"""The runner: every stage, from the CLI or from `ector all`, runs through `run_stage`.

A stage reads its inputs from the work directory, builds its plans with pure functions, and hands the plans
back; the runner alone collects and sinks them (the one place `settings.engine` is applied), publishes the
outputs atomically once all of them are written, and records the stage in the manifest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ector import __version__
from ector.console import out
from ector.lock import workdir_lock
from ector.settings import Engine, Settings
from ector.workdir import WorkDir, file_fingerprint, now_iso


@dataclass
class StageContext:
    """What a stage gets from the runner: settings, the work directory, and a place to stage its outputs."""

    name: str
    settings: Settings
    workdir: WorkDir
    staged: dict[str, Path] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # input name -> fingerprint
    facts: dict[str, Any] = field(default_factory=dict)  # stage-specific totals for the manifest
    partial: bool = False  # the run rewrote only some outputs (ingest --table): keep the others

    @property
    def engine(self) -> Engine:
        """The polars engine every plan of this run is collected or sunk with (settings.engine)."""
        return self.settings.engine

    def read(self, relative: str, *, produced_by: str) -> pl.LazyFrame:
        """Scan one input Parquet file of the work directory and remember its fingerprint."""
        path = self.workdir.require(relative, produced_by=produced_by)
        self.inputs[relative] = file_fingerprint(path)
        return pl.scan_parquet(path)

    def sink(self, frames: dict[str, pl.LazyFrame]) -> dict[str, Path]:
        """Write plans to temporary files in one pass; they are published when the stage succeeds."""
        staged = self.workdir.stage_frames(frames, self.engine)
        self.staged |= staged
        return staged

    def collect(self, frame: pl.LazyFrame) -> pl.DataFrame:
        """Collect a (small) plan with the configured engine."""
        return frame.collect(engine=self.engine)


StageBody = Callable[[StageContext], None]


def run_stage(
    name: str, body: StageBody, settings: Settings, *, settings_sections: tuple[str, ...] = ()
) -> dict[str, int]:
    """Run one stage: its body stages outputs, then they are published and the manifest records the run.

    On any failure the staged files are removed and the previous outputs stay as they were.
    """
    with workdir_lock(settings.workdir):
        return _run_locked(name, body, settings, settings_sections)


def _run_locked(name: str, body: StageBody, settings: Settings, settings_sections: tuple[str, ...]) -> dict[str, int]:
    workdir = WorkDir(settings.workdir)
    workdir.root.mkdir(parents=True, exist_ok=True)
    context = StageContext(name=name, settings=settings, workdir=workdir)
    started, clock = now_iso(), time.perf_counter()
    out.event("started", stage=name, level="debug")
    try:
        body(context)
    except BaseException:
        workdir.discard(context.staged)
        raise
    rows = workdir.publish_staged(context.staged)
    outputs = {relative: {"rows": n} for relative, n in rows.items()}
    if context.partial:
        outputs = workdir.read_manifest()["stages"].get(name, {}).get("outputs", {}) | outputs
    else:
        workdir.remove_stale(name, keep=set(rows))
    seconds = time.perf_counter() - clock
    workdir.record_stage(
        name,
        {
            "started": started,
            "finished": now_iso(),
            "seconds": round(seconds, 3),
            "ector_version": __version__,
            "settings_hash": settings.fingerprint(*settings_sections),
            "inputs": context.inputs,
            "outputs": dict(sorted(outputs.items())),
            **context.facts,
        },
    )
    out.event("done", stage=name, seconds=round(seconds, 2), outputs=len(rows))
    return rows
