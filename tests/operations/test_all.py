"""`ector all`: the chain, freshness and its reasons, --from/--to, --force, and agreement with single commands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

TO_WORKFLOWS = ("--to", "workflow")


def _manifest(workdir: Path) -> dict:  # type: ignore[type-arg]  # JSON
    return json.loads((workdir / "manifest.json").read_text())


def test_all_runs_every_stage_then_skips_an_unchanged_rerun(cli, gold: Path, tmp_path: Path) -> None:
    first = cli("all", "--source", str(gold), *TO_WORKFLOWS)
    assert first.exit_code == 0, first.output
    finished = {name: entry["finished"] for name, entry in _manifest(tmp_path / "ector-work")["stages"].items()}
    assert set(finished) == {
        "ingest",
        "consolidate",
        "transform",
        "workflow/patient",
        "workflow/surgeon",
        "workflow/site",
    }

    second = cli("all", "--source", str(gold), *TO_WORKFLOWS)

    assert second.exit_code == 0, second.output
    assert second.stderr.count("fresh: inputs and settings unchanged, skipped") == 6
    again = {name: entry["finished"] for name, entry in _manifest(tmp_path / "ector-work")["stages"].items()}
    assert again == finished


def test_changed_settings_rerun_the_stages_that_depend_on_them(cli, gold: Path, tmp_path: Path) -> None:
    assert cli("all", "--source", str(gold), *TO_WORKFLOWS).exit_code == 0
    (tmp_path / "ector.yaml").write_text("analysis: {period: month}\n")

    result = cli("--verbose", "all", "--source", str(gold), *TO_WORKFLOWS)

    assert result.exit_code == 0, result.output
    assert "ingest: fresh" in result.stderr
    assert "consolidate: fresh" in result.stderr
    assert "transform: stale: settings changed" in result.stderr
    assert "workflow/surgeon: stale: settings changed" in result.stderr


def test_changed_source_reruns_everything_downstream(cli, gold: Path) -> None:
    assert cli("all", "--source", str(gold), *TO_WORKFLOWS).exit_code == 0
    os.utime(gold, ns=(1_000_000_000, 1_000_000_000))

    result = cli("--verbose", "all", "--source", str(gold), *TO_WORKFLOWS)

    assert result.exit_code == 0, result.output
    assert "ingest: stale: input changed" in result.stderr
    assert "consolidate: stale: input changed: ingest/" in result.stderr
    assert "fresh: inputs and settings unchanged" not in result.stderr


def test_force_reruns_fresh_stages(cli, gold: Path) -> None:
    assert cli("all", "--source", str(gold), *TO_WORKFLOWS).exit_code == 0
    result = cli("all", "--source", str(gold), "--force", *TO_WORKFLOWS)
    assert result.exit_code == 0
    assert "skipped" not in result.stderr


def test_from_and_to_slice_the_chain(cli, gold: Path, tmp_path: Path) -> None:
    assert cli("all", "--source", str(gold), "--to", "transform").exit_code == 0
    assert set(_manifest(tmp_path / "ector-work")["stages"]) == {"ingest", "consolidate", "transform"}

    result = cli("all", "--from", "workflow", "--to", "workflow")

    assert result.exit_code == 0, result.output
    assert set(_manifest(tmp_path / "ector-work")["stages"]) == {
        "ingest",
        "consolidate",
        "transform",
        "workflow/patient",
        "workflow/surgeon",
        "workflow/site",
    }


def test_unknown_or_reversed_stage_names_are_usage_errors(cli) -> None:
    unknown = cli("all", "--from", "cleaning")
    assert unknown.exit_code == 2
    assert "unknown stage 'cleaning'" in unknown.stderr
    reversed_ = cli("all", "--from", "report", "--to", "ingest")
    assert reversed_.exit_code == 2


def test_all_gives_the_same_outputs_as_the_single_commands(cli, gold: Path, tmp_path: Path) -> None:
    assert cli("-w", "chain", "all", "--source", str(gold), *TO_WORKFLOWS).exit_code == 0
    for command in (
        ["ingest", "--source", str(gold)],
        ["consolidate"],
        ["transform"],
        ["workflow", "patient"],
        ["workflow", "surgeon"],
        ["workflow", "site"],
    ):
        result = cli("-w", "single", *command)
        assert result.exit_code == 0, (command, result.output)

    chain_files = sorted(p.relative_to(tmp_path / "chain") for p in (tmp_path / "chain").rglob("*.parquet"))
    single_files = sorted(p.relative_to(tmp_path / "single") for p in (tmp_path / "single").rglob("*.parquet"))
    assert chain_files == single_files
    assert len(chain_files) > 20
    for relative in chain_files:
        assert_frame_equal(
            pl.read_parquet(tmp_path / "chain" / relative), pl.read_parquet(tmp_path / "single" / relative)
        )
    # The views ran in one body in `all`, as separate commands here: the manifest says the same of each.
    chain, single = _manifest(tmp_path / "chain")["stages"], _manifest(tmp_path / "single")["stages"]
    for view in ("workflow/patient", "workflow/surgeon", "workflow/site"):
        for key in ("rows_in", "outputs", "settings_hash", "not_available"):
            assert chain[view][key] == single[view][key], (view, key)
        assert chain[view]["inputs"].keys() == single[view]["inputs"].keys()  # same files (other mtimes)


def test_all_reruns_only_the_stale_views_of_the_shared_pass(cli, gold: Path, tmp_path: Path) -> None:
    assert cli("all", "--source", str(gold), *TO_WORKFLOWS).exit_code == 0
    work = tmp_path / "ector-work"
    before = {name: entry["finished"] for name, entry in _manifest(work)["stages"].items()}
    expected = pl.read_parquet(work / "workflow/site/volume_trend.parquet")
    (work / "workflow/site/volume_trend.parquet").unlink()

    result = cli("--verbose", "all", "--source", str(gold), *TO_WORKFLOWS)

    assert result.exit_code == 0, result.output
    assert "workflow/patient: fresh" in result.stderr
    assert "workflow/surgeon: fresh" in result.stderr
    assert "workflow/site: stale: output missing" in result.stderr
    after = {name: entry["finished"] for name, entry in _manifest(work)["stages"].items()}
    assert {name for name in after if after[name] != before[name]} <= {"workflow/site"}
    assert_frame_equal(pl.read_parquet(work / "workflow/site/volume_trend.parquet"), expected)
    status = cli("status")
    assert status.exit_code == 0
    for view in ("workflow/patient", "workflow/surgeon", "workflow/site"):
        assert any(view in line and "fresh" in line for line in status.stdout.splitlines()), status.stdout


def test_single_command_skips_when_fresh_and_names_missing_inputs(cli, gold: Path) -> None:
    missing = cli("transform")
    assert missing.exit_code == 1
    assert "run `ector consolidate` first" in missing.stderr
    assert cli("ingest", "--source", str(gold)).exit_code == 0
    assert cli("consolidate").exit_code == 0
    again = cli("consolidate")
    assert again.exit_code == 0
    assert "consolidate: fresh" in again.stderr


def test_status_says_never_run_then_fresh_then_why_stale(cli, gold: Path, tmp_path: Path) -> None:
    before = cli("status")
    assert before.exit_code == 0
    assert before.stdout.count("never run") == 7

    assert cli("all", "--source", str(gold), *TO_WORKFLOWS).exit_code == 0
    (tmp_path / "ector.yaml").write_text("consolidation: {max_quarantine_fraction: 0.2}\n")
    after = cli("status", "--source", str(gold))

    lines = {line.split("│")[1].strip(): line for line in after.stdout.splitlines() if line.count("│") > 3}
    assert "fresh" in lines["ingest"]
    assert "stale: settings changed" in lines["consolidate"]
    assert "fresh" in lines["workflow/site"]
    assert "never run" in lines["report"]
    assert "2,0" in lines["transform"] or "1,9" in lines["transform"]  # rows in: about the demo's 2,000 cases


def test_json_log_lines_parse_with_the_documented_fields(cli, gold: Path) -> None:
    result = cli("--log-format", "json", "all", "--source", str(gold), *TO_WORKFLOWS)
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stderr.splitlines()]
    done = [r for r in records if r["event"] == "done"]
    assert [r["stage"] for r in done] == [
        "ingest",
        "consolidate",
        "transform",
        "workflow/patient",
        "workflow/surgeon",
        "workflow/site",
    ]
    for record in done:
        assert {"time", "level", "stage", "event", "rows", "seconds"} <= set(record)
        assert record["rows"] > 0


def test_status_without_a_source_judges_ingest_against_the_source_it_last_read(cli, gold: Path) -> None:
    assert cli("all", "--source", str(gold), *TO_WORKFLOWS).exit_code == 0

    status = cli("status")

    lines = {line.split("│")[1].strip(): line for line in status.stdout.splitlines() if line.count("│") > 3}
    assert "fresh" in lines["ingest"] and "stale" not in lines["ingest"]
    assert "fresh" in lines["workflow/site"]


def test_a_source_holding_a_secret_is_not_recorded_for_status(cli, gold: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ECTOR_SOURCE__PASSWORD", "Heron-77-secret")
    assert cli("all", "--source", str(gold), *TO_WORKFLOWS).exit_code == 0

    manifest = (tmp_path / "ector-work" / "manifest.json").read_text()
    assert "source_uri" not in manifest and "Heron-77-secret" not in manifest
