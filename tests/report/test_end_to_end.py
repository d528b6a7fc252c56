"""demo -> ingest -> consolidate -> transform -> workflows -> report, every stage through the runner.

The external report of a demo run must show no surgeon id or name and no count from 1 to k-1 in any table or
chart label (issue #7, "Done when").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ector.chain import REPORT, chain_slice
from ector.demo import write_demo
from ector.runner import run_stage
from ector.settings import load_settings
from tests.report.scan import chart_labels, report_texts, small_counts, table_cells, without_data_uris

DEMO_CASES = 5_000
KEY = "end-to-end-pseudonym-key-0042"


@pytest.fixture(scope="module")
def demo_workdir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Run the demo and every stage up to the workflows; return the work directory and the planted truth."""
    root = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in __import__("os").environ if n.startswith("ECTOR_")]:
            patch.delenv(name)
        demo = write_demo(f"{root / 'gold'}/", cases=DEMO_CASES, seed=7)
        settings = load_settings(overrides={"workdir": str(root / "work"), "source.uri": demo.source_uri})
        for stage in chain_slice(None, "workflow"):
            run_stage(stage, settings)
    return root / "work", demo.truth


def _report(workdir: Path, audience: str, **overrides: Any) -> Path:
    settings = load_settings(overrides={"workdir": str(workdir), "report.audience": audience, **overrides})
    out = workdir / f"report-{audience}"
    run_stage(REPORT, settings, {"out": out})
    return out


def test_external_report_of_a_demo_run_shows_no_surgeon_and_no_small_count(
    demo_workdir: tuple[Path, dict[str, Any]],
) -> None:
    workdir, _ = demo_workdir
    surgeons = pl.read_parquet(workdir / "consolidate" / "surgeons.parquet")
    identifiers = [*surgeons["surgeon_id"].to_list(), *surgeons["surgeon_name"].drop_nulls().to_list()]

    report = _report(workdir, "external", **{"privacy.pseudonym_key": KEY})
    texts = report_texts(report)

    for name, text in texts.items():
        plain = without_data_uris(text)
        leaks = [i for i in identifiers if re.search(rf"(?<![A-Za-z0-9]){re.escape(i)}(?![A-Za-z0-9])", plain)]
        assert leaks == [], name
    cells = [c for name, text in texts.items() if name.endswith(".html") for c in table_cells(text)]
    labels = [label for name, text in texts.items() if name.endswith(".svg") for label in chart_labels(text)]
    assert small_counts(cells, 11) == []
    assert small_counts(labels, 11) == []


def test_internal_report_of_a_demo_run_names_the_planted_surgeons(demo_workdir: tuple[Path, dict[str, Any]]) -> None:
    workdir, truth = demo_workdir

    report = _report(workdir, "internal")
    surgeons = (report / "tables" / "surgeons.html").read_text(encoding="utf-8")
    page = (report / "index.html").read_text(encoding="utf-8")

    assert all(s in surgeons for s in truth["planted"]["high_complication_surgeons"])
    assert "Rows through each stage" in page and "not available" not in page.split('id="data-quality"')[1][:200]
