"""A damaged Parquet file in the work directory (truncated, emptied, garbage in its pages): the stage that reads
it, `ector all` and `ector show` exit 1 with one line naming the file, and a hint naming the stage that rewrites
it; following the hint repairs the work directory."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from tests.operations.processes import PREPARED_TO, run_ector
from tests.operations.test_crash import assert_consistent

TO = PREPARED_TO
DAMAGED = "consolidate/cases.parquet"


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    else:  # garbage in the pages, the footer intact: the row count still reads, the values do not
        noise = random.Random(7).randbytes(4000)
        start = len(data) // 3
        path.write_bytes(data[:start] + noise + data[start + len(noise) :])


# Two combinations in the quick suite; all nine in the slow session.
QUICK = {("all", "truncated"), ("transform", "garbage")}
CASES = [
    pytest.param(command, how, id=f"{command}-{how}", marks=() if (command, how) in QUICK else pytest.mark.slow)
    for command in ("transform", "all", "show")
    for how in ("truncated", "empty", "garbage")
]


@pytest.mark.parametrize(("command", "how"), CASES)
def test_damaged_parquet_names_the_file_and_the_fix(
    demo_gold: Path, prepared: Path, tmp_path: Path, how: str, command: str
) -> None:
    workdir = tmp_path / "work"
    shutil.copytree(prepared, workdir)
    _damage(workdir / DAMAGED, how)
    args = {
        "transform": ("transform",),
        "all": ("all", "--source", str(demo_gold), "--to", TO),
        "show": ("show", DAMAGED.removesuffix(".parquet")),
    }[command]

    result = run_ector(workdir, *args)

    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"Error: {(workdir / DAMAGED).resolve() if command == 'show' else workdir / DAMAGED} is damaged: "
        "not a readable Parquet file",
        "Hint: rerun `ector consolidate --force`, the stage that writes it",
    ], result.stderr
    assert not [*workdir.rglob(".*.tmp-*"), *workdir.glob(".staging-*")], "temporary files left behind"
    # The fix the hint names works, and the command then succeeds.
    assert run_ector(workdir, "consolidate", "--force").returncode == 0
    again = run_ector(workdir, *args)
    assert again.returncode == 0, again.stderr
    assert_consistent(workdir)
