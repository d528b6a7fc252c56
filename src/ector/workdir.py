"""The work directory: stage folders, atomic Parquet writes, and the manifest.

Every output is written under a temporary name in its final folder and renamed into place (`os.replace` is
atomic on one filesystem), so a reader sees the previous file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ector import __version__
from ector.errors import ConfigError, EctorError, InputError, MissingInputError

if TYPE_CHECKING:
    import polars as pl

    from ector.settings import Engine

MANIFEST = "manifest.json"
TMP_MARK = ".tmp-"  # temporary files are named .<target>.tmp-<pid>
STAGING_PREFIX = ".staging-"  # a run's unpublished stage outputs live in <workdir>/.staging-<pid>/


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def temporary_path(target: Path) -> Path:
    """A sibling of `target` that no reader looks for; same folder, so the final rename is atomic."""
    return target.with_name(f".{target.name}{TMP_MARK}{os.getpid()}")


def publish(tmp: Path, target: Path) -> None:
    """Move a finished temporary file into place, atomically, fsynced first so a crash cannot lose it."""
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def write_text_atomic(target: Path, text: str) -> None:
    """Write a text file atomically."""
    tmp = temporary_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        publish(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EctorError(f"cannot write {target}: {write_failure(exc)}", "check free space and permissions") from None
    except BaseException:  # stopped by a signal mid-write: leave no temporary file behind
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """Write a binary file atomically."""
    tmp = temporary_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        publish(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EctorError(f"cannot write {target}: {write_failure(exc)}", "check free space and permissions") from None
    except BaseException:  # stopped by a signal mid-write: leave no temporary file behind
        tmp.unlink(missing_ok=True)
        raise


# Polars reports a failed write as ComputeError text ending in "(os error N)", not as an OSError; only these
# numbers mean the target refused the write (a missing input file is also "os error", but not a write failure).
_OS_ERROR = re.compile(r"\(os error (\d+)\)")
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EIO}


def write_failure(exc: BaseException) -> str | None:
    """What the OS said when a write failed ("no space left on device"), or None when it was not the OS."""
    if isinstance(exc, OSError):
        return os.strerror(exc.errno).lower() if exc.errno else str(exc)
    found = _OS_ERROR.search(str(exc))
    if found is None or int(found[1]) not in _WRITE_ERRNOS:
        return None
    return os.strerror(int(found[1])).lower()


OWN_FOLDER_MARK = ".ector"  # in a folder Ector writes whole (the report): what marks it as Ector's own


def check_own_folder(target: Path) -> None:
    """Raise ConfigError when `target` holds files and is not a folder Ector wrote: replacing it would delete them.

    A folder is Ector's own when it holds OWN_FOLDER_MARK, or is the `report` folder of a work directory (its
    manifest says so) written before the mark existed.
    """
    if not target.exists():
        return
    if not target.is_dir():
        raise ConfigError(f"{target} is a file, not a folder", "name a folder for the report")
    if (target / OWN_FOLDER_MARK).is_file() or not any(target.iterdir()):
        return
    manifest = target.parent / MANIFEST
    if target.name == "report" and manifest.is_file() and '"report"' in manifest.read_text(encoding="utf-8"):
        return
    raise ConfigError(
        f"{target} holds files Ector did not write, and writing the report there would replace them",
        "choose an empty or new folder, or remove the files",
    )


def publish_folder(staged: Path, target: Path) -> None:
    """Replace folder `target` by the folder `staged` whole, then remove the previous one.

    On Linux the two are exchanged in one step (renameat2 with RENAME_EXCHANGE): a reader, or a run killed at any
    moment, finds the previous folder or the new one. Elsewhere the previous folder is first renamed aside.
    """
    if not target.exists():
        os.replace(staged, target)
        return
    if _exchange(staged, target):
        shutil.rmtree(staged, ignore_errors=True)  # it now holds the previous folder
        return
    previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
    os.replace(target, previous)
    os.replace(staged, target)
    shutil.rmtree(previous, ignore_errors=True)


def _exchange(one: Path, other: Path) -> bool:
    """Exchange two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where the system cannot."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:  # a C library older than glibc 2.28
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(one), at_fdcwd, os.fsencode(other), rename_exchange)
    return bool(done == 0)


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


def file_fingerprint(path: Path) -> str:
    """A cheap identity of a file's content: size and modification time in nanoseconds."""
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


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
