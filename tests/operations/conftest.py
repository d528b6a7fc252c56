"""A small dirty demo Gold layer, written once per session, for tests that run the whole chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gold import demo_sqlite, own_copy

DEMO_CASES = 2000


@pytest.fixture(scope="session")
def demo_gold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite demo Gold layer of 2,000 cases (seed 11), shared read-only by the session's tests."""
    return demo_sqlite(tmp_path_factory.mktemp("demo"), DEMO_CASES, seed=11)


@pytest.fixture
def gold(demo_gold: Path, tmp_path: Path) -> Path:
    """This test's own copy of the demo Gold layer (so touching it affects no other test)."""
    return own_copy(demo_gold, tmp_path)
