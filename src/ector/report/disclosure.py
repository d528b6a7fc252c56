"""Disclosure control for external reports (docs/methods.md): small counts, complementary suppression, pseudonyms,
month-level dates and top-coded ages.

It is applied to the data before any table or chart is built, so a cell, a chart label or a tooltip can only
show what is left: a withheld count is null in the frame (its `<column>__withheld` says why), not a number
that a formatter promises to hide.

Pseudonyms are keyed hashes (HMAC-SHA256 with privacy.pseudonym_key). Without a key an external report is
refused rather than pseudonymised with a key derived from the data or stored beside it: anyone holding the
work directory could then recompute every pseudonym from a list of surgeon ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
import polars as pl

from ector.errors import ConfigError, EctorError
from ector.privacy import hmac_code

if TYPE_CHECKING:  # not imported at run time: figure workers import this module, and settings costs them 0.2 s
    from ector.settings import Audience, Settings

SMALL: Final = "small"  # a count from 1 to k-1: shown as <k
COMPLEMENTARY: Final = "complementary"  # withheld so that a small count cannot be derived from a total
KEY_VARIABLE: Final = "ECTOR_PRIVACY__PSEUDONYM_KEY"
MIN_KEY_LENGTH: Final = 16  # a short key could be found by trying keys against a list of surgeon ids
TOP_AGE: Final = 90
_PSEUDONYM_PREFIX: Final = "SRG-"
_DATA_URI: Final = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+")
_WORD: Final = re.compile(r"[a-z0-9]+")
_COMPOUND: Final = re.compile(r"[a-z0-9]+(?:[-_./:][a-z0-9]+)*")


@dataclass(frozen=True)
class Disclosure:
    """The disclosure rules in force for one report: the audience, k, and the pseudonym key (external only)."""

    audience: Audience
    min_cell_size: int
    pseudonym_key: bytes | None = None

    @property
    def external(self) -> bool:
        return self.audience == "external"

    @property
    def small_label(self) -> str:
        """Return the text a small count is shown as: `<k`."""
        return f"<{self.min_cell_size}"

    def pseudonym(self, surgeon_id: str) -> str:
        """Return the stable pseudonym of a surgeon under this report's key (the id itself when internal)."""
        if not self.external:
            return surgeon_id
        if self.pseudonym_key is None:
            raise ConfigError("an external report needs privacy.pseudonym_key", f"set {KEY_VARIABLE}")
        return pseudonym(surgeon_id, self.pseudonym_key)


def disclosure_for(settings: Settings, audience: Audience | None = None) -> Disclosure:
    """Return the rules of a report for `audience` (default report.audience).

    Raises ConfigError (exit 2) naming ECTOR_PRIVACY__PSEUDONYM_KEY when an external report has no key, or a
    key shorter than MIN_KEY_LENGTH characters.
    """
    chosen: Audience = audience or settings.report.audience
    k = settings.report.min_cell_size
    if chosen == "internal":
        return Disclosure("internal", k)
    secret = settings.privacy.pseudonym_key
    key = secret.get_secret_value() if secret is not None else ""
    if not key:
        raise ConfigError(
            "an external report shows surgeons under keyed pseudonyms, and privacy.pseudonym_key is not set",
            f"set {KEY_VARIABLE} to a secret of at least {MIN_KEY_LENGTH} characters, the same on every run",
        )
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigError(
            f"privacy.pseudonym_key is shorter than {MIN_KEY_LENGTH} characters",
            f"set {KEY_VARIABLE} to a longer secret (e.g. `openssl rand -hex 16`)",
        )
    return Disclosure("external", k, key.encode("utf-8"))


def pseudonym(surgeon_id: str, key: bytes) -> str:
    """Return `SRG-XXXX-XXXX`, the first 40 bits of HMAC-SHA256(key, surgeon_id) in base32.

    The same id and key always give the same code; without the key the code says nothing about the id.
    Base32 has no 0, 1, 8 or 9, so a code cannot contain a numeric id.
    """
    code = hmac_code(surgeon_id, key)[:8]
    return f"{_PSEUDONYM_PREFIX}{code[:4]}-{code[4:]}"


def pseudonymise(frame: pl.DataFrame, column: str, key: bytes) -> pl.DataFrame:
    """Return `frame` with every value of `column` replaced by its pseudonym (nulls stay null).

    Raises EctorError if two ids share a code (about one chance in 10^6 for 2,000 surgeons): merging two
    surgeons silently would be worse than stopping.
    """
    ids = [v for v in frame[column].unique().to_list() if v is not None]
    codes = {v: pseudonym(str(v), key) for v in ids}
    if len(set(codes.values())) < len(codes):
        raise EctorError("two surgeons share a pseudonym under this key", f"change {KEY_VARIABLE}")
    return frame.with_columns(
        pl.col(column).cast(pl.String).replace_strict(codes, default=None, return_dtype=pl.String)
    )


def withheld_column(column: str) -> str:
    """Return the name of the column saying why `column` is withheld: `small`, `complementary` or null."""
    return f"{column}__withheld"


def suppress_counts(
    frame: pl.DataFrame,
    counts: Sequence[str],
    k: int,
    *,
    lines: Sequence[Sequence[str]] = ((),),
    dependents: Mapping[str, Sequence[str]] | None = None,
) -> pl.DataFrame:
    """Return `frame` with counts from 1 to k-1 withheld, and complementary cells withheld so none can be derived.

    Each count column gets `<column>__withheld` and is null where withheld; 0 stays visible. `lines` are the
    groupings whose counts add up to a total that may be published (`()` = the whole column, `("outcome",)`
    = per outcome); in each line the withheld cells are at least two and their sum is not at an extreme that
    pins every one of them (e.g. two cells summing to 2), adding the smallest visible non-zero cell until so.
    `dependents` maps a count to the columns that would reveal it (its rate, interval, O/E): they are nulled
    wherever the count is withheld.
    """
    if k <= 1 or frame.height == 0:
        return frame.with_columns(pl.lit(None, pl.String).alias(withheld_column(c)) for c in counts)
    groupings = [_line_indices(frame, line) for line in lines]
    states: dict[str, np.ndarray] = {}
    for column in counts:
        values = frame[column].cast(pl.Float64).fill_null(float("nan")).to_numpy()
        state = np.where((values >= 1) & (values <= k - 1), 1, 0).astype(np.int8)
        changed = True
        while changed:  # a complement added in one line may leave another line with a single withheld cell
            changed = False
            for groups in groupings:
                for index in groups:
                    changed |= _protect_line(values, state, index, k)
        states[column] = state
    labels: list[str | None] = [None, SMALL, COMPLEMENTARY]
    result = frame.with_columns(
        *(pl.when(pl.Series(states[c] > 0)).then(None).otherwise(pl.col(c)).alias(c) for c in counts),
        *(pl.Series(withheld_column(c), [labels[s] for s in states[c]], dtype=pl.String) for c in counts),
    )
    masks: dict[str, np.ndarray] = {}
    for count, columns in (dependents or {}).items():
        for column in columns:
            masks[column] = masks.get(column, np.zeros(frame.height, dtype=bool)) | (states[count] > 0)
    return result.with_columns(
        pl.when(pl.Series(mask)).then(None).otherwise(pl.col(c)).alias(c) for c, mask in masks.items()
    )


def _line_indices(frame: pl.DataFrame, line: Sequence[str]) -> list[np.ndarray]:
    if not line:
        return [np.arange(frame.height)]
    grouped = frame.select(*line).with_row_index("__row").group_by(list(line), maintain_order=True).agg("__row")
    return [np.asarray(rows, dtype=np.int64) for rows in grouped["__row"].to_list()]


def _protect_line(values: np.ndarray, state: np.ndarray, index: np.ndarray, k: int) -> bool:
    """Withhold complements in one line until its withheld cells cannot be pinned down; return whether any was."""
    changed = False
    while True:
        hidden = index[state[index] > 0]
        if hidden.size == 0 or _protected(values[hidden], state[hidden], k):
            return changed
        visible = index[(state[index] == 0) & (values[index] > 0)]  # NaN (unknown) compares False
        if visible.size == 0:
            # Every non-zero cell is withheld: the line's total is their sum, and it is itself below k or
            # at least k with the cells not pinned (checked above). Nothing more to withhold here.
            return changed
        state[visible[np.argmin(values[visible])]] = 2  # argmin takes the first of equal values
        changed = True


def _protected(hidden: np.ndarray, kinds: np.ndarray, k: int) -> bool:
    """Return whether a total over the withheld cells leaves more than one possible value for each of them.

    A small cell lies in 1..k-1 and a complement in k.. (a visible non-zero count is at least k), so the
    cells are pinned when their sum is the least possible, or, with small cells only, the greatest.
    """
    small, complements = int(np.sum(kinds == 1)), int(np.sum(kinds == 2))
    if small + complements < 2:
        return False
    total = float(np.sum(hidden))
    if total == small + complements * k:
        return False
    return not (complements == 0 and total == small * (k - 1))


def identifiers_found(texts: Iterable[str], identifiers: Iterable[str]) -> list[str]:
    """Return the identifiers (surgeon ids, names) that occur as whole words in any of `texts`, ignoring case.

    Embedded images (data: URIs) are skipped: base64 is random letters. Identifiers shorter than 3
    characters are skipped too: they would match ordinary words and numbers. Linear in the text: words are
    collected once, and only an identifier whose every word occurs is searched for as a phrase.
    """
    wanted = {i.lower(): i for i in identifiers if i and len(i.strip()) >= 3}
    parts = {lowered: _WORD.findall(lowered) for lowered in wanted}
    found: set[str] = set()
    for text in texts:
        plain = _DATA_URI.sub("", text).lower()
        words = set(_WORD.findall(plain))
        compounds = set(_COMPOUND.findall(plain))
        for lowered, original in wanted.items():
            if lowered in compounds or (
                parts[lowered]
                and all(p in words for p in parts[lowered])
                and re.search(r"(?<![a-z0-9])" + re.escape(lowered) + r"(?![a-z0-9])", plain)
            ):
                found.add(original)
    return sorted(found)


def months_only(frame: pl.DataFrame) -> pl.DataFrame:
    """Return `frame` with every Date and Datetime column as `YYYY-MM` text: no date finer than a month."""
    temporal = [name for name, dtype in frame.schema.items() if dtype in (pl.Date,) or isinstance(dtype, pl.Datetime)]
    return frame.with_columns(pl.col(c).dt.strftime("%Y-%m") for c in temporal)


def top_code_ages(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """Return `frame` with each age column as text, ages over 89 shown as `90+`."""
    return frame.with_columns(
        pl.when(pl.col(c) >= TOP_AGE).then(pl.lit(f"{TOP_AGE}+")).otherwise(pl.col(c).cast(pl.String)).alias(c)
        for c in columns
        if c in frame.columns
    )
