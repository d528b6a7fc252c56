"""A real browser opens the report from disk: no console message, and a screenshot that is not blank.

Debian's chromium, headless. Skipped with the reason when /usr/bin/chromium is absent, unless
ECTOR_REQUIRE_BROWSER=1 (CI sets it), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def chromium() -> Path:
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    reason = f"{CHROMIUM} not found: `apt-get install -y chromium` to run the browser test"
    if os.environ.get("ECTOR_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " (ECTOR_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


def _run_chromium(chromium: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(chromium),
        "--headless",
        "--no-sandbox",  # as root (CI containers) chromium refuses to start without it
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def _console_messages(stderr: str) -> list[str]:
    # Chromium logs every console message and uncaught error of the page as `...:CONSOLE(n)] "text", source: ...`.
    return [line for line in stderr.splitlines() if re.search(r"CONSOLE[:(]|Uncaught", line)]


@pytest.mark.parametrize("report", ["internal_report", "external_report"])
def test_report_opens_in_a_browser_without_console_messages_and_is_not_blank(
    report: str, request: pytest.FixtureRequest, chromium: Path, tmp_path: Path
) -> None:
    folder: Path = request.getfixturevalue(report)
    # The page alone, away from figures/ and tables/: it must not need them.
    page = tmp_path / "alone" / "index.html"
    page.parent.mkdir()
    shutil.copy(folder / "index.html", page)
    screenshot = tmp_path / "screenshot.png"

    shot = _run_chromium(
        chromium, tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1280,2000", page.as_uri()
    )
    dom = _run_chromium(chromium, tmp_path / "profile-dom", "--dump-dom", page.as_uri())

    assert shot.returncode == 0, shot.stderr[-2000:]
    assert _console_messages(shot.stderr) == []
    assert _console_messages(dom.stderr) == []
    assert 'id="surgeons"' in dom.stdout and "<figure" in dom.stdout
    assert 'id="case-mix-models"' in dom.stdout and "Calibration plot of" in dom.stdout
    pixels = np.asarray(Image.open(screenshot).convert("RGB"))
    assert pixels.shape[:2] == (2000, 1280)
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 50  # text, tables and charts; a blank page has one or two
    assert (pixels < 128).mean() > 0.005  # some dark ink on the page


def test_console_messages_of_a_broken_page_are_caught(chromium: Path, tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>")

    result = _run_chromium(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())

    assert any("undefinedFunction" in line for line in _console_messages(result.stderr))
