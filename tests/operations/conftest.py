"""A small dirty demo Gold layer, written once per session, for tests that run the whole chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gold import demo_sqlite, own_copy
from tests.operations.processes import PREPARED_TO, run_ector

DEMO_CASES = 2000


@pytest.fixture(scope="session")
def demo_gold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite demo Gold layer of 2,000 cases (seed 11), shared read-only by the session's tests."""
    return demo_sqlite(tmp_path_factory.mktemp("demo"), DEMO_CASES, seed=11)


@pytest.fixture
def gold(demo_gold: Path, tmp_path: Path) -> Path:
    """This test's own copy of the demo Gold layer (so touching it affects no other test)."""
    return own_copy(demo_gold, tmp_path)


@pytest.fixture(scope="session")
def prepared(demo_gold: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A work directory after a successful run up to the workflows, read-only: each test copies it."""
    workdir = tmp_path_factory.mktemp("prepared") / "work"
    result = run_ector(workdir, "all", "--source", str(demo_gold), "--to", PREPARED_TO)
    assert result.returncode == 0, result.stderr
    return workdir
