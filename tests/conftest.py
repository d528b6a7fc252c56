"""Shared fixtures: a stable console, a CLI runner that goes through `ector.cli.main`, tiny Gold layers."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ector.console import out

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _stable_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No ECTOR_ setting from the developer's shell, no ector.yaml from the cwd, a wide plain console.

    The test harness's own variables stay: ECTOR_TEST_* (e.g. the PostgreSQL URI) and ECTOR_REQUIRE_* (CI's
    "fail, do not skip" flags, read by fixtures that run after this one).
    """
    for name in list(os.environ):
        if name.startswith("ECTOR_") and not name.startswith(("ECTOR_TEST_", "ECTOR_REQUIRE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.chdir(tmp_path)
    saved = (out.log_format, out.min_level, out.debug)
    out._console = None
    yield
    out.log_format, out.min_level, out.debug = saved
    out._console = None


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run `ector ARGS...` in-process through the real entry point; return exit code, stdout, stderr."""
    from ector.cli import main

    def run(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["ector", *args])
        out._console = None
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
