"""A write fails: the target is full, read-only, or refuses a file's size. Exit 1 with one line naming the path
and the problem, nothing half-written published, previous outputs and manifest untouched, and the rerun completes
once the target is fixed.

The tests run as root (as CI does), so file permissions stop nothing: a small tmpfs mounted by the test is the
target, filled up for "full" and remounted read-only for "read-only". Where mounting is not allowed they skip
(ECTOR_REQUIRE_MOUNT=1 makes that a failure). RLIMIT_FSIZE needs no privilege and works anywhere: the kernel
refuses any write past the limit, root or not, with "file too large".
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.operations.processes import PREPARED_TO, run_ector
from tests.operations.test_crash import assert_consistent

TO = PREPARED_TO
FREE_BYTES = 40_000  # left on the full filesystem: enough for the lock, far too little for any stage's outputs


def _digests(workdir: Path) -> dict[str, str]:
    """Every published file of the work directory (the lock file aside) and its content hash."""
    return {
        path.relative_to(workdir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(workdir.rglob("*"))
        if path.is_file() and path.name != ".lock"
    }


def _assert_failed_cleanly(result: subprocess.CompletedProcess[str], expected_error: str) -> None:
    """Exit 1, and one error line matching the pattern `expected_error`, with its hint, and nothing else."""
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and re.fullmatch(expected_error, errors[0]), result.stderr
    assert len(result.stderr.strip().splitlines()) == 2, result.stderr  # the error and its hint
    assert "Traceback" not in result.stderr


def _assert_nothing_half_written(workdir: Path, before: dict[str, str]) -> None:
    assert not [*workdir.rglob(".*.tmp-*"), *workdir.glob(".staging-*")], "temporary files left behind"
    assert _digests(workdir) == before, "a previous output or the manifest changed"
    assert_consistent(workdir)


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs mounted for this test; unmounted afterwards."""
    mountpoint = tmp_path / "fs"
    mountpoint.mkdir()
    mount = shutil.which("mount")
    result = (
        subprocess.run(
            [mount, "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mountpoint)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if mount
        else None
    )
    if result is None or result.returncode != 0:
        reason = result.stderr.strip() if result is not None else "no mount command"
        if os.environ.get("ECTOR_REQUIRE_MOUNT") == "1":
            pytest.fail(f"ECTOR_REQUIRE_MOUNT=1 but a tmpfs cannot be mounted: {reason}")
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {reason}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, timeout=30)


def _fill(filesystem: Path, leave: int) -> None:
    """Take all of the filesystem's free space but `leave` bytes."""
    stats = os.statvfs(filesystem)
    free = stats.f_bavail * stats.f_frsize
    descriptor = os.open(filesystem / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(descriptor, 0, free - leave)
    finally:
        os.close(descriptor)


@pytest.mark.parametrize(
    ("command", "folder"),
    [
        (("ingest", "--force"), "ingest"),
        pytest.param(("consolidate", "--force"), "consolidate", marks=pytest.mark.slow),
        pytest.param(("transform", "--force"), "transform", marks=pytest.mark.slow),
        pytest.param(("workflow", "surgeon", "--force"), "workflow/surgeon", marks=pytest.mark.slow),
        pytest.param(("all", "--force", "--to", TO), "ingest", marks=pytest.mark.slow),
    ],
    ids=["ingest", "consolidate", "transform", "workflow", "all"],
)
def test_full_target_fails_in_one_line_and_publishes_nothing(
    demo_gold: Path, prepared: Path, small_filesystem: Path, command: tuple[str, ...], folder: str
) -> None:
    workdir = small_filesystem / "work"
    shutil.copytree(prepared, workdir)  # copy2: modification times kept, so the manifest's fingerprints hold
    before = _digests(workdir)
    _fill(small_filesystem, FREE_BYTES)

    source = ("--source", str(demo_gold)) if command[0] in ("ingest", "all") else ()
    result = run_ector(workdir, *command, *source)

    _assert_failed_cleanly(
        result, f"Error: cannot write {re.escape(str(workdir / folder))}(/[a-z]+)?: no space left on device"
    )
    _assert_nothing_half_written(workdir, before)
    (small_filesystem / "filler").unlink()
    rerun = run_ector(workdir, *command, *source)
    assert rerun.returncode == 0, rerun.stderr
    assert_consistent(workdir)
    assert set(_digests(workdir)) == set(before)


@pytest.mark.slow
def test_read_only_work_directory_fails_in_one_line(demo_gold: Path, prepared: Path, small_filesystem: Path) -> None:
    workdir = small_filesystem / "work"
    shutil.copytree(prepared, workdir)  # copy2: modification times kept, so the manifest's fingerprints hold
    before = _digests(workdir)
    subprocess.run(["mount", "-o", "remount,ro", str(small_filesystem)], check=True, timeout=30)

    result = run_ector(workdir, "all", "--source", str(demo_gold), "--force", "--to", TO)

    _assert_failed_cleanly(
        result, f"Error: cannot write the work directory {re.escape(str(workdir))}: read-only file system"
    )
    assert _digests(workdir) == before
    assert_consistent(workdir)
    subprocess.run(["mount", "-o", "remount,rw", str(small_filesystem)], check=True, timeout=30)
    assert run_ector(workdir, "all", "--source", str(demo_gold), "--force", "--to", TO).returncode == 0


@pytest.mark.parametrize(
    ("command", "folder"),
    [
        pytest.param(("ingest", "--force"), "ingest", marks=pytest.mark.slow),
        (("consolidate", "--force"), "consolidate"),
    ],
    ids=["ingest", "consolidate"],
)
def test_file_size_limit_fails_in_one_line_and_publishes_nothing(
    demo_gold: Path, prepared: Path, tmp_path: Path, command: tuple[str, ...], folder: str
) -> None:
    workdir = tmp_path / "work"
    shutil.copytree(prepared, workdir)  # copy2: modification times kept, so the manifest's fingerprints hold
    before = _digests(workdir)

    source = ("--source", str(demo_gold)) if command[0] == "ingest" else ()
    # 30 kB: the manifest fits, the cases table (about 75 kB) does not.
    result = run_ector(workdir, *command, *source, limit_bytes=30_000)

    _assert_failed_cleanly(result, f"Error: cannot write {re.escape(str(workdir / folder))}(/[a-z]+)?: file too large")
    _assert_nothing_half_written(workdir, before)
    assert run_ector(workdir, *command, *source).returncode == 0
    assert_consistent(workdir)


@pytest.mark.slow
def test_a_spill_the_full_target_refuses_fails_in_one_line(
    prepared: Path, small_filesystem: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """consolidate spills the checked rows of a table of several chunks (chunk_rows 300, spill_mb 0 here) to its
    scratch folder in the work directory: when the filesystem refuses them, exit 1 naming the stage's folder."""
    workdir = small_filesystem / "work"
    shutil.copytree(prepared, workdir)  # copy2: modification times kept, so the manifest's fingerprints hold
    before = _digests(workdir)
    _fill(small_filesystem, FREE_BYTES)
    monkeypatch.setenv("ECTOR_CHUNK_ROWS", "300")
    monkeypatch.setenv("ECTOR_SPILL_MB", "0")

    result = run_ector(workdir, "consolidate", "--force")

    folder = re.escape(str(workdir / "consolidate"))
    _assert_failed_cleanly(result, f"Error: cannot write {folder}: no space left on device")
    _assert_nothing_half_written(workdir, before)
    (small_filesystem / "filler").unlink()
    assert run_ector(workdir, "consolidate", "--force").returncode == 0
    assert_consistent(workdir)
