"""A small dirty demo Gold layer, written once per session, for tests that run the whole chain."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DEMO_CASES = 2000


@pytest.fixture(scope="session")
def demo_gold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite demo Gold layer of 2,000 cases (seed 11), shared read-only by the session's tests."""
    from ector.demo import write_demo

    folder = tmp_path_factory.mktemp("demo")
    write_demo(str(folder / "gold.sqlite"), cases=DEMO_CASES, seed=11)
    return folder / "gold.sqlite"


@pytest.fixture
def gold(demo_gold: Path, tmp_path: Path) -> Path:
    """This test's own copy of the demo Gold layer (so touching it affects no other test)."""
    target = tmp_path / "gold.sqlite"
    shutil.copy(demo_gold, target)
    return target
