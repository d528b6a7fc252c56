"""nox sessions: tests, slow, lint, typecheck, demo, bench. CI runs the README's test command."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

SOURCES = ["src", "tests", "benchmarks", "noxfile.py"]


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite without the slow tests (PostgreSQL tests run when ECTOR_TEST_POSTGRES_URI is set)."""
    session.install("-e", ".[dev]")
    session.run("pytest", "-m", "not slow", *session.posargs)


@nox.session
def slow(session: nox.Session) -> None:
    """The slow tests only: property-based runs with many examples, crash and fault injection."""
    session.install("-e", ".[dev]")
    session.run("pytest", "-m", "slow", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def demo(session: nox.Session) -> None:
    """Write a demo Gold layer and run the whole pipeline on it, as the README's quickstart does."""
    session.install("-e", ".")
    workdir = session.create_tmp()
    session.run("ector", "demo", "--out", f"{workdir}/gold.sqlite", "--cases", "20000")
    session.run("ector", "--workdir", f"{workdir}/work", "all", "--source", f"{workdir}/gold.sqlite")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against reference implementations measured in the same run (see docs/performance.md)."""
    session.install("-e", ".[dev,bench]")
    session.run("python", "benchmarks/run.py", *session.posargs)
