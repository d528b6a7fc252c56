"""The transform stage through the runner: inputs from consolidate/, the mart in transform/, manifest facts."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from tests.gold import tiny_gold
from tests.transform.synthetic import synthetic_gold

from ector.chain import TRANSFORM
from ector.errors import ConfigError, InputError, MissingInputError
from ector.runner import run_stage
from ector.settings import AnalysisSettings, Settings
from ector.transform import MART_SCHEMA


def _settings(tmp_path: Path, **analysis: object) -> Settings:
    return Settings(workdir=tmp_path / "work", analysis=AnalysisSettings(**analysis))


def _consolidated(settings: Settings, tables: dict[str, pl.DataFrame]) -> None:
    folder = settings.workdir / "consolidate"
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.write_parquet(folder / f"{name}.parquet")


def _run(settings: Settings, **options: object) -> pl.DataFrame:
    run_stage(TRANSFORM, settings, options)
    return pl.read_parquet(settings.workdir / "transform" / "cases.parquet")


def _manifest(settings: Settings) -> dict[str, object]:
    entry: dict[str, object] = json.loads((settings.workdir / "manifest.json").read_text())["stages"]["transform"]
    return entry


def test_stage_writes_the_sorted_mart_and_records_inputs(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _consolidated(settings, synthetic_gold(1500, seed=2))
    result = _run(settings)
    assert result.schema == MART_SCHEMA
    assert result.height == pl.read_parquet(settings.workdir / "consolidate" / "cases.parquet").height
    assert result["case_id"].to_list() == result.sort("surgery_start", "case_id")["case_id"].to_list()
    entry = _manifest(settings)
    assert entry["absent_tables"] == []
    assert entry["unavailable_outcomes"] == []
    assert entry["outputs"]["transform/cases.parquet"] == {"rows": result.height}
    assert set(entry["outputs"]) == {f"transform/{t}.parquet" for t in ("cases", "risk_models", "risk_calibration")}
    assert entry["risk_models"] == {"mortality_30d": ["supplied", "logistic"], "complication_major": ["logistic"]}
    models = pl.read_parquet(settings.workdir / "transform" / "risk_models.parquet")
    assert set(models.filter(pl.col("term").is_null())["model"]) == {"supplied", "logistic"}
    assert pl.read_parquet(settings.workdir / "transform" / "risk_calibration.parquet").height == 30


def test_absent_tables_are_recorded_and_their_outcomes_null(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    gold = tiny_gold()
    _consolidated(settings, {k: v for k, v in gold.items() if k not in ("complications", "encounters")})
    result = _run(settings)
    entry = _manifest(settings)
    assert entry["absent_tables"] == ["complications", "encounters"]
    assert entry["unavailable_outcomes"] == [
        "complication_count",
        "worst_clavien_dindo",
        "complication_any",
        "complication_major",
        "readmission_30d",
        "expected_complication_major",
    ]
    assert result["readmission_30d"].null_count() == result.height
    assert result["complication_any"].null_count() == result.height


def test_since_until_and_where_select_cases(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _consolidated(settings, tiny_gold())
    result = _run(
        settings, since=date(2024, 1, 10), until=date(2024, 2, 1), where="approach = 'robotic' OR asa_class = 2"
    )
    assert result["case_id"].to_list() == ["C1", "C2"]
    assert _manifest(settings)["selection"] == {"where": True, "since": "2024-01-10", "until": "2024-02-01"}


def test_missing_cases_names_the_command_to_run(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _consolidated(settings, {"patients": tiny_gold()["patients"]})
    with pytest.raises(MissingInputError) as raised:
        _run(settings)
    assert "ector consolidate" in str(raised.value)
    assert not (settings.workdir / "transform" / "cases.parquet").exists()


def test_bad_where_is_refused_before_reading_anything(tmp_path: Path) -> None:
    settings = _settings(tmp_path)  # nothing consolidated: reading anything would fail with MissingInputError
    with pytest.raises(ConfigError, match="not statements"):
        _run(settings, where="1=1; DROP TABLE cases")
    with pytest.raises(ConfigError, match="after --until"):
        _run(settings, since=date(2024, 2, 1), until=date(2024, 1, 1))


def test_consolidated_table_off_contract_is_an_input_error(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    gold = tiny_gold()
    gold["cases"] = gold["cases"].with_columns(pl.col("asa_class").cast(pl.Int64))
    _consolidated(settings, gold)
    with pytest.raises(InputError, match=r"cases\.asa_class is Int64"):
        _run(settings)


def test_zero_cases_give_an_empty_mart(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _consolidated(settings, {name: frame.clear() for name, frame in tiny_gold().items()})
    result = _run(settings)
    assert result.height == 0
    assert result.schema == MART_SCHEMA
