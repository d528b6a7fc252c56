"""The work directory: stage folders, staged Parquet outputs published together, and the manifest.

Files are written atomically (`ector.files`): a reader sees the previous file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ector import __version__
from ector.errors import ConfigError, EctorError, InputError, MissingInputError
from ector.files import (
    MANIFEST,
    TMP_MARK,
    publish,
    write_failure,
    write_text_atomic,
)

if TYPE_CHECKING:
    import polars as pl

    from ector.settings import Engine

STAGING_PREFIX = ".staging-"  # a run's unpublished stage outputs live in <workdir>/.staging-<pid>/
WORKDIR_MARK = ".ector-workdir"  # written when Ector creates (or first adopts) a work directory: it is Ector's own
LOCK_FILE = ".lock"
# What a work directory holds: besides the mark, the lock and the manifest, one folder per stage's first part
# (`workflow` for workflow/surgeon; tests/test_workdir.py checks this against the chain). A folder holding these
# only is one an earlier Ector made before the mark existed.
OWN_ENTRIES = frozenset({WORKDIR_MARK, LOCK_FILE, MANIFEST, "ingest", "consolidate", "transform", "workflow", "report"})


def claim_workdir(root: Path) -> None:
    """Create the work directory `root` and mark it as Ector's, or check that the existing folder is Ector's.

    Ector deletes and replaces files in its work directory (stale outputs, the report folder), so a folder that
    holds anything else is refused (ConfigError, exit 2): an empty folder, or one holding Ector's own entries
    only (an earlier Ector's work directory, or a run that has not marked it yet), is adopted and marked.
    """
    if (root / WORKDIR_MARK).is_file():
        return
    if root.is_dir():
        # A temporary file or staging folder is a run's that has not yet marked the folder (two runs at once).
        theirs = sorted(
            name
            for name in (entry.name for entry in root.iterdir())
            if name not in OWN_ENTRIES and TMP_MARK not in name and not name.startswith(STAGING_PREFIX)
        )
        if theirs:
            listed = ", ".join(theirs[:3]) + (", ..." if len(theirs) > 3 else "")
            raise ConfigError(
                f"the work directory {root} holds files Ector did not write ({listed}): "
                "point --workdir at a new or empty folder",
                "(or ECTOR_WORKDIR, or workdir: in ector.yaml): Ector deletes and replaces files in its work directory",
            )
    root.mkdir(parents=True, exist_ok=True)
    write_text_atomic(root / WORKDIR_MARK, "An Ector work directory: Ector writes and deletes files here.\n")


def rerun_hint(producer: str | None) -> str:
    """The fix for a damaged output: rerun the stage that writes it (`workflow/surgeon` -> `ector workflow surgeon`)."""
    if producer is None:
        return "rerun the stage that writes it with --force"
    return f"rerun `ector {producer.replace('/', ' ')} --force`, the stage that writes it"


def unreadable(path: Path, producer: str | None = None) -> InputError:
    """The error for a Parquet file that cannot be read, naming it and the stage that rewrites it."""
    return InputError(f"{path} is damaged: not a readable Parquet file", rerun_hint(producer))


def parquet_rows(path: Path, producer: str | None = None) -> int:
    """The row count of a Parquet file, from its footer (no data read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, pa.ArrowException):
        raise unreadable(path, producer) from None


def is_readable(path: Path) -> bool:
    """Whether every page of a Parquet file decodes; read batch by batch, so memory stays bounded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        for _ in pq.ParquetFile(path).iter_batches(batch_size=65_536):
            pass
    except (OSError, pa.ArrowException):
        return False
    return True


@dataclass(frozen=True)
class WorkDir:
    """The folders and files of one work directory."""

    root: Path

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def output(self, relative: str) -> Path:
        return self.root / relative

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def read_manifest(self) -> dict[str, Any]:
        """The manifest, or an empty one when no stage has run yet."""
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"stages": {}}
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(
                f"the manifest {self.manifest_path} cannot be read ({exc})",
                "delete it and rerun the stages with --force",
            ) from None
        if not isinstance(data, dict):
            raise InputError(f"the manifest {self.manifest_path} is not a JSON object", "delete it and rerun")
        data.setdefault("stages", {})
        return data

    def record_stage(self, stage: str, entry: dict[str, Any]) -> None:
        """Replace one stage's manifest entry, atomically."""
        manifest = self.read_manifest()
        manifest["ector_version"] = __version__
        manifest["stages"][stage] = entry
        write_text_atomic(self.manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")

    def require(self, relative: str, *, produced_by: str) -> Path:
        """The path of an input that an earlier stage writes; MissingInputError naming that stage if absent."""
        path = self.output(relative)
        if not path.is_file():
            raise MissingInputError(f"{path} does not exist", f"run `ector {produced_by}` first (or `ector all`)")
        return path

    def sink_atomic(self, frames: dict[str, pl.LazyFrame], engine: Engine) -> dict[str, int]:
        """Sink each LazyFrame to its Parquet file in one pass, publish them all, and return their row counts.

        Nothing is published unless every sink succeeded, so a failed stage leaves all previous outputs intact.
        """
        staged = self.stage_frames(frames, engine)
        return self.publish_staged(staged)

    @property
    def staging_dir(self) -> Path:
        """This process's private folder for outputs not yet published (same filesystem: renames are atomic)."""
        return self.root / f"{STAGING_PREFIX}{os.getpid()}"

    def stage_frames(
        self,
        frames: dict[str, pl.LazyFrame],
        engine: Engine,
        *,
        shown_as: str | None = None,
        shared_scans: bool = True,
    ) -> dict[str, Path]:
        """Sink every frame to a file in the staging folder; nothing is published yet (`shared_scans`: see
        `engine.collect`).

        A write the filesystem refuses names the files' output folders, or the work directory's `shown_as`
        folder (for intermediate files, whose staging path means nothing to a user).
        """
        import polars as pl

        from ector.engine import sink_all

        staged: dict[str, Path] = {}
        try:
            for relative in frames:
                tmp = self.staging_dir / relative
                staged[relative] = tmp  # recorded before its folder exists, so a signal between leaves none behind
                tmp.parent.mkdir(parents=True, exist_ok=True)
            sink_all({staged[relative]: frame for relative, frame in frames.items()}, engine, shared_scans=shared_scans)
        except (OSError, pl.exceptions.PolarsError) as exc:
            self.discard(staged)
            reason = write_failure(exc)
            if reason is None:  # not the filesystem: a bug or bad data, reported as such by the CLI
                raise
            shown = [shown_as] if shown_as is not None else [str(Path(relative).parent) for relative in frames]
            targets = sorted({str(self.output(relative)) for relative in shown})
            raise EctorError(
                f"cannot write {', '.join(targets)}: {reason}", "free space on that filesystem or make it writable"
            ) from None
        except BaseException:
            self.discard(staged)
            raise
        return staged

    def publish_staged(self, staged: dict[str, Path]) -> dict[str, int]:
        """Rename staged files into place and return their row counts."""
        rows = {relative: parquet_rows(tmp) for relative, tmp in staged.items()}
        for relative, tmp in staged.items():
            target = self.output(relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            publish(tmp, target)
        # Remove the folders these files left empty; another stage of the same pass may still have files staged.
        folders = {
            folder for tmp in staged.values() for folder in tmp.parents if folder.is_relative_to(self.staging_dir)
        }
        for folder in sorted(folders, key=lambda path: len(path.parts), reverse=True):
            with contextlib.suppress(OSError):  # not empty, or already gone
                folder.rmdir()
        return rows

    def remove_stale(self, stage: str, keep: set[str]) -> None:
        """Delete Parquet files a previous run of `stage` wrote that this run did not (e.g. a table now absent)."""
        folder = self.stage_dir(stage)
        for path in folder.rglob("*.parquet"):
            if path.relative_to(self.root).as_posix() not in keep and not path.name.startswith("."):
                path.unlink(missing_ok=True)

    def discard_staging(self) -> None:
        """Remove this process's staging folder and whatever it holds: a failed stage publishes nothing, and a
        signal may land after files were staged but before the stage recorded them."""
        shutil.rmtree(self.staging_dir, ignore_errors=True)

    @staticmethod
    def discard(staged: dict[str, Path]) -> None:
        """Remove staged files, and their staging folder: when one sink fails, polars may still be finishing
        another, and a file it creates in a folder that no longer exists is never created at all."""
        folders = {tmp.parents[len(Path(relative).parts) - 1] for relative, tmp in staged.items()}
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        for folder in folders:
            if folder.name.startswith(STAGING_PREFIX):
                shutil.rmtree(folder, ignore_errors=True)
