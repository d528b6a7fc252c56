"""A small dirty demo Gold layer, written once per session, for the hostile-input, secret and privacy tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gold import demo_sqlite, own_copy

DEMO_CASES = 600


@pytest.fixture(scope="session")
def demo_gold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite demo Gold layer (seed 5), shared read-only by the session's tests."""
    return demo_sqlite(tmp_path_factory.mktemp("security-demo"), DEMO_CASES, seed=5)


@pytest.fixture
def gold(demo_gold: Path, tmp_path: Path) -> Path:
    """This test's own copy of the demo Gold layer."""
    return own_copy(demo_gold, tmp_path)
