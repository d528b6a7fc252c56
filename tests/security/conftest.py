"""A small dirty demo Gold layer, written once per session, for the hostile-input, secret and privacy tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DEMO_CASES = 600


@pytest.fixture(scope="session")
def demo_gold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite demo Gold layer (seed 5), shared read-only by the session's tests."""
    from ector.demo import write_demo

    folder = tmp_path_factory.mktemp("security-demo")
    write_demo(str(folder / "gold.sqlite"), cases=DEMO_CASES, seed=5)
    return folder / "gold.sqlite"


@pytest.fixture
def gold(demo_gold: Path, tmp_path: Path) -> Path:
    """This test's own copy of the demo Gold layer."""
    target = tmp_path / "gold.sqlite"
    shutil.copy(demo_gold, target)
    return target
