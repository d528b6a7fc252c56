"""Ector's errors: each carries its exit code and a hint, and every message is scrubbed of secrets.

Exit codes are a contract with cron and CI (docs/operations.md): 0 done, 1 failed, 2 usage or configuration,
3 data-quality gate, 4 new signals (`ector all --fail-on-signal`), 75 work directory locked.
"""

from __future__ import annotations

import re
from typing import ClassVar

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_GATE = 3
EXIT_SIGNAL = 4
EXIT_LOCKED = 75

_MASK = "***"
# Every secret value the process knows of (passwords, keys). Registered when settings load.
_secrets: set[str] = set()
# user:password@ in any URI, whether or not the password was registered.
# `scheme:` is optional so that a URI missing the colon of its scheme (`mysql//u:p@h`) is still masked.
_URI_PASSWORD = re.compile(r"(?P<scheme>(?:[a-zA-Z][\w+.-]*:)?//)(?P<user>[^:/@\s]*):(?P<password>[^@\s]+)@")
# A secret given as a key=value pair: a URI's query parameter (`?password=...`, `&sslpassword=...`) or a key of a
# connection string (`Password=...;`, `PWD=...`), whatever the case of the key.
SECRET_KEYS = (
    "password", "passwd", "pwd", "pass", "sslpassword", "secret", "token", "access_token", "api_key", "apikey",
)  # fmt: skip
KEY_VALUE_SECRET = re.compile(
    rf"(?P<key>(?:^|[?&;\s])(?:{'|'.join(SECRET_KEYS)})\s*=\s*)(?P<value>[^&;#\s]+)", re.IGNORECASE
)


def register_secret(value: str | None) -> None:
    """Remember a secret so that `redact` removes it from every message."""
    if value:
        _secrets.add(value)


def redact(text: str) -> str:
    """Return `text` with every registered secret, every URI password and every secret key=value replaced by ***."""
    text = _URI_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{_MASK}@", text)
    text = KEY_VALUE_SECRET.sub(lambda m: f"{m['key']}{_MASK}", text)
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, _MASK)
    return text


class EctorError(Exception):
    """An error a user can act on: one line naming the problem, and a hint naming the fix."""

    exit_code: ClassVar[int] = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = redact(message)
        self.hint = redact(hint) if hint else None
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(EctorError):
    """Usage or configuration error: an unknown key, an invalid value, a missing config file."""

    exit_code = EXIT_USAGE


class SourceError(EctorError):
    """The Gold source cannot be read: unreachable, refused credentials, a failing query."""

    exit_code = EXIT_FAILED


class MissingInputError(EctorError):
    """A stage's inputs are not in the work directory: an earlier stage has to run first."""

    exit_code = EXIT_FAILED


class InputError(EctorError):
    """An input exists but cannot be read (corrupt Parquet, a broken pipe stream)."""

    exit_code = EXIT_FAILED


class ContractError(EctorError):
    """The source lacks a required table or column of the Gold contract."""

    exit_code = EXIT_GATE


class QualityGateError(EctorError):
    """More rows were quarantined than `consolidation.max_quarantine_fraction` allows."""

    exit_code = EXIT_GATE


class NewSignalsError(EctorError):
    """A chart signalled that did not in its view's previous run, and alerts.fail_on_signal asks to say so.

    Raised after every stage has finished and published: the outputs and the report are complete."""

    exit_code = EXIT_SIGNAL


class LockedError(EctorError):
    """Another run holds the work directory's lock."""

    exit_code = EXIT_LOCKED
