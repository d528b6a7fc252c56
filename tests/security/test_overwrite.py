"""Nothing a user made is overwritten: `-o FILE` and `init` refuse an existing target, naming it and --force.

`demo --out` is tested in tests/demo/test_layer.py, `report --out` in tests/report/test_report_stage.py.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
from pathlib import Path

import polars as pl
import pytest

from ector.workdir import WORKDIR_MARK
from tests.security.outputs import ector


@pytest.fixture(scope="module")
def workdir(demo_gold: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("overwrite")
    assert ector("all", "--source", str(demo_gold), "--to", "transform", cwd=folder).code == 0
    return folder / "ector-work"


def _refused_naming(result, target: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    first = result.stderr.splitlines()[0]
    assert target in first and "--force" in first, result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["transform"], ["workflow", "surgeon"]])
def test_output_file_of_the_users_is_kept_unless_forced(command: list[str], workdir: Path, cli, tmp_path: Path) -> None:
    mine = tmp_path / "mine.csv"
    mine.write_text("my own numbers\n", encoding="utf-8")

    refused = cli("-w", str(workdir), *command, "-o", str(mine), "--format", "csv")

    _refused_naming(refused, f"-o {mine}")
    assert mine.read_text(encoding="utf-8") == "my own numbers\n"
    forced = cli("-w", str(workdir), *command, "-o", str(mine), "--format", "csv", "--force")
    assert forced.exit_code == 0, forced.output
    table = pl.read_csv(mine)
    assert table.height > 0 and ("case_id" in table.columns or "unit_id" in table.columns)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.csv"]  # written atomically: no temporary file left


def test_output_into_a_new_file_needs_no_force_and_a_folder_is_refused(workdir: Path, cli, tmp_path: Path) -> None:
    written = cli("-w", str(workdir), "transform", "-o", "mart.parquet", "--format", "parquet")
    assert written.exit_code == 0, written.output
    assert (
        pl.read_parquet(tmp_path / "mart.parquet").height == pl.read_parquet(workdir / "transform/cases.parquet").height
    )

    (tmp_path / "folder").mkdir()
    folder = cli("-w", str(workdir), "transform", "-o", "folder", "--force")
    assert folder.exit_code == 2 and "-o folder is a folder" in folder.stderr, folder.output


def test_output_to_a_named_pipe_is_written_into_not_replaced(workdir: Path, cli, tmp_path: Path) -> None:
    # A FIFO of the test's own rather than /dev/null: a regression would replace it, and a test run as root
    # must not be able to replace the machine's /dev/null.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()

    result = cli("-w", str(workdir), "transform", "-o", str(fifo), "--format", "csv")

    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert received and received[0].startswith(b"case_id,")


def test_init_keeps_an_existing_ector_yaml_unless_forced(cli, tmp_path: Path) -> None:
    (tmp_path / "ector.yaml").write_text("workdir: mine\n", encoding="utf-8")

    _refused_naming(cli("init"), "ector.yaml already exists")

    assert (tmp_path / "ector.yaml").read_text(encoding="utf-8") == "workdir: mine\n"
    assert cli("init", "--force").exit_code == 0
    assert "max_quarantine_fraction: 0.05" in (tmp_path / "ector.yaml").read_text(encoding="utf-8")


def test_init_into_a_file_is_a_usage_error(cli, tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("mine", encoding="utf-8")
    result = cli("init", "notes")
    assert result.exit_code == 2 and "notes is a file, not a folder" in result.stderr, result.output
    assert (tmp_path / "notes").read_text(encoding="utf-8") == "mine"


def test_a_work_directory_of_an_earlier_ector_without_the_mark_keeps_working(
    workdir: Path, cli, tmp_path: Path
) -> None:
    earlier = Path(shutil.copytree(workdir, tmp_path / "earlier"))
    (earlier / WORKDIR_MARK).unlink()  # as a version before the mark left it

    result = cli("-w", str(earlier), "workflow", "surgeon")

    assert result.exit_code == 0, result.output
    assert (earlier / "workflow" / "surgeon" / "summary.parquet").is_file()
    assert (earlier / WORKDIR_MARK).is_file()
