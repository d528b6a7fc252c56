"""The work directory: atomic writes, staged outputs, the manifest, missing inputs."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from ector.errors import EctorError, MissingInputError
from ector.files import write_text_atomic
from ector.workdir import WorkDir


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
