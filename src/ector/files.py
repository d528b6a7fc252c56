"""Files written whole or not at all: atomic writes, a folder swapped in one step, and what a failed write means.

Every file is written under a temporary name in its final folder and renamed into place (`os.replace` is atomic
on one filesystem), so a reader sees the previous file or the new one, never half of one. The work directory
(`workdir`) and the demo's Gold layer are both written this way.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ector.errors import ConfigError, EctorError

TMP_MARK = ".tmp-"  # temporary files are named .<target>.tmp-<pid>
MANIFEST = "manifest.json"  # the work directory's record: a folder beside it named `report` is Ector's


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
    """Write a text file atomically, in UTF-8."""
    write_bytes_atomic(target, text.encode("utf-8"))


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
FORCE_HINT = "choose a new path, or add --force to replace it"


def refuse_replacing(target: Path, why: str, option: str | None = None) -> ConfigError:
    """The error (exit 2) for a target outside the work directory that Ector did not write: one line naming the
    option, the target and --force, for every command that writes there (demo, init, report --out, -o)."""
    named = f"{option} {target}" if option else str(target)
    return ConfigError(f"{named} {why}: add --force to replace it", "or choose a new path")


def check_replaceable(target: Path, option: str | None, *, force: bool, ours: Callable[[Path], bool] | None) -> None:
    """Raise `refuse_replacing` when `target` exists and is not Ector's own (`ours`), unless `force`: replacing
    it would lose what a user made. `ours` None: Ector cannot tell its own (an `ector.yaml` may have been edited
    since, a CSV carries no mark), so every existing target is the user's."""
    if force or not (target.exists() or target.is_symlink()):
        return
    if ours is None:
        raise refuse_replacing(target, "already exists", option)
    if not ours(target):
        raise refuse_replacing(target, "exists and was not written by Ector", option)


def is_own_folder(target: Path) -> bool:
    """Whether folder `target` may be replaced whole: it is empty, holds OWN_FOLDER_MARK, or is the `report` folder
    of a work directory (its manifest says so) written before the mark existed."""
    if not target.is_dir():
        return False
    if (target / OWN_FOLDER_MARK).is_file() or not any(target.iterdir()):
        return True
    manifest = target.parent / MANIFEST
    return target.name == "report" and manifest.is_file() and '"report"' in manifest.read_text(encoding="utf-8")


def check_own_folder(
    target: Path, option: str | None = None, *, force: bool = False, keep: tuple[Path, ...] = ()
) -> None:
    """Raise ConfigError when `target` holds files and is not a folder Ector wrote (`is_own_folder`): replacing it
    would delete them. `force` allows it, except for a folder holding the current folder or one of `keep` (the
    work directory): those are never deleted."""
    named = f"{option} {target}" if option else str(target)
    if not target.exists():
        return
    if not target.is_dir():
        raise ConfigError(f"{named} is a file, not a folder", "name a folder for the report")
    held = [p for p in (Path.cwd(), *keep) if p.resolve().is_relative_to(target.resolve())]
    if held:
        raise ConfigError(
            f"{named} holds {'the current folder' if held[0] == Path.cwd() else held[0]}: the report would replace it",
            "name a folder of its own for the report",
        )
    if not force and not is_own_folder(target):
        raise refuse_replacing(target, "holds files Ector did not write, which the report would replace", option)


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


def file_fingerprint(path: Path) -> str:
    """A cheap identity of a file's content: size and modification time in nanoseconds."""
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"
