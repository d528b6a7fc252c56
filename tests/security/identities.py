"""The demo's direct identifiers (patient ids, birth dates) and a fast search for them in outputs.

Searching hundreds of ids in every file one by one is slow, so each output is cut into tokens once (ids,
ISO and day/month/year dates) and the token sets are intersected, case-insensitively.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import polars as pl

_ID_TOKEN = re.compile(rb"[a-z0-9_]+")
_DATE_TOKEN = re.compile(rb"\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4}")


def demo_identities(gold: Path) -> tuple[set[bytes], set[bytes]]:
    """(patient ids, birth dates) of a demo SQLite Gold layer, lower-cased, trimmed; dates in ISO and d/m/Y."""
    uri = f"sqlite://{gold.resolve()}"
    ids = pl.read_database_uri("SELECT patient_id FROM patients", uri)["patient_id"].drop_nulls()
    ids = ids.str.strip_chars().str.to_lowercase().filter(ids.str.strip_chars() != "")
    births = pl.read_database_uri("SELECT birth_date FROM patients", uri)["birth_date"].cast(pl.String)
    dates = {d for d in (_as_date(v) for v in births.drop_nulls().to_list()) if d is not None}
    date_forms = {d.isoformat().encode() for d in dates} | {d.strftime("%d/%m/%Y").encode() for d in dates}
    return {i.encode() for i in ids.to_list()}, date_forms


def _as_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None  # a dirty birth date the demo planted: it is quarantined text, not a date to look for


def found(needles: set[bytes], outputs: dict[str, bytes]) -> dict[str, set[bytes]]:
    """Output name -> the needles it contains as whole tokens."""
    hits = {}
    for name, data in outputs.items():
        lowered = data.lower()
        tokens = set(_ID_TOKEN.findall(lowered)) | set(_DATE_TOKEN.findall(lowered))
        if common := tokens & needles:
            hits[name] = common
    return hits
