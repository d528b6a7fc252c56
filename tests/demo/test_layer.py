"""write_demo's outputs: where they go, their names, atomicity, determinism, and its arguments."""

from __future__ import annotations

import json
import os
import stat
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from ector.contract import TABLE_NAMES
from ector.demo import write as demo_write
from ector.demo import write_demo
from ector.errors import ConfigError
from tests.demo.conftest import read_parquet_layer, read_sqlite_layer


def test_folder_out_ending_in_slash_gets_one_parquet_file_per_table_and_truth_json(tmp_path: Path) -> None:
    result = write_demo(f"{tmp_path}/layer/", cases=300)

    folder = tmp_path / "layer"
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{t}.parquet" for t in TABLE_NAMES] + ["truth.json"])
    assert result.format == "parquet"
    assert result.truth_path == folder / "truth.json"
    assert result.source_uri == str(folder.resolve())
    assert json.loads(result.truth_path.read_text()) == result.truth


def test_existing_folder_without_slash_gets_parquet(tmp_path: Path) -> None:
    result = write_demo(tmp_path, cases=300)

    assert result.format == "parquet"
    assert (tmp_path / "cases.parquet").is_file()


def test_file_out_gets_sqlite_with_truth_beside_it(tmp_path: Path) -> None:
    result = write_demo(tmp_path / "demo" / "gold.sqlite", cases=300)

    assert result.format == "sqlite"
    assert result.paths == (tmp_path / "demo" / "gold.sqlite", tmp_path / "demo" / "gold.sqlite.truth.json")
    assert result.truth_path.is_file()
    assert result.source_uri == f"sqlite://{(tmp_path / 'demo' / 'gold.sqlite').resolve()}"
    assert result.source_uri.startswith("sqlite:///")
    assert read_sqlite_layer(result.source_uri)["cases"].height == result.rows["cases"]


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    write_demo(tmp_path / "gold.sqlite", cases=300)
    write_demo(f"{tmp_path}/parquet/", cases=300)

    leftovers = [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]
    assert leftovers == []


def test_a_failed_write_leaves_the_previous_layer_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "gold.sqlite"
    write_demo(target, cases=300, seed=1)
    before = target.read_bytes()

    def broken(self: object, table: str, frame: pl.DataFrame) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(demo_write.SqliteSink, "write", broken)
    with pytest.raises(Exception, match="cannot write"):
        write_demo(target, cases=300, seed=2)

    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_same_seed_and_size_give_identical_tables_and_truth(tmp_path: Path) -> None:
    first = write_demo(f"{tmp_path}/a/", cases=800, seed=3)
    second = write_demo(f"{tmp_path}/b/", cases=800, seed=3)

    a, b = read_parquet_layer(tmp_path / "a"), read_parquet_layer(tmp_path / "b")
    for name in TABLE_NAMES:
        assert a[name].equals(b[name]), name
    assert first.truth == second.truth


def test_another_seed_gives_other_tables(tmp_path: Path) -> None:
    write_demo(f"{tmp_path}/a/", cases=800, seed=3)
    write_demo(f"{tmp_path}/b/", cases=800, seed=4)

    a, b = read_parquet_layer(tmp_path / "a"), read_parquet_layer(tmp_path / "b")
    assert not a["cases"].equals(b["cases"])
    assert not a["patients"].equals(b["patients"])


def test_run_date_moves_the_period_and_nothing_is_after_it(tmp_path: Path) -> None:
    run_date = date(2023, 7, 1)
    result = write_demo(f"{tmp_path}/", cases=500, clean=True, run_date=run_date)

    tables = read_parquet_layer(tmp_path)
    assert result.truth["run_date"] == "2023-07-01"
    assert result.truth["period"] == {"first_surgery_day": "2018-01-01", "last_surgery_day": "2023-06-29"}
    for name, frame in tables.items():
        for column, dtype in frame.schema.items():
            if dtype == pl.Date():
                assert frame.get_column(column).max() < run_date, (name, column)  # type: ignore[operator]
            elif isinstance(dtype, pl.Datetime):
                assert frame.get_column(column).dt.date().max() < run_date, (name, column)  # type: ignore[operator]


def test_default_run_date_is_fixed_not_today(tmp_path: Path) -> None:
    result = write_demo(f"{tmp_path}/", cases=300)

    assert result.truth["run_date"] == "2025-01-01"


def test_fewer_than_100_cases_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 100"):
        write_demo(tmp_path / "gold.sqlite", cases=99)


def test_rows_reported_are_rows_written(tmp_path: Path) -> None:
    result = write_demo(f"{tmp_path}{os.sep}", cases=400)

    tables = read_parquet_layer(tmp_path)
    assert result.rows == {name: tables[name].height for name in TABLE_NAMES}
    assert {name: e["rows_in"] for name, e in result.truth["expected"].items()} == result.rows


def test_a_file_the_demo_did_not_write_is_not_replaced_without_force(tmp_path: Path) -> None:
    mine = tmp_path / "mine.sqlite"
    mine.write_bytes(b"my own database")

    with pytest.raises(ConfigError, match="was not written by Ector: add --force to replace it") as caught:
        write_demo(mine, cases=300)

    assert caught.value.exit_code == 2
    assert mine.read_bytes() == b"my own database"
    write_demo(mine, cases=300, force=True)
    assert read_sqlite_layer(f"sqlite://{mine.resolve()}")["cases"].height > 0


def test_a_demo_of_its_own_is_rewritten_as_the_quickstart_reruns(tmp_path: Path) -> None:
    first = write_demo(tmp_path / "gold.sqlite", cases=300, seed=1)
    again = write_demo(tmp_path / "gold.sqlite", cases=300, seed=2)  # the truth file beside it: a demo's own
    assert again.truth != first.truth
    write_demo(f"{tmp_path}/layer/", cases=300)
    write_demo(f"{tmp_path}/layer/", cases=300)  # a folder holding a demo layer only


@pytest.mark.parametrize("out", ["folder/", "."])
def test_a_folder_holding_other_files_is_not_written_into_without_force(
    out: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / out.rstrip("/")
    folder.mkdir(exist_ok=True)
    (folder / "cases.parquet").write_bytes(b"a user's own cases")  # named like a demo's table, but no truth file

    with pytest.raises(ConfigError, match="holds files a demo did not write"):
        write_demo(out, cases=300)

    assert (folder / "cases.parquet").read_bytes() == b"a user's own cases"


def test_a_target_that_is_neither_file_nor_folder_is_never_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"  # stands for /dev/null, which a regression run as root would replace
    os.mkfifo(fifo)

    with pytest.raises(ConfigError, match="is not a file or a folder"):
        write_demo(fifo, cases=300, force=True)

    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]
