"""One run per work directory: an advisory lock on `<workdir>/.lock`.

The lock is an `flock` on the file, so the kernel releases it when its holder dies, however it dies: a lock left
by a killed run is simply free, and the next run takes it over. The file holds the holder's pid and start time,
for the message a second run shows before it exits 75.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ector.errors import EctorError, LockedError
from ector.files import TMP_MARK, now_iso, write_failure
from ector.workdir import LOCK_FILE, STAGING_PREFIX, claim_workdir

_held: dict[Path, int] = {}  # work directory -> depth, so `ector all` and its stages share one lock


@contextmanager
def workdir_lock(root: Path) -> Iterator[None]:
    """Hold the work directory's lock for the duration; LockedError (exit 75) when another run holds it."""
    root = root.resolve()
    if root in _held:
        _held[root] += 1
        try:
            yield
        finally:
            _held[root] -= 1
        return
    try:
        claim_workdir(root)  # creates it, or refuses a folder of the user's
        descriptor = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise EctorError(
            f"cannot write the work directory {root}: {write_failure(exc)}",
            "point --workdir at a writable folder (or make this one writable)",
        ) from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(
                f"another ector run holds {root / LOCK_FILE} ({_describe_holder(descriptor)})",
                "try again when it has finished",
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, json.dumps({"pid": os.getpid(), "started": now_iso()}).encode())
        _remove_orphaned_temporaries(root)
        _held[root] = 1
        try:
            yield
        finally:
            del _held[root]
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _remove_orphaned_temporaries(root: Path) -> None:
    """Delete temporary files a killed run left behind: with the lock held, no other run is writing them."""
    for path in root.rglob(f".*{TMP_MARK}*"):
        if path.is_file():
            path.unlink(missing_ok=True)
    for folder in root.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(folder, ignore_errors=True)


def _describe_holder(descriptor: int) -> str:
    try:
        holder = json.loads(os.pread(descriptor, 4096, 0) or b"{}")
        return f"pid {holder['pid']}, started {holder['started']}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"
