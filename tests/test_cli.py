"""The CLI frame: global options, config, init, help, error display and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml


def test_config_prints_effective_settings_as_yaml_with_secrets_masked(cli, monkeypatch) -> None:
    monkeypatch.setenv("ECTOR_SOURCE__PASSWORD", "Hx-99-pass")
    result = cli("--workdir", "elsewhere", "config")
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["workdir"] == "elsewhere"
    assert shown["source"]["password"] == "**********"
    assert "Hx-99-pass" not in result.output


def test_unknown_key_exits_2_with_one_line(cli, tmp_path: Path) -> None:
    (tmp_path / "ector.yaml").write_text("analysis: {perod: month}\n")
    result = cli("config")
    assert result.exit_code == 2
    assert "unknown setting 'analysis.perod'" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_missing_config_flag_file_exits_2(cli) -> None:
    result = cli("--config", "missing.yaml", "config")
    assert result.exit_code == 2
    assert "config file missing.yaml not found" in result.stderr


def test_bad_flag_is_a_usage_error(cli) -> None:
    assert cli("--log-format", "xml", "config").exit_code == 2
    assert cli("ingest", "--no-such-flag").exit_code == 2


def test_init_writes_a_template_and_refuses_to_overwrite(cli, tmp_path: Path) -> None:
    assert cli("init").exit_code == 0
    text = (tmp_path / "ector.yaml").read_text()
    assert "max_quarantine_fraction: 0.05" in text
    again = cli("init")
    assert again.exit_code == 2
    assert "already exists" in again.stderr
    assert cli("init", "--force").exit_code == 0


def test_json_log_format_writes_one_object_per_line(cli, tmp_path: Path) -> None:
    result = cli("--log-format", "json", "ingest", "--source", "sqlite:///missing.sqlite")
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert records[-1]["level"] == "error"
    assert "no such file" in records[-1]["event"]


def test_quiet_prints_errors_only(cli, tmp_path: Path) -> None:
    assert cli("--quiet", "init").stderr == ""
    assert "already exists" in cli("--quiet", "init").stderr


def test_debug_shows_a_traceback_with_secrets_masked(cli) -> None:
    result = cli("--debug", "ingest", "--source", "postgresql://u:Tb-secret-4@127.0.0.1:9/db")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "Tb-secret-4" not in result.stderr


def test_every_command_has_help_with_an_example() -> None:
    from typer.main import get_command

    from ector.cli import app

    group = get_command(app)
    commands = group.commands  # type: ignore[attr-defined]  # a Typer app with commands is a click Group
    assert {"config", "init", "ingest", "demo"} <= set(commands)
    for name, command in commands.items():
        assert command.help and "Example:" in command.help, name


def test_python_dash_m_and_version() -> None:
    result = subprocess.run([sys.executable, "-m", "ector", "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith("ector ")


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from ector.cli import app; "
        "print(sorted(m for m in ('polars', 'connectorx', 'plotnine') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_configuration_reference_in_docs_is_current() -> None:
    from ector.template import refresh_reference

    document = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert refresh_reference(document) == document, "docs are stale: run `python -m ector.template`"


def test_code_map_reference_in_docs_is_current() -> None:
    from ector.consolidate.reference import refresh

    document = (Path(__file__).parents[1] / "docs" / "consolidation.md").read_text(encoding="utf-8")
    assert refresh(document) == document, "docs are stale: run `python -m ector.consolidate.reference`"


def _one_usage_line(result, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert "Traceback" not in result.output and "unexpected error" not in result.output


def test_a_mistyped_environment_variable_stops_with_exit_2_naming_it(cli, monkeypatch) -> None:
    monkeypatch.setenv("ECTOR_ANALYSYS__PERIOD", "month")
    _one_usage_line(cli("config"), "unknown setting from the environment: ECTOR_ANALYSYS__PERIOD")
    monkeypatch.delenv("ECTOR_ANALYSYS__PERIOD")
    monkeypatch.setenv("ECTOR_ANALYSIS__PERIOD__MONTH", "1")  # a scalar setting has no keys below it
    _one_usage_line(cli("config"), "ECTOR_ANALYSIS__PERIOD__MONTH")


def test_environment_variables_that_name_settings_or_the_harness_are_accepted(cli, monkeypatch) -> None:
    monkeypatch.setenv("ECTOR_ANALYSIS__PERIOD", "month")
    monkeypatch.setenv("ECTOR_SOURCE__TABLES__CASES__NAME", "operations")  # inside a mapping of the user's
    monkeypatch.setenv("ECTOR_REQUIRE_SOMETHING", "1")  # the test harness's own
    result = cli("config")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["analysis"]["period"] == "month"


def test_a_config_file_that_is_not_utf8_is_a_usage_error_naming_it(cli, tmp_path: Path) -> None:
    (tmp_path / "ector.yaml").write_bytes("analysis:\n  title: \xe9t\xe9\n".encode("latin-1"))
    _one_usage_line(cli("config"), "config file ector.yaml is not UTF-8 text")


def test_demo_refuses_a_negative_seed_and_an_unwritable_target_with_exit_2(cli, tmp_path: Path) -> None:
    _one_usage_line(cli("demo", "--seed", "-1", "--out", str(tmp_path / "g.sqlite"), "--cases", "100"), "--seed")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    _one_usage_line(cli("demo", "--out", str(blocked / "g.sqlite"), "--cases", "100"), "cannot write there")


def test_a_where_of_hundreds_of_ors_is_a_usage_error(cli, tmp_path: Path) -> None:
    many = " OR ".join(["asa_class = 1"] * 500)
    _one_usage_line(cli("transform", "--where", many), "--where is nested too deeply")


def test_a_work_directory_that_is_a_file_is_named_as_such(cli, tmp_path: Path) -> None:
    (tmp_path / "ector-work").write_text("not a folder")
    for command in (["status"], ["consolidate"]):
        _one_usage_line(cli(*command), "ector-work is a file, not a folder")
    assert (tmp_path / "ector-work").read_text() == "not a folder"


def test_a_list_or_mapping_setting_from_the_environment_that_is_not_json_is_named(cli, monkeypatch) -> None:
    # Found by tests/security/test_fuzz.py: pydantic-settings' own error named only the section ("source").
    monkeypatch.setenv("ECTOR_SOURCE__TABLES", " ")
    _one_usage_line(cli("config"), "ECTOR_SOURCE__TABLES is not valid JSON")
    monkeypatch.delenv("ECTOR_SOURCE__TABLES")
    monkeypatch.setenv("ECTOR_ANALYSIS__FUNNEL_LIMITS", "0.95, 0.998")
    _one_usage_line(cli("status"), "ECTOR_ANALYSIS__FUNNEL_LIMITS is not valid JSON")
    monkeypatch.setenv("ECTOR_ANALYSIS__FUNNEL_LIMITS", "[0.9, 0.99]")  # as JSON it is read
    result = cli("config")
    assert result.exit_code == 0 and yaml.safe_load(result.stdout)["analysis"]["funnel_limits"] == [0.9, 0.99]
