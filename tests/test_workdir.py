"""The work directory: atomic writes, staged outputs, the manifest, missing inputs."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from ector.errors import EctorError, MissingInputError
from ector.files import write_text_atomic
from ector.lock import workdir_lock
from ector.workdir import OWN_ENTRIES, WORKDIR_MARK, WorkDir, claim_workdir


def test_sink_publishes_files_and_counts_rows(tmp_path: Path) -> None:
    workdir = WorkDir(tmp_path)
    rows = workdir.sink_atomic(
        {"ingest/a.parquet": pl.LazyFrame({"x": [1, 2, 3]}), "ingest/b.parquet": pl.LazyFrame({"y": [1]})},
        engine="auto",
    )
    assert rows == {"ingest/a.parquet": 3, "ingest/b.parquet": 1}
    assert pl.read_parquet(tmp_path / "ingest" / "a.parquet")["x"].to_list() == [1, 2, 3]
    assert sorted(os.listdir(tmp_path / "ingest")) == ["a.parquet", "b.parquet"]


def test_a_failing_plan_publishes_nothing_and_keeps_the_previous_file(tmp_path: Path) -> None:
    workdir = WorkDir(tmp_path)
    workdir.sink_atomic({"ingest/a.parquet": pl.LazyFrame({"x": [1, 2, 3]})}, engine="auto")
    failing = pl.LazyFrame({"x": ["1", "oops"]}).select(pl.col("x").cast(pl.Int64, strict=True))

    with pytest.raises(pl.exceptions.InvalidOperationError):
        workdir.sink_atomic({"ingest/a.parquet": pl.LazyFrame({"x": [9]}), "ingest/b.parquet": failing}, engine="auto")

    assert pl.read_parquet(tmp_path / "ingest" / "a.parquet")["x"].to_list() == [1, 2, 3]
    assert sorted(os.listdir(tmp_path / "ingest")) == ["a.parquet"]
    assert sorted(os.listdir(tmp_path)) == ["ingest"]  # no staging folder left


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders anyway")
def test_write_to_a_read_only_folder_fails_cleanly(tmp_path: Path) -> None:
    target = tmp_path / "ro"
    target.mkdir()
    write_text_atomic(target / "f.txt", "before")
    target.chmod(0o555)
    try:
        with pytest.raises(EctorError, match="cannot write"):
            write_text_atomic(target / "f.txt", "after")
    finally:
        target.chmod(0o755)
    assert (target / "f.txt").read_text() == "before"


def test_text_write_replaces_atomically_leaving_no_temporary_files(tmp_path: Path) -> None:
    write_text_atomic(tmp_path / "m.json", "one")
    write_text_atomic(tmp_path / "m.json", "two")
    assert (tmp_path / "m.json").read_text() == "two"
    assert os.listdir(tmp_path) == ["m.json"]


def test_manifest_keeps_other_stages_when_one_is_recorded(tmp_path: Path) -> None:
    workdir = WorkDir(tmp_path)
    workdir.record_stage("ingest", {"outputs": {"ingest/cases.parquet": {"rows": 4}}})
    workdir.record_stage("consolidate", {"outputs": {}})
    manifest = workdir.read_manifest()
    assert set(manifest["stages"]) == {"ingest", "consolidate"}
    assert manifest["stages"]["ingest"]["outputs"]["ingest/cases.parquet"]["rows"] == 4


def test_corrupt_manifest_names_the_file_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(EctorError, match=r"manifest\.json cannot be read"):
        WorkDir(tmp_path).read_manifest()


def test_missing_input_names_the_command_to_run_first(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError) as raised:
        WorkDir(tmp_path).require("ingest/cases.parquet", produced_by="ingest")
    assert raised.value.hint == "run `ector ingest` first (or `ector all`)"


def test_a_new_work_directory_is_created_and_marked_as_ectors(cli, tmp_path: Path) -> None:
    result = cli("-w", "deep/work", "consolidate")  # no ingest yet: fails (exit 1) after taking the folder

    assert result.exit_code == 1 and "run `ector ingest` first" in result.stderr, result.output
    assert (tmp_path / "deep" / "work" / WORKDIR_MARK).is_file()


def test_a_folder_of_the_users_is_refused_as_work_directory_and_left_as_it_was(cli, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    (mine / "ingest").mkdir(parents=True)
    (mine / "ingest" / "cases.parquet").write_bytes(b"my own cases")  # a stage would delete it as stale
    (mine / "notes.txt").write_text("my notes", encoding="utf-8")

    for command in (["consolidate"], ["all", "--source", "gold.sqlite"], ["ingest", "--source", "gold.sqlite"]):
        result = cli("-w", "mine", *command)
        assert result.exit_code == 2, result.output
        first = result.stderr.splitlines()[0]
        assert f"the work directory {mine} holds files Ector did not write (notes.txt)" in first, result.stderr
        assert "point --workdir at a new or empty folder" in first
        assert "Traceback" not in result.output

    assert sorted(p.relative_to(mine).as_posix() for p in mine.rglob("*")) == [
        "ingest",
        "ingest/cases.parquet",
        "notes.txt",
    ]
    assert (mine / "ingest" / "cases.parquet").read_bytes() == b"my own cases"


def test_an_empty_folder_and_an_earlier_ectors_work_directory_are_taken_and_marked(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    earlier = tmp_path / "earlier"  # what a work directory of a version before the mark holds
    (earlier / "ingest").mkdir(parents=True)
    (earlier / "workflow" / "surgeon").mkdir(parents=True)
    (earlier / "manifest.json").write_text('{"stages": {}}', encoding="utf-8")
    (earlier / ".lock").write_text("", encoding="utf-8")
    (earlier / ".staging-12345").mkdir()  # a killed run's, removed once the lock is taken

    for folder in (empty, earlier):
        with workdir_lock(folder):
            pass
        assert (folder / WORKDIR_MARK).is_file()
    assert (earlier / "manifest.json").read_text(encoding="utf-8") == '{"stages": {}}'


def test_a_marked_work_directory_is_ectors_whatever_it_holds(tmp_path: Path) -> None:
    claim_workdir(tmp_path / "work")
    (tmp_path / "work" / "notes.txt").write_text("a note left in Ector's folder", encoding="utf-8")
    claim_workdir(tmp_path / "work")  # no error: the mark says the folder is Ector's


def test_every_stage_folder_is_one_a_work_directory_may_hold() -> None:
    from ector.chain import CHAIN

    assert {spec.name.split("/")[0] for spec in CHAIN} <= OWN_ENTRIES


def test_status_and_show_on_a_missing_work_directory_create_nothing(cli, tmp_path: Path) -> None:
    status = cli("status")
    assert status.exit_code == 0 and "never run" in status.output, status.output
    show = cli("show", "transform/cases")
    assert show.exit_code == 2 and "run `ector all` first" in show.stderr, show.output
    assert not (tmp_path / "ector-work").exists()
