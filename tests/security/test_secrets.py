"""No byte of a password or key leaves the process: not in stdout, stderr, tracebacks, logs or any file.

A distinctive secret is given every way Ector takes one (the URI on the command line, in the environment, in
ector.yaml; the password on its own in the environment and in ector.yaml; the privacy keys), and every error
path is walked with `--debug` (tracebacks) and `--log-format json`. Each output is then searched for every
spelling of the secret (tests/security/outputs.py) and for fragments of it, since a message quoting half a
malformed URI leaks half a password.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl
import pytest
import yaml

from tests.integration.conftest import postgres_uri  # noqa: F401 -- the shared PostgreSQL fixture
from tests.security.outputs import Run, byte_forms, ector, file_contents, findings

SECRET = "Kestrel/Quokka77!pw&Ox<9"
FRAGMENTS = {b"Kestrel", b"Quokka77"}
PATIENT_KEY = "Marmoset-patient-key-5531"
PSEUDONYM_KEY = "Pangolin-surgeon-key-8842"
LOG_MODES = {"debug": ["--debug"], "json": ["--debug", "--verbose", "--log-format", "json"]}
PLACEMENTS = ("flag", "env-uri", "env-password", "yaml-uri", "yaml-password")


def _needles(*secrets: str) -> set[bytes]:
    return set().union(*(byte_forms(s) for s in secrets)) | FRAGMENTS


def _invoke(
    placement: str, uri: str, password: str, cwd: Path, log: list[str], *command: str, schema: str | None = None
) -> Run:
    """Run `ector LOG COMMAND` with the password in `uri` (a URI naming a user, no password) placed as told."""
    scheme, rest = uri.split("://", 1)
    with_password = f"{scheme}://{rest.replace('@', ':' + quote(password, safe='') + '@', 1)}"
    env: dict[str, str] = {"ECTOR_SOURCE__SCHEMA": schema} if schema else {}
    config: dict[str, object] = {}
    args = list(command)
    if placement == "flag":
        args += ["--source", with_password]
    elif placement == "env-uri":
        env["ECTOR_SOURCE__URI"] = with_password
    elif placement == "env-password":
        env |= {"ECTOR_SOURCE__URI": uri, "ECTOR_SOURCE__PASSWORD": password}
    elif placement == "yaml-uri":
        config = {"source": {"uri": with_password}}
    elif placement == "yaml-password":
        config = {"source": {"uri": uri, "password": password}}
    if config:
        (cwd / "ector.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return ector(*log, *args, cwd=cwd, env=env)


def _leaks(run: Run, cwd: Path, *secrets: str) -> list[tuple[str, bytes]]:
    """Every place a form of the secrets shows up: the streams and every file the run left (not ector.yaml)."""
    outputs = {"stdout": run.stdout, "stderr": run.stderr}
    outputs |= {k: v for k, v in file_contents(cwd).items() if k != "ector.yaml" and not k.startswith("gold")}
    return findings(_needles(*secrets), outputs)


def _fast_first(values: tuple[str, ...] | list[str], fast: int = 1) -> list[Any]:
    """The first `fast` values in the fast suite, the rest in the slow session (each run is a process)."""
    return [v if i < fast else pytest.param(v, marks=pytest.mark.slow) for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("postgresql://ector@db:5432/gold", []),
        ("postgresql://ector:p%2Fw@db/gold", ["p%252Fw", "p%2Fw", "p/w"]),  # as written, encoded, decoded
        ("mysql//ector:pw9@db/gold", ["pw9"]),
        ("ector:pw9@db/gold", ["pw9"]),
        ("/data/gold.sqlite", []),
    ],
)
def test_the_password_found_in_a_uri_is_the_password_only(uri: str, expected: list[str]) -> None:
    """A user without a password is no secret (masking `//ector` would garble every message naming the URI)."""
    from ector.settings import load_settings

    assert load_settings(overrides={"source.uri": uri}).secrets() == sorted(expected)


@pytest.mark.parametrize("log", _fast_first(list(LOG_MODES)))
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_unreachable_database_does_not_leak_the_password(placement: str, log: str, tmp_path: Path) -> None:
    run = _invoke(placement, "postgresql://ector_pw@127.0.0.1:1/gold", SECRET, tmp_path, LOG_MODES[log], "ingest")

    assert run.code == 1
    assert b"cannot reach postgresql database 'gold' on 127.0.0.1:1" in run.stderr
    if log == "debug":
        assert b"Traceback" in run.stderr  # the traceback was shown, and searched
    assert _leaks(run, tmp_path, SECRET) == []


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("postgresql://ector_pw@127.0.0.1:notaport/gold", b"is not a valid URI: check the host and port"),
        ("postgresql://ector_pw@[127.0.0.1/gold", b"is not a valid URI: check the host and port"),
    ],
)
@pytest.mark.parametrize("placement", _fast_first(["flag", "env-uri", "yaml-uri"]))
def test_malformed_uri_holding_the_password_is_refused_without_it(
    placement: str, uri: str, problem: bytes, tmp_path: Path
) -> None:
    run = _invoke(placement, uri, SECRET, tmp_path, LOG_MODES["debug"], "ingest")

    assert run.code == 2
    assert b"invalid setting 'source.uri'" in run.stderr
    assert problem in run.stderr
    assert _leaks(run, tmp_path, SECRET) == []


def test_password_written_unencoded_in_the_uri_is_refused_without_any_part_of_it(tmp_path: Path) -> None:
    # `/` unencoded ends the host part: Python then reads `Kestrel` as the port and says so in its message.
    uri = f"postgresql://ector_pw:{SECRET}@127.0.0.1:5432/gold"
    run = ector("--debug", "ingest", "--source", uri, cwd=tmp_path)

    assert run.code == 2
    assert b"URL-encoded" in run.stderr
    assert _leaks(run, tmp_path, SECRET) == []


@pytest.mark.parametrize(
    "uri", ["postgresql//ector_pw:{pw}@db/gold", "ector_pw:{pw}@db/gold"], ids=["no-colon", "no-scheme"]
)
def test_uri_without_scheme_is_refused_without_the_password(uri: str, tmp_path: Path) -> None:
    run = ector("--debug", "ingest", "--source", uri.format(pw=quote(SECRET, safe="")), cwd=tmp_path)

    assert run.code == 2
    assert b"is neither a folder of Parquet files, a SQLite file nor a URI" in run.stderr
    assert _leaks(run, tmp_path, SECRET) == []


@pytest.mark.parametrize("where", ["env", "yaml"])
def test_bad_setting_next_to_a_password_does_not_leak_it(where: str, tmp_path: Path) -> None:
    uri = f"postgresql://ector_pw:{quote(SECRET, safe='')}@127.0.0.1:1/gold"
    env = {"ECTOR_SOURCE__PARTITION_NUM": "zero"} if where == "env" else {}
    if where == "env":
        env |= {"ECTOR_SOURCE__URI": uri, "ECTOR_PRIVACY__PATIENT_ID_KEY": PATIENT_KEY}
    else:
        config = {"source": {"uri": uri, "password": SECRET, "partition_num": "zero"}, "privacy": {}}
        config["privacy"] = {"patient_id_key": PATIENT_KEY, "pseudonym_key": PSEUDONYM_KEY}
        (tmp_path / "ector.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")

    run = ector("--debug", "--log-format", "json", "ingest", cwd=tmp_path, env=env)

    assert run.code == 2
    assert b"source.partition_num" in run.stderr
    assert _leaks(run, tmp_path, SECRET, PATIENT_KEY, PSEUDONYM_KEY) == []


@pytest.mark.parametrize("log", LOG_MODES)
def test_gate_failure_does_not_leak_the_keys(log: str, gold: Path, tmp_path: Path) -> None:
    config = {"consolidation": {"max_quarantine_fraction": 0.0}, "privacy": {"pseudonym_key": PSEUDONYM_KEY}}
    (tmp_path / "ector.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {"ECTOR_PRIVACY__PATIENT_ID_KEY": PATIENT_KEY}

    run = ector(*LOG_MODES[log], "all", "--source", str(gold), "--to", "consolidate", cwd=tmp_path, env=env)

    assert run.code == 3
    assert b"quarantine" in run.stderr
    assert (tmp_path / "ector-work" / "manifest.json").is_file()  # the manifest was written, and searched
    assert _leaks(run, tmp_path, PATIENT_KEY, PSEUDONYM_KEY) == []


# --- a real PostgreSQL: a role with a password -------------------------------------------------------------

ROLE = "ector_pw"  # a pg_hba line `host all ector_pw 127.0.0.1/32 scram-sha-256` makes its password checked


@pytest.fixture
def password_schema(postgres_uri: str) -> Iterator[tuple[str, str]]:  # noqa: F811
    """(URI of the role, naming no password; schema holding a tiny Gold layer the role may read)."""
    import psycopg

    from tests.gold import tiny_gold
    from tests.integration.pg import load_postgres

    schema = f"s_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_uri, autocommit=True) as db:
        if db.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone() is None:
            db.execute(f"CREATE ROLE {ROLE} LOGIN")
        db.execute(f"ALTER ROLE {ROLE} PASSWORD '{SECRET}'")
        db.execute(f"CREATE SCHEMA {schema}")
    load_postgres(postgres_uri, schema, tiny_gold())
    with psycopg.connect(postgres_uri, autocommit=True) as db:
        db.execute(f"GRANT USAGE ON SCHEMA {schema} TO {ROLE}")
        db.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {ROLE}")
    host = postgres_uri.split("@", 1)[1]
    yield f"postgresql://{ROLE}@{host}", schema
    with psycopg.connect(postgres_uri, autocommit=True) as db:
        db.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.postgres
@pytest.mark.parametrize("placement", _fast_first(PLACEMENTS, 2))
def test_successful_ingest_with_a_password_leaves_no_trace_of_it(
    placement: str, password_schema: tuple[str, str], tmp_path: Path
) -> None:
    uri, schema = password_schema
    run = _invoke(placement, uri, SECRET, tmp_path, ["--verbose", "--log-format", "json"], "ingest", schema=schema)
    assert run.code == 0, run.stderr.decode()
    assert pl.read_parquet(tmp_path / "ector-work" / "ingest" / "cases.parquet").height > 0
    assert _leaks(run, tmp_path, SECRET) == []


def _wrong_password(uri: str) -> str:
    """A wrong password for the role, or skip when the server accepts any (trust)."""
    import psycopg

    wrong = SECRET + "-wrong"
    try:
        psycopg.connect(uri.replace("@", ":" + quote(wrong, safe="") + "@", 1), connect_timeout=5).close()
        pytest.skip(f"the server accepts any password for {ROLE} (trust): add a scram-sha-256 pg_hba line for it")
    except psycopg.OperationalError:
        pass
    return wrong


# connectorx reports a refused password only after its pool's 30 s timeout: one placement in the fast suite, the
# others side by side in the slow session (each waits out the timeout in its own process).
@pytest.mark.postgres
def test_wrong_password_against_postgresql_does_not_leak_it(password_schema: tuple[str, str], tmp_path: Path) -> None:
    uri, schema = password_schema
    wrong = _wrong_password(uri)

    run = _invoke("env-password", uri, wrong, tmp_path, LOG_MODES["json"], "ingest", schema=schema)

    assert run.code == 1
    assert b"password authentication failed" in run.stderr
    assert _leaks(run, tmp_path, wrong) == []


@pytest.mark.postgres
@pytest.mark.slow
def test_wrong_password_in_every_other_placement_does_not_leak_it(
    password_schema: tuple[str, str], tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    uri, schema = password_schema
    wrong = _wrong_password(uri)
    others = [p for p in PLACEMENTS if p != "env-password"]
    for placement in others:
        (tmp_path / placement).mkdir()

    def attempt(placement: str) -> Run:
        return _invoke(placement, uri, wrong, tmp_path / placement, LOG_MODES["json"], "ingest", schema=schema)

    with ThreadPoolExecutor(len(others)) as pool:
        runs = dict(zip(others, pool.map(attempt, others), strict=True))

    for placement, run in runs.items():
        assert run.code == 1, placement
        assert b"password authentication failed" in run.stderr, placement
        assert _leaks(run, tmp_path / placement, wrong) == [], placement


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://u@db/gold?password=Kestrel77&sslmode=require", "postgresql://u@db/gold?password=***&sslmode=require"),
        ("mssql://db/gold?user=u&PWD=Kestrel77", "mssql://db/gold?user=u&PWD=***"),
        ("Server=db;Database=gold;User Id=u;Password=Kestrel77;", "Server=db;Database=gold;User Id=u;Password=***;"),
        ("postgresql://u@db/gold?sslpassword=Kestrel77", "postgresql://u@db/gold?sslpassword=***"),
        ("https://api/x?access_token=Kestrel77#top", "https://api/x?access_token=***#top"),
        ("compass=north, bypass=1, passes=3", "compass=north, bypass=1, passes=3"),  # not secrets: left alone
    ],
)  # fmt: skip
def test_a_secret_given_as_a_key_value_pair_is_masked(text: str, masked: str) -> None:
    from ector.errors import redact

    assert redact(text) == masked


def test_a_password_in_a_uri_query_is_a_secret_of_the_settings() -> None:
    from ector.settings import load_settings

    uri = "postgresql://ector@db/gold?sslmode=require&password=" + quote(SECRET, safe="")
    assert {SECRET, quote(SECRET, safe="")} <= set(load_settings(overrides={"source.uri": uri}).secrets())


@pytest.mark.parametrize("command", [["config"], ["--debug", "ingest"]])
def test_config_and_errors_never_show_a_password_given_as_a_query_parameter(command: list[str], tmp_path: Path) -> None:
    uri = "postgresql://ector@127.0.0.1:9/gold?connect_timeout=1&password=" + quote(SECRET, safe="")
    run = ector(*command, cwd=tmp_path, env={"ECTOR_SOURCE__URI": uri})
    assert run.code in (0, 1), run.stderr
    assert _leaks(run, tmp_path, SECRET) == []
    if command == ["config"]:  # the URI is shown, its password masked
        assert b"password=***" in run.stdout
