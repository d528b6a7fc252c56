"""Keyed pseudonyms: HMAC-SHA256 of an identifier under a secret key, for surgeons (report) and patients (ingest).

Polars has no keyed hash (its `hash` is seeded, not a MAC), so the HMAC itself is computed by the standard
library, but only once per distinct value of a batch, never per row: `keyed_codes` hashes the unique values of a
Series and joins the codes back, and `pseudonymised_patient_id` runs it batch by batch inside a lazy plan, so a
streamed ingest stays streamed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final

import polars as pl

from ector.contract import normalised_key

PATIENT_PREFIX: Final = "PX-"
# 25 hex digits are 100 bits: a collision among 100 million patients has odds of about 1 in 10^14.
_PATIENT_CODE_LENGTH: Final = 25
_BLOCK: Final = 64  # SHA-256's block size, the length HMAC pads its key to (RFC 2104)


def hmac_code(value: str, key: bytes) -> str:
    """Return HMAC-SHA256(key, value) in upper-case base32 (A-Z, 2-7: no 0, 1, 8 or 9, so no numeric id)."""
    digest = hmac.digest(key, value.encode("utf-8"), hashlib.sha256)
    return base64.b32encode(digest).decode("ascii")


def hmac_sha256_many(values: list[str], key: bytes) -> list[bytes]:
    """HMAC-SHA256(key, value) of each value, equal to `hmac.digest` but twice as fast on many short values.

    RFC 2104: H((K ^ opad) || H((K ^ ipad) || m)). The two padded-key states are hashed once and copied per
    value, instead of being recomputed for every value as `hmac.digest` does.
    """
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    padded = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    digests = []
    for value in values:
        step = inner.copy()
        step.update(value.encode("utf-8"))
        final = outer.copy()
        final.update(step.digest())
        digests.append(final.digest())
    return digests


def keyed_codes(values: pl.Series, key: bytes, prefix: str, length: int) -> pl.Series:
    """Return `prefix` + the first `length` upper-case hex digits of each value's HMAC; nulls stay null.

    The HMAC is computed once per distinct value and joined back, so a column of 10 million rows over a
    million patients costs a million HMACs; the hex encoding is vectorised.
    """
    text = values.cast(pl.String)
    unique = text.drop_nulls().unique()
    digests = pl.Series(hmac_sha256_many(unique.to_list(), key), dtype=pl.Binary)
    codes = prefix + digests.bin.encode("hex").str.slice(0, length).str.to_uppercase()
    return text.replace_strict(unique, codes, default=None, return_dtype=pl.String).alias(values.name)


def pseudonymised_patient_id(value: pl.Expr, key: bytes) -> pl.Expr:
    """The patient id in `value` replaced by `PX-` + 25 hex digits of its HMAC, computed after normalising it.

    Normalising first keeps the variants of one id (` p001`, `P001 `) one patient. A blank id stays blank
    and a null stays null, so consolidation quarantines them exactly as it would the originals.
    """
    normalised = normalised_key(value)
    coded = normalised.map_batches(
        lambda batch: keyed_codes(batch, key, PATIENT_PREFIX, _PATIENT_CODE_LENGTH),
        return_dtype=pl.String,
        is_elementwise=True,
    )
    return pl.when(normalised == "").then(normalised).otherwise(coded)


def key_tag(key: str) -> str:
    """A short tag that changes with the key, for freshness checks; it is an HMAC, so it does not reveal it."""
    return hmac_code("ector settings fingerprint", key.encode("utf-8"))[:16]
