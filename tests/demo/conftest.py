"""Demo layers shared by the demo tests: written once per session, small enough to stay fast."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ector.contract import TABLE_NAMES
from ector.demo import DemoResult, write_demo

CASES = 3_000
SEED = 11


@dataclass(frozen=True)
class Demo:
    result: DemoResult
    tables: dict[str, pl.DataFrame]

    @property
    def truth(self) -> dict[str, Any]:
        return self.result.truth

    @property
    def run_date(self) -> date:
        return date.fromisoformat(self.truth["run_date"])


def read_parquet_layer(folder: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(folder / f"{name}.parquet") for name in TABLE_NAMES}


def read_sqlite_layer(uri: str) -> dict[str, pl.DataFrame]:
    os.environ.setdefault("RUST_LOG", "off")
    return {name: pl.read_database_uri(f"SELECT * FROM {name}", uri) for name in TABLE_NAMES}


def _parquet_demo(folder: Path, clean: bool, cases: int = CASES, seed: int = SEED) -> Demo:
    result = write_demo(f"{folder}/", cases=cases, seed=seed, clean=clean)
    return Demo(result, read_parquet_layer(folder))


@pytest.fixture(scope="session")
def clean_demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return _parquet_demo(tmp_path_factory.mktemp("clean"), clean=True)


@pytest.fixture(scope="session")
def dirty_demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return _parquet_demo(tmp_path_factory.mktemp("dirty"), clean=False)


@pytest.fixture(scope="session")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The layer a new user gets: 20,000 cases, seed 7, with dirt."""
    return _parquet_demo(tmp_path_factory.mktemp("default"), clean=False, cases=20_000, seed=7)


@pytest.fixture(scope="session")
def clean_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    result = write_demo(tmp_path_factory.mktemp("sqlite") / "gold.sqlite", cases=CASES, seed=SEED, clean=True)
    return Demo(result, read_sqlite_layer(result.source_uri))


@pytest.fixture(scope="session")
def dirty_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    result = write_demo(tmp_path_factory.mktemp("sqlite") / "gold.sqlite", cases=CASES, seed=SEED)
    return Demo(result, read_sqlite_layer(result.source_uri))
