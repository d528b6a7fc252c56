"""A live PostgreSQL for integration tests: ECTOR_TEST_POSTGRES_URI names it (.ci/run starts one).

Locally the tests skip, saying why, when no server is reachable; with ECTOR_REQUIRE_POSTGRES=1 (as in CI)
an unreachable server fails them instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def postgres_uri() -> str:
    uri = os.environ.get("ECTOR_TEST_POSTGRES_URI")
    required = os.environ.get("ECTOR_REQUIRE_POSTGRES") == "1"
    if not uri:
        if required:
            pytest.fail("ECTOR_REQUIRE_POSTGRES=1 but ECTOR_TEST_POSTGRES_URI is not set")
        pytest.skip("no PostgreSQL: set ECTOR_TEST_POSTGRES_URI (e.g. from .ci/pg-start) to run these tests")
    import psycopg

    try:
        psycopg.connect(uri, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        if required:
            pytest.fail(f"PostgreSQL at ECTOR_TEST_POSTGRES_URI is not reachable: {exc}")
        pytest.skip(f"PostgreSQL at ECTOR_TEST_POSTGRES_URI is not reachable: {exc}")
    return uri


@pytest.fixture
def postgres_schema(postgres_uri: str) -> Iterator[str]:
    """A fresh schema for one test, dropped afterwards."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_uri, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    yield schema
    with psycopg.connect(postgres_uri, autocommit=True) as db:
        db.execute(f"DROP SCHEMA {schema} CASCADE")
