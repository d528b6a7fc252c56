"""Alerts for cron: `ector all --fail-on-signal` exits 4 on a signal its views' previous runs did not have."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import polars as pl

TO_WORKFLOWS = ("--to", "workflow")


def _worsen(gold: Path, surgeon: str, cases: int) -> None:
    """Give the surgeon's last `cases` operations a major complication (Clavien-Dindo IIIb) each."""
    with sqlite3.connect(gold) as db:
        last = db.execute(
            "SELECT case_id, substr(surgery_start, 1, 10) FROM cases WHERE surgeon_id = ?"
            " ORDER BY surgery_start DESC LIMIT ?",
            (surgeon, cases),
        ).fetchall()
        db.executemany(
            "INSERT INTO complications VALUES (?, ?, 'bleeding', 'IIIb', ?, ?)",
            [(f"CXBAD{i:03d}", case, day, f"{day} 12:00:00") for i, (case, day) in enumerate(last)],
        )


def _clean_busy_surgeon(gold: Path, demo: Path) -> str:
    """The surgeon with most cases among those the demo (`demo`, with its truth file) planted nothing on."""
    truth = json.loads(Path(f"{demo}.truth.json").read_text())
    planted = set(truth["planted"]["high_complication_surgeons"]) | set(truth["planted"]["learning_curve_surgeons"])
    with sqlite3.connect(gold) as db:
        counts = db.execute("SELECT surgeon_id, count(*) FROM cases GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    return next(surgeon for surgeon, _ in counts if surgeon not in planted)


def test_new_bad_outcomes_exit_4_naming_the_surgeon_once_and_a_rerun_exits_0(
    cli, gold: Path, demo_gold: Path, tmp_path: Path
) -> None:
    first = cli("all", "--source", str(gold), *TO_WORKFLOWS)
    assert first.exit_code == 0, first.output  # without --fail-on-signal, signals never change the exit code
    again = cli("all", "--source", str(gold), *TO_WORKFLOWS, "--fail-on-signal")
    assert again.exit_code == 0, again.output  # nothing ran, nothing new

    surgeon = _clean_busy_surgeon(gold, demo_gold)
    _worsen(gold, surgeon, 15)
    worse = cli("all", "--source", str(gold), *TO_WORKFLOWS, "--fail-on-signal")

    assert worse.exit_code == 4, worse.output
    error = [line for line in worse.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and error[0].count(f"surgeon {surgeon} complication_major") == 1
    signals = pl.read_parquet(tmp_path / "ector-work" / "workflow" / "surgeon" / "signals.parquet")
    new = signals.filter(pl.col("first_seen_run") == 2)
    assert new.filter(unit_id=surgeon, outcome="complication_major", chart="cusum_upper").height >= 1
    # What the first run signalled and the second still has keeps the run it was first seen in.
    assert (
        signals.filter(pl.col("unit_id") != surgeon)["first_seen_run"].to_list()
        == [1] * signals.filter(pl.col("unit_id") != surgeon).height
    )

    settled = cli("all", "--source", str(gold), *TO_WORKFLOWS, "--fail-on-signal")
    assert settled.exit_code == 0, settled.output


def test_fail_on_signal_from_settings_and_one_json_event_per_new_signal(cli, gold: Path, tmp_path: Path) -> None:
    (tmp_path / "ector.yaml").write_text("alerts: {fail_on_signal: true}\nanalysis: {cusum: {h: 1.5}}\n")

    result = cli("--log-format", "json", "all", "--source", str(gold), *TO_WORKFLOWS)

    # h = 1.5 is low: on a first run every signal is new, and there are some.
    assert result.exit_code == 4, result.output
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    events = [r for r in records if r["event"] == "new signal"]
    work = tmp_path / "ector-work" / "workflow"
    written = sum(pl.read_parquet(work / view / "signals.parquet").height for view in ("surgeon", "site"))
    assert len(events) == written > 0
    assert {e["stage"] for e in events} <= {"workflow/surgeon", "workflow/site"}
    assert {"unit_id", "outcome", "chart", "direction", "signal_level", "statistic", "limit"} <= set(events[0])
    assert {e["chart"] for e in events} <= {"cusum_upper", "cusum_lower", "funnel"}

    assert cli("all", "--source", str(gold), *TO_WORKFLOWS, "--no-fail-on-signal").exit_code == 0
