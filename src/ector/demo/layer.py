"""`write_demo`: generate a synthetic Igraine Gold layer with planted truth (and dirt) and write it out."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import polars as pl

from ector.contract import TABLES
from ector.demo import model
from ector.demo.dirt import DirtContext, DirtTally, output_schema, plant_chunk, plant_world_tables
from ector.demo.generate import chunk_tables, world_tables
from ector.demo.streams import Stream, generator
from ector.demo.truth import build_truth
from ector.demo.world import World, build_world
from ector.demo.write import ParquetSink, Sink, SqliteSink
from ector.errors import ConfigError, EctorError
from ector.files import TMP_MARK, check_replaceable, refuse_replacing, write_text_atomic


@dataclass(frozen=True)
class DemoResult:
    """What `write_demo` wrote: where, in which format, the truth, and how to read it back."""

    format: Literal["sqlite", "parquet"]
    paths: tuple[Path, ...]  # the data files, then the truth file
    truth_path: Path
    truth: dict[str, Any]
    source_uri: str  # `sqlite:///abs/path` for connectorx, or the Parquet folder's absolute path
    rows: dict[str, int]  # rows written per table


def write_demo(
    out: str | Path,
    *,
    cases: int = 20_000,
    seed: int = 7,
    clean: bool = False,
    run_date: date | None = None,
    force: bool = False,
) -> DemoResult:
    """Returns what was written: a synthetic Gold layer of `cases` cases and its truth file.

    `out` ending in '/' or naming an existing folder gets one Parquet file per table and `truth.json`;
    anything else is a SQLite file with `<out>.truth.json` beside it. Same seed and size, same content.
    `run_date` (default 2025-01-01) is the extract date: surgery runs over the six calendar years before it.
    A target that holds what a demo did not write is refused (ConfigError) unless `force`: replacing it would
    lose the user's data.
    """
    if cases < model.MIN_CASES:
        raise ConfigError(f"--cases must be at least {model.MIN_CASES}, got {cases}")
    as_folder = str(out).endswith(("/", os.sep)) or Path(out).is_dir()
    path = Path(out)
    if path.exists() and not (path.is_file() or path.is_dir()):  # /dev/null: never replaced, even with --force
        raise ConfigError(f"--out {path} is not a file or a folder", "name a SQLite file, or a folder ending in /")
    if not force:
        _check_not_users(path, as_folder)
    world = build_world(cases, seed, run_date or model.DEFAULT_RUN_DATE)
    schemas = {name: output_schema(table, clean) for name, table in TABLES.items()}
    tally = DirtTally()
    try:
        sink: Sink = ParquetSink(path, schemas) if as_folder else SqliteSink(path, schemas)
    except (OSError, sqlite3.Error) as exc:
        # The target named by --out cannot be created at all: a usage error (exit 2), not a failed run.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"--out {path}: cannot write there: {reason}", "name a writable file or folder") from None
    try:
        for tables in demo_tables(world, clean, tally):
            for name, frame in tables.items():
                sink.write(name, frame)
                tally.rows_in[name] += frame.height
        data_paths = sink.publish()
    except OSError as exc:
        sink.discard()
        raise EctorError(f"cannot write {path}: {exc.strerror}", "check free space and permissions") from None
    except BaseException:
        sink.discard()
        raise
    truth = build_truth(world, clean, tally)
    truth_path = path / "truth.json" if as_folder else path.with_name(f"{path.name}.truth.json")
    write_text_atomic(truth_path, json.dumps(truth, indent=2) + "\n")
    resolved = path.resolve()
    return DemoResult(
        format="parquet" if as_folder else "sqlite",
        paths=(*data_paths, truth_path),
        truth_path=truth_path,
        truth=truth,
        source_uri=str(resolved) if as_folder else f"sqlite://{resolved}",
        rows={name: tally.rows_in[name] for name in TABLES},
    )


def demo_tables(world: World, clean: bool, tally: DirtTally) -> Iterator[dict[str, pl.DataFrame]]:
    """Yields the tables to write, dirt planted unless `clean`: sites and surgeons, then chunk by chunk."""
    context = DirtContext(
        run_date=world.run_date,
        id_width=world.id_width,
        site_ids=world.sites.ids,
        learning_surgeon_ids=[world.surgeons.ids[s] for s in world.planted.learning_curve_surgeons],
    )
    small = world_tables(world)
    yield (
        _counted(small, tally)
        if clean
        else plant_world_tables(small, generator(world.seed, Stream.SMALL_TABLE_DIRT), context, tally)
    )
    for index, tables in enumerate(chunk_tables(world)):
        yield (
            _counted(tables, tally)
            if clean
            else plant_chunk(tables, generator(world.seed, Stream.DIRT, index), context, tally)
        )


def _counted(tables: dict[str, pl.DataFrame], tally: DirtTally) -> dict[str, pl.DataFrame]:
    """Returns the clean tables, their optional nulls tallied (every clean row is kept)."""
    for name, frame in tables.items():
        tally.count_optional_nulls(name, frame)
    return tables


def _check_not_users(path: Path, as_folder: bool) -> None:
    """Raise ConfigError (`files.refuse_replacing`) when `path` holds something a demo did not write: a SQLite file
    without the demo's truth file beside it, or a folder with files other than a demo layer's."""
    if not as_folder:
        check_replaceable(path, "--out", force=False, ours=lambda p: p.with_name(f"{p.name}.truth.json").is_file())
        return
    if not path.is_dir():
        return
    ours = {f"{name}.parquet" for name in TABLES} | {"truth.json"}
    present = [p.name for p in path.iterdir() if TMP_MARK not in p.name]
    # A demo's folder has its truth file; without it, even a cases.parquet is the user's own.
    theirs = sorted(n for n in present if n not in ours or not (path / "truth.json").is_file())
    if theirs:
        listed = ", ".join(theirs[:3]) + (", ..." if len(theirs) > 3 else "")
        raise refuse_replacing(path, f"holds files a demo did not write ({listed}), which it could replace", "--out")
