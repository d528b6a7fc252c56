"""Settings: precedence, every error path, secrets masked, and the template."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ector.errors import ConfigError, redact
from ector.settings import Settings, load_settings
from ector.template import settings_template


def test_defaults_match_the_documented_values() -> None:
    settings = load_settings()
    assert settings.workdir == Path("ector-work")
    assert settings.engine == "auto"
    assert settings.consolidation.max_quarantine_fraction == 0.05
    assert settings.analysis.outcome_window_days == 30
    assert settings.analysis.risk_strata == ["procedure_family", "asa_class", "age_band", "urgency"]
    assert settings.analysis.funnel_limits == [0.95, 0.998]
    assert settings.report.min_cell_size == 11


def test_flags_beat_environment_beat_file_beat_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ector.yaml"
    config.write_text("analysis: {period: month, min_cases: 20, outcome_window_days: 90}\nworkdir: from-file\n")
    monkeypatch.setenv("ECTOR_ANALYSIS__MIN_CASES", "30")
    monkeypatch.setenv("ECTOR_WORKDIR", "from-env")

    settings = load_settings(config, {"workdir": Path("from-flag")})

    assert settings.workdir == Path("from-flag")  # flag over environment
    assert settings.analysis.min_cases == 30  # environment over file
    assert settings.analysis.period == "month"  # file over default
    assert settings.analysis.outcome_window_days == 90
    assert settings.analysis.overdispersion is False  # default


def test_config_file_is_found_in_documented_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "configuration.yaml").write_text("engine: streaming\n")
    assert load_settings().engine == "streaming"
    (tmp_path / "ector.yaml").write_text("engine: in-memory\n")
    assert load_settings().engine == "in-memory"
    (tmp_path / "other.yaml").write_text("engine: gpu\n")
    monkeypatch.setenv("ECTOR_CONFIG", str(tmp_path / "other.yaml"))
    assert load_settings().engine == "gpu"


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("analysis: {perod: month}\n", "unknown setting 'analysis.perod'"),
        ("colour: blue\n", "unknown setting 'colour'"),
        ("analysis: {period: fortnight}\n", "invalid setting 'analysis.period'"),
        ("analysis: {min_cases: -1}\n", "invalid setting 'analysis.min_cases'"),
        (
            "consolidation: {max_quarantine_fraction: 2}\n",
            "invalid setting 'consolidation.max_quarantine_fraction'",
        ),
        ("source: {tables: {operations: {name: ops}}}\n", "unknown table 'operations'"),
        ("source: {tables: {cases: {name: 'cases; DROP TABLE x'}}}\n", "must be a plain SQL identifier"),
        ("source: {schema: 'gold\"; --'}\n", "must be a plain SQL identifier"),
        ("analysis: [1, 2]\n", "invalid setting 'analysis'"),
        ("- just\n- a list\n", "must hold a mapping of settings"),
        ("analysis: {period: [\n", "is not valid YAML at line"),
        ("consolidation: {date_order: {cases: {admission_date: us}}}\n", "consolidation.date_order.cases"),
        ("consolidation: {date_order: {operations: {admission_date: day_first}}}\n", "unknown table 'operations'"),
        ("consolidation: {date_order: {cases: {asa_class: day_first}}}\n", "'asa_class' is not a date"),
        ("consolidation: {date_order: {cases: {admitted: day_first}}}\n", "'admitted' is not a date"),
    ],
)
def test_bad_config_file_is_a_config_error_naming_the_key(tmp_path: Path, yaml_text: str, message: str) -> None:
    config = tmp_path / "ector.yaml"
    config.write_text(yaml_text)
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert message in str(raised.value)
    assert raised.value.exit_code == 2


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope\.yaml not found"):
        load_settings(tmp_path / "nope.yaml")


def test_bad_environment_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECTOR_ANALYSIS__MIN_CASES", "many")
    with pytest.raises(ConfigError, match=r"invalid setting .analysis\.min_cases."):
        load_settings()


def test_invalid_password_value_is_never_echoed(tmp_path: Path) -> None:
    config = tmp_path / "ector.yaml"
    config.write_text("source: {password: {nested: Zq9-topsecret}}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert "Zq9-topsecret" not in str(raised.value)
    assert "source.password" in str(raised.value)


def test_secrets_are_masked_in_the_effective_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECTOR_SOURCE__PASSWORD", "env-Pw-771")
    monkeypatch.setenv("ECTOR_PRIVACY__PSEUDONYM_KEY", "key-Kx-55")
    settings = load_settings(overrides={"source.uri": "postgresql://ector:uri-Pw-882@db/gold"})

    shown = yaml.safe_dump(settings.masked())

    for secret in ("env-Pw-771", "key-Kx-55", "uri-Pw-882"):
        assert secret not in shown
        assert secret not in redact(f"failed with {secret} inside")
    assert "postgresql://ector:***@db/gold" in shown


def test_fingerprint_changes_with_the_section_it_covers() -> None:
    base = load_settings()
    changed = load_settings(overrides={"analysis.min_cases": 25})
    assert base.fingerprint("analysis") != changed.fingerprint("analysis")
    assert base.fingerprint("source") == changed.fingerprint("source")


def test_template_is_valid_and_loads_to_the_defaults(tmp_path: Path) -> None:
    config = tmp_path / "ector.yaml"
    config.write_text(settings_template())
    loaded = load_settings(config)
    assert loaded.model_dump() == Settings().model_dump()


def test_template_documents_every_setting() -> None:
    text = settings_template()
    for section, model in Settings.model_fields.items():
        assert f"{section}:" in text
        annotation = model.annotation
        for key in getattr(annotation, "model_fields", {}):
            alias = annotation.model_fields[key].alias or key  # type: ignore[union-attr]  # checked just above
            assert f"{alias}:" in text, alias
