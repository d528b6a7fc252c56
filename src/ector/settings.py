"""Ector's settings: command-line flags > ECTOR_ environment (`__` nests) > YAML file > defaults.

Every key of docs/configuration.md is a field here, so a typo in a YAML file or an environment variable is an
error that names the key, never a silently ignored value. Secrets are `SecretStr`: they print as ********.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import typing
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import quote, unquote, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from ector.contract import TABLE_NAMES, TABLES
from ector.errors import KEY_VALUE_SECRET, ConfigError, redact, register_secret

PATIENT_KEY_VARIABLE: Final = "ECTOR_PRIVACY__PATIENT_ID_KEY"
MIN_PATIENT_KEY_LENGTH: Final = 16  # a short key could be found by trying keys against known patient ids

# Where settings are looked for when neither --config nor $ECTOR_CONFIG names a file.
DEFAULT_CONFIG_FILES = (Path("ector.yaml"), Path("config/configuration.yaml"))

# A SQL identifier as settings may name it: a plain name, optionally schema-qualified. Anything else
# (quotes, semicolons, spaces) is refused before it can reach a query.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")

Engine = Literal["auto", "streaming", "in-memory", "gpu"]
Period = Literal["month", "quarter", "year"]
Audience = Literal["internal", "external"]
FunnelMethod = Literal["exact", "approximate"]
DateOrder = Literal["day_first", "month_first"]
RiskModel = Literal["logistic", "strata"]
# What a risk model may not adjust for: the units compared (surgeon, site, and what names them) and the approach,
# a choice of the surgeon's; and what identifies a case or a patient.
REFUSED_RISK_FACTORS: Final = ("surgeon_id", "site_id", "site_name", "approach", "case_id", "patient_id")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, validate_default=True)


def _check_identifier(value: str, what: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{what} must be a plain SQL identifier (letters, digits, _), got {value!r}")
    return value


class TableSource(_Section):
    """Where one canonical table lives in the source, and how its columns are named there."""

    name: str | None = Field(None, description="source table name (default: the canonical name)")
    columns: dict[str, str] = Field(
        default_factory=dict, description="canonical column -> source column, for columns named otherwise"
    )

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, value: str | None) -> str | None:
        return None if value is None else _check_identifier(value, "table name")

    @field_validator("columns")
    @classmethod
    def _columns_are_identifiers(cls, value: dict[str, str]) -> dict[str, str]:
        for source_name in value.values():
            _check_identifier(source_name, "column name")
        return value


class SourceSettings(_Section):
    uri: str | None = Field(
        None,
        description="connectorx URI (sqlite://, postgresql://, mysql://, mssql://...) or a Parquet folder",
    )
    password: SecretStr | None = Field(None, description="database password; prefer ECTOR_SOURCE__PASSWORD")
    schema_: str | None = Field(None, alias="schema", description="database schema holding the Gold tables")
    partition_num: int = Field(1, ge=1, le=64, description="parallel reads per table (connectorx partitioning)")
    tables: dict[str, TableSource] = Field(
        default_factory=dict, description="canonical table -> source table name and column names"
    )

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, populate_by_name=True)

    @field_validator("uri")
    @classmethod
    def _uri_parses(cls, value: str | None) -> str | None:
        # The message never quotes the value: it may hold a password.
        if value is None or "://" not in value:
            return value
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
        except ValueError:
            raise ValueError(
                "is not a valid URI: check the host and port, and write special characters of the password "
                "URL-encoded (e.g. / as %2F, @ as %40)"
            ) from None
        return value

    @field_validator("schema_")
    @classmethod
    def _schema_is_identifier(cls, value: str | None) -> str | None:
        return None if value is None else _check_identifier(value, "schema")

    @field_validator("tables")
    @classmethod
    def _tables_are_canonical(cls, value: dict[str, TableSource]) -> dict[str, TableSource]:
        unknown = sorted(set(value) - set(TABLE_NAMES))
        if unknown:
            raise ValueError(f"unknown table {unknown[0]!r}; canonical tables are {', '.join(TABLE_NAMES)}")
        return value

    def table(self, name: str) -> TableSource:
        """The source location of canonical table `name` (its own name when not mapped)."""
        return self.tables.get(name, TableSource(name=None))


class ConsolidationSettings(_Section):
    max_quarantine_fraction: float = Field(
        0.05, ge=0, le=1, description="a table quarantining more than this fraction trips the gate (exit 3)"
    )
    source_priority: list[str] = Field(
        default_factory=list, description="tie-break order of source_system values: later listed wins"
    )
    code_maps: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="extra code variants per column: {column: {variant: canonical}}"
    )
    date_formats: list[str] | None = Field(None, description="strftime formats for date text (default: built-in)")
    timestamp_formats: list[str] | None = Field(None, description="strftime formats for timestamp text")
    date_order: dict[str, dict[str, DateOrder]] = Field(
        default_factory=dict,
        description="the order of a date text that reads as two dates (06/03/2019), per table and column: "
        "{table: {column: day_first | month_first}} (default: the column's other values decide)",
    )
    run_date: date | None = Field(
        None, description="the date after which a date is 'in the future' (ISO; default: today)"
    )

    @field_validator("date_order")
    @classmethod
    def _date_order_names_date_columns(cls, value: dict[str, dict[str, DateOrder]]) -> dict[str, dict[str, DateOrder]]:
        for table_name, columns in value.items():
            if table_name not in TABLES:
                raise ValueError(f"unknown table {table_name!r}; canonical tables are {', '.join(TABLE_NAMES)}")
            temporal = [c.name for c in TABLES[table_name].columns if c.dtype_name in ("Date", "Timestamp")]
            for column in columns:
                if column not in temporal:
                    raise ValueError(
                        f"{column!r} is not a date or timestamp column of {table_name}; its date columns are "
                        + ", ".join(temporal)
                    )
        return value

    @field_validator("run_date", mode="before")
    @classmethod
    def _run_date_is_iso(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not an ISO date: write it as YYYY-MM-DD") from None
        return value

    def today(self) -> date:
        """The date after which a date is in the future: run_date, else today."""
        return self.run_date or date.today()


class CusumSettings(_Section):
    false_signal_probability: float = Field(
        0.01, gt=0, lt=1, description="in control, a chart signals within horizon_cases with this probability"
    )
    horizon_cases: int = Field(1000, ge=1, le=100_000, description="the cases over which that probability holds")
    h: float | None = Field(
        None, gt=0, le=1000, description="a fixed decision limit for every chart (default: chosen from the case mix)"
    )


class AnalysisSettings(_Section):
    outcome_window_days: int = Field(30, ge=0, le=3650, description="inclusive outcome window in days")
    period: Period = Field("quarter", description="period of trends: month | quarter | year")
    risk_strata: list[str] = Field(
        default_factory=lambda: ["procedure_family", "asa_class", "age_band", "urgency"],
        description="strata of indirect standardisation when no predicted risk is given",
    )
    risk_model: RiskModel = Field(
        "logistic",
        description="expected risk where none is supplied: logistic (a model fitted on risk_factors, strata when "
        "too few events) | strata (indirect standardisation over risk_strata)",
    )
    risk_factors: list[str] = Field(
        default_factory=lambda: ["age_band", "sex", "asa_class", "urgency", "procedure_family"],
        description="case-mart columns of the logistic risk model, each a categorical factor (never the surgeon, "
        "the site or the approach)",
    )
    min_events_per_parameter: float = Field(
        10, gt=0, description="fewer events (or non-events) per model parameter: that outcome falls back to strata"
    )
    funnel_limits: list[float] = Field(
        default_factory=lambda: [0.95, 0.998], description="funnel control limits (two-sided coverage)"
    )
    funnel_method: FunnelMethod = Field(
        "exact",
        description="funnel limits: exact (Spiegelhalter's, interpolated: step-like at small counts) | approximate "
        "(FunnelPlotR's continuous limits)",
    )
    overdispersion: bool = Field(False, description="widen funnel limits for overdispersion (tau2)")
    min_cases: int = Field(10, ge=1, description="units with fewer cases are listed but never flagged")
    cusum: CusumSettings = Field(default_factory=CusumSettings)

    @field_validator("risk_factors")
    @classmethod
    def _factors_are_patient_factors(cls, value: list[str]) -> list[str]:
        refused = [f for f in value if f in REFUSED_RISK_FACTORS]
        if refused:
            raise ValueError(
                f"{refused[0]} cannot be a risk factor: the surgeon, the site and the approach are what is compared"
                " (patient factors only, e.g. age_band, sex, asa_class, urgency, procedure_family)"
            )
        if len(set(value)) != len(value):
            raise ValueError("lists a column twice: list each risk factor once")
        return value

    @field_validator("funnel_limits")
    @classmethod
    def _limits_are_probabilities(cls, value: list[float]) -> list[float]:
        if not value or any(not 0 < v < 1 for v in value):
            raise ValueError("funnel limits must be coverages strictly between 0 and 1, e.g. [0.95, 0.998]")
        return sorted(value)


class AlertsSettings(_Section):
    fail_on_signal: bool = Field(
        False, description="ector all exits with 4 when a view has a signal its previous run did not have"
    )


class ReportSettings(_Section):
    title: str = Field("Surgical outcomes", description="report title")
    audience: Audience = Field("internal", description="external: small cells suppressed, surgeons pseudonymised")
    min_cell_size: int = Field(11, ge=1, description="external audience: counts 1..k-1 shown as <k")
    highlight_surgeons: list[str] = Field(
        default_factory=list, description="surgeons whose learning curves and CUSUM are always drawn"
    )


class PrivacySettings(_Section):
    patient_id_key: SecretStr | None = Field(
        None, description="when set, patient ids are replaced at ingest by a keyed hash"
    )
    pseudonym_key: SecretStr | None = Field(None, description="key for stable surgeon pseudonyms")

    @field_validator("patient_id_key")
    @classmethod
    def _patient_key_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        # A short key could be found by trying keys against known patient ids; empty means unset.
        secret = value.get_secret_value() if value is not None else ""
        if secret and len(secret) < MIN_PATIENT_KEY_LENGTH:
            raise ValueError(
                f"shorter than {MIN_PATIENT_KEY_LENGTH} characters: set {PATIENT_KEY_VARIABLE} to a longer secret"
                " (e.g. `openssl rand -hex 16`)"
            )
        return value if secret else None

    def patient_key_bytes(self) -> bytes | None:
        """patient_id_key as bytes, None when unset."""
        return self.patient_id_key.get_secret_value().encode("utf-8") if self.patient_id_key is not None else None


class Settings(BaseSettings):
    """The effective settings of one Ector run."""

    model_config = SettingsConfigDict(
        env_prefix="ECTOR_",
        env_nested_delimiter="__",
        extra="forbid",
        hide_input_in_errors=True,
        validate_default=True,
        populate_by_name=True,
    )

    workdir: Path = Field(Path("ector-work"), description="the work directory")

    @field_validator("workdir")
    @classmethod
    def _workdir_is_a_folder(cls, value: Path) -> Path:
        # Said here, once: a file in its place otherwise surfaces as an unreadable manifest, or a failed write.
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file, not a folder: point --workdir (or ECTOR_WORKDIR) at a folder")
        return value

    engine: Engine = Field("auto", description="polars engine: auto | streaming | in-memory | gpu")
    spill_mb: float = Field(
        512,
        ge=0,
        description="consolidate: memory (MB) the checked rows of a table of several chunks may take before they "
        "spill to scratch files; 0 spills them always",
    )
    chunk_rows: int = Field(
        1_000_000,
        ge=1,
        description="consolidate: rows of a table checked at a time, and about the rows of one range of keys",
    )
    mart_part_cases: int = Field(
        1_000_000, ge=1, description="transform: the case mart is built in parts of about this many cases"
    )
    source: SourceSettings = Field(default_factory=lambda: SourceSettings())
    consolidation: ConsolidationSettings = Field(default_factory=ConsolidationSettings)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_source = InitSettingsSource(settings_cls, init_kwargs=_yaml_values.get())
        return init_settings, env_settings, yaml_source

    def secrets(self) -> list[str]:
        """Every secret value these settings hold, including a password written inside the URI."""
        values = [s.get_secret_value() for s in self._secret_fields() if s is not None]
        if self.source.uri:
            # After `//`, else at the start: a URI missing its scheme's colon still has its password found.
            match = re.search(r"//[^:/@\s]*:([^@\s]+)@", self.source.uri)
            if match is None and "://" not in self.source.uri:
                match = re.match(r"[^:/@\s]*:([^@\s]+)@", self.source.uri)
            if match:
                values.append(match.group(1))
            values += [m["value"] for m in KEY_VALUE_SECRET.finditer(self.source.uri)]
        # A password travels URL-encoded inside a URI and decoded in a driver's message: each form is secret.
        return sorted({form for value in values for form in (value, quote(value, safe=""), unquote(value))})

    def _secret_fields(self) -> list[SecretStr | None]:
        return [self.source.password, self.privacy.patient_id_key, self.privacy.pseudonym_key]

    def masked(self) -> dict[str, Any]:
        """The settings as plain data with every secret masked, for display and the manifest."""
        data = self.model_dump(mode="json", by_alias=True)
        data["source"]["uri"] = redact(self.source.uri) if self.source.uri else None
        for section, key in (
            ("source", "password"),
            ("privacy", "patient_id_key"),
            ("privacy", "pseudonym_key"),
        ):
            if data[section][key] is not None:
                data[section][key] = "**********"
        return data

    def fingerprint(self, *sections: str) -> str:
        """A short hash of the named settings sections (all when none), for freshness checks.

        A privacy key enters as a keyed tag, not masked: pseudonyms made under another key are stale.
        """
        from ector.privacy import key_tag

        data = self.masked()
        for key in ("patient_id_key", "pseudonym_key"):
            secret = getattr(self.privacy, key)
            if secret is not None:
                data["privacy"][key] = key_tag(secret.get_secret_value())
        chosen = {k: data[k] for k in sections} if sections else data
        return hashlib.sha256(json.dumps(chosen, sort_keys=True).encode()).hexdigest()[:16]


_yaml_values: ContextVar[dict[str, Any]] = ContextVar("_yaml_values", default={})  # noqa: B039


def find_config_file(explicit: Path | None) -> Path | None:
    """The YAML file to read: --config, else $ECTOR_CONFIG, else ./ector.yaml, else ./config/configuration.yaml."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} not found", "check the --config path")
        return explicit
    from_env = os.environ.get("ECTOR_CONFIG")
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError(f"config file {path} (from ECTOR_CONFIG) not found", "fix or unset ECTOR_CONFIG")
        return path
    return next((p for p in DEFAULT_CONFIG_FILES if p.is_file()), None)


def read_config_file(path: Path) -> dict[str, Any]:
    """The mapping in a YAML config file; a malformed file is a ConfigError naming it."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}", "fix the file's syntax") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.start + 1} is not)", "save the file as UTF-8"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings, not a {type(data).__name__}")
    return data


def load_settings(config: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """The effective settings: `overrides` (flags) > environment > config file > defaults.

    Raises ConfigError naming the first bad key; registers every secret so no message can show it.
    """
    _check_environment()
    path = find_config_file(config)
    token = _yaml_values.set(read_config_file(path) if path else {})
    try:
        settings = Settings(**_nest(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(exc, path)) from None
    except SettingsError:
        # pydantic-settings reads a list or mapping from the environment as JSON, and names only the section.
        raise ConfigError(
            f"{_unparsed_variable()} is not valid JSON: a list or mapping setting is given in the environment as JSON",
            "e.g. ECTOR_ANALYSIS__FUNNEL_LIMITS='[0.95, 0.998]' or ECTOR_REPORT__HIGHLIGHT_SURGEONS='[\"S0001\"]'",
        ) from None
    finally:
        _yaml_values.reset(token)
    for secret in settings.secrets():
        register_secret(secret)
    return settings


# ECTOR_ variables that are not settings: the config file's path, and those of the test and benchmark harness.
NOT_SETTINGS: Final = ("ECTOR_CONFIG",)
HARNESS_PREFIXES: Final = ("ECTOR_TEST_", "ECTOR_REQUIRE_", "ECTOR_BENCH_")


def _check_environment() -> None:
    """Raise ConfigError for an ECTOR_ variable that names no setting: a mistyped one would be ignored silently."""
    for name in sorted(os.environ):
        if not name.startswith("ECTOR_") or name in NOT_SETTINGS or name.startswith(HARNESS_PREFIXES):
            continue
        if not _names_a_setting(name.removeprefix("ECTOR_").lower().split("__")):
            raise ConfigError(
                f"unknown setting from the environment: {name}",
                "check its spelling against `ector init` (nested keys are joined with __), or unset it",
            )


def _unparsed_variable() -> str:
    """The ECTOR_ variable of a list, mapping or section setting whose value is not JSON (the first, by name)."""
    for name in sorted(os.environ):
        if not name.startswith("ECTOR_") or name in NOT_SETTINGS or name.startswith(HARNESS_PREFIXES):
            continue
        try:
            json.loads(os.environ[name])
        except ValueError:
            if _is_structured(name.removeprefix("ECTOR_").lower().split("__")):
                return name
    return "an ECTOR_ variable"


def _is_structured(path: list[str]) -> bool:
    """Whether a key path names a section, a list or a mapping: a setting the environment gives as JSON."""
    model: Any = Settings
    for key in path:
        fields = getattr(model, "model_fields", None) or {}
        named = {(info.alias or name).lower(): info for name, info in fields.items()}
        if key not in named:
            return False
        model = named[key].annotation
    kinds = {typing.get_origin(model), *(typing.get_origin(a) for a in typing.get_args(model))}
    return bool(kinds & {list, dict, tuple, set}) or (isinstance(model, type) and issubclass(model, BaseModel))


def _names_a_setting(path: list[str]) -> bool:
    """Whether a key path (`["analysis", "min_cases"]`) names a setting, or lies inside a mapping setting."""
    model: Any = Settings
    for index, key in enumerate(path):
        fields = getattr(model, "model_fields", None)
        # A field is named in the environment by its alias where it has one (source.schema is `schema_`).
        named = {(info.alias or name).lower(): info for name, info in (fields or {}).items()}
        if key not in named:
            return False
        annotation = named[key].annotation
        if typing.get_origin(annotation) is dict:
            return True  # source.tables, consolidation.code_maps: their keys are the user's own
        if index < len(path) - 1 and not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return False
        model = annotation
    return True


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{'source.uri': x} -> {'source': {'uri': x}}; None values (flags not given) are dropped."""
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        if value is None:
            continue
        *parents, leaf = dotted.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def _describe_validation_error(exc: ValidationError, path: Path | None) -> str:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "settings"
    where = f" (in {path} or ECTOR_ environment)" if path else ""
    if first["type"] == "extra_forbidden":
        return f"unknown setting {key!r}{where}; see `ector init` for every key"
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"invalid setting {key!r}{where}: {message}{more}"
