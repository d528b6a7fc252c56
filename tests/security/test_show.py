"""`ector show` reads only the work directory's tables, and odd or huge values come out whole and unbroken.

The values are shown by a real process with stdout a pipe, as in `ector show ... | other-tool`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import CliResult
from tests.security.outputs import ector

ODD = [
    "plain",
    "\u202eevil\u202c right-to-left override",
    "\u200f\u05e9\u05dc\u05d5\u05dd mark",
    "e\u0301\u0301\u0301 combining",
    "Z\u0351\u0358\u0360\u0361alg\u035co",
    "\U0001f9ea\U0001f468\u200d\U0001f469\u200d\U0001f467 emoji",
    "\x1b[31mred\x1b[0m escape",
    "bell\x07 and backspace\x08",
    'line\nbreak, and "quote"',
    "carriage\rreturn\ttab",
    "nul\x00byte",
    "\ufeffbom",
    "",
    None,
    "x" * 1_000_000,
]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "ector-work"
    (folder / "transform").mkdir(parents=True)
    pl.DataFrame({"id": list(range(len(ODD))), "value": ODD}).write_parquet(folder / "transform" / "odd.parquet")
    outside = tmp_path / "outside.parquet"
    pl.DataFrame({"secret": ["outside the work directory"]}).write_parquet(outside)
    (folder / "transform" / "link.parquet").symlink_to(outside)
    (folder / "linked").symlink_to(tmp_path, target_is_directory=True)
    return folder


@pytest.mark.parametrize(
    "target",
    [
        "../outside",
        "transform/../../outside",
        "transform/link",
        "linked/outside",
        "{tmp}/outside",
        "{tmp}/ector-work/transform/odd",
        "/etc/passwd",
    ],
)
def test_show_refuses_paths_outside_the_work_directory(
    target: str, workdir: Path, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    result = cli("show", target.format(tmp=tmp_path))

    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and "is outside the work directory" in result.stderr
    assert "outside the work directory\n" not in result.stdout  # the outside table's value was never printed


def test_csv_into_a_pipe_carries_every_value_whole(workdir: Path, tmp_path: Path) -> None:
    run = ector("show", "transform/odd", cwd=tmp_path)

    assert run.code == 0, run.stderr.decode()
    back = pl.read_csv(io.BytesIO(run.stdout), schema={"id": pl.Int64, "value": pl.String})
    assert back["value"].fill_null("").to_list() == [v or "" for v in ODD]  # CSV cannot tell "" from null


def test_json_into_a_pipe_carries_every_value_whole(workdir: Path, tmp_path: Path) -> None:
    run = ector("show", "transform/odd", "--format", "json", cwd=tmp_path)

    assert run.code == 0, run.stderr.decode()
    rows = [json.loads(line) for line in run.stdout.decode("utf-8").splitlines()] if run.stdout.strip() else []
    if len(rows) == 1 and isinstance(rows[0], list):
        rows = rows[0]
    assert [r["value"] for r in rows] == ODD


def test_rich_table_into_a_pipe_shows_every_row_without_terminal_escapes(workdir: Path, tmp_path: Path) -> None:
    run = ector("show", "transform/odd", "--format", "table", "--columns", "id,value", cwd=tmp_path)

    assert run.code == 0, run.stderr.decode()
    text = run.stdout.decode("utf-8")
    assert "transform/odd (15 rows)" in text
    assert "\x1b" not in text and "\x07" not in text and "\x00" not in text and "\u202e" not in text
    assert r"\x1b[31mred\x1b[0m escape" in text  # shown as escapes, not obeyed
    assert r"\u202eevil\u202c" in text and r"nul\x00byte" in text
    assert "combining" in text and "\U0001f9ea" in text
    assert "characters)" in text and len(text) < 50_000  # a huge value is cut for reading, not folded whole


def test_where_over_odd_values(workdir: Path, tmp_path: Path) -> None:
    run = ector("show", "transform/odd", "--where", "length(value) > 1000", "--columns", "id", cwd=tmp_path)

    assert run.code == 0, run.stderr.decode()
    assert run.stdout.decode().split() == ["id", str(len(ODD) - 1)]
