"""Reports built once per session (a report takes seconds) and shared by the tests that only read them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from ector.chain import REPORT
from ector.runner import run_stage
from tests.report.workdirs import KEY, build_workdir, case_mart, settings_for


@pytest.fixture(scope="session")
def _clean_session_environment() -> Iterator[None]:
    """No ECTOR_ variable of the developer's shell in the session-wide reports (the autouse fixture is per test)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("ECTOR_") and name != "ECTOR_TEST_POSTGRES_URI":
                patch.delenv(name)
        yield


def make_report(workdir: Path, out: Path, audience: Literal["internal", "external"], **overrides: Any) -> Path:
    """Run the report stage on `workdir` through the runner, writing under `out`; return `out`."""
    settings = settings_for(workdir, **{"report.audience": audience, **overrides})
    run_stage(REPORT, settings, {"out": out})
    return out


@pytest.fixture(scope="session")
def views_workdir(tmp_path_factory: pytest.TempPathFactory, _clean_session_environment: None) -> Path:
    """A work directory with all three views of the hand-made mart, a consolidation summary and surgeon names."""
    return build_workdir(tmp_path_factory.mktemp("views"))


@pytest.fixture(scope="session")
def internal_report(views_workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The internal report of views_workdir, with one surgeon highlighted."""
    out = tmp_path_factory.mktemp("internal")
    return make_report(views_workdir, out, "internal", **{"report.highlight_surgeons": ["S705"]})


@pytest.fixture(scope="session")
def external_report(views_workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The external report of views_workdir (pseudonym key KEY), S705 highlighted."""
    out = tmp_path_factory.mktemp("external")
    return make_report(
        views_workdir, out, "external", **{"privacy.pseudonym_key": KEY, "report.highlight_surgeons": ["S705"]}
    )


@pytest.fixture(scope="session")
def partial_report(tmp_path_factory: pytest.TempPathFactory, _clean_session_environment: None) -> Path:
    """The internal report of a work directory with the surgeon view only, built without a complications table."""
    without = ("complication_any", "complication_major", "expected_complication_major")
    workdir = build_workdir(
        tmp_path_factory.mktemp("partial"),
        views=("surgeon",),
        mart=case_mart(without=without),
        with_consolidation=False,
    )
    return make_report(workdir, workdir / "report", "internal")
