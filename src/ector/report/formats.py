"""The text of the report's numbers: counts, n/N, rates with their interval, medians with IQR.

Every function returns a polars expression over a (disclosed) frame, so a table of 2,000 surgeons is
formatted in one vectorised pass. A withheld count reads `<k` (small) or `*` (withheld as a complement);
a value that does not exist reads `—`, never 0.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from ector.report.disclosure import COMPLEMENTARY, SMALL, withheld_column

NOT_AVAILABLE: Final = "—"
RANGE: Final = "\u2013"  # an en dash between interval bounds: a hyphen would read as a minus sign
COMPLEMENT_MARK: Final = "*"

# Outcome column -> how a reader names it.
OUTCOME_LABELS: Final[dict[str, str]] = {
    "complication_any": "Any complication",
    "complication_major": "Major complication (Clavien-Dindo ≥ IIIa)",
    "readmission_30d": "Unplanned readmission",
    "reoperation_30d": "Reoperation",
    "mortality_30d": "Death",
    "conversion": "Conversion to open",
}
SHORT_OUTCOME_LABELS: Final[dict[str, str]] = {
    "complication_any": "Any complication",
    "complication_major": "Major complication",
    "readmission_30d": "Readmission",
    "reoperation_30d": "Reoperation",
    "mortality_30d": "Death",
    "conversion": "Conversion",
}
FLAG_LABELS: Final[dict[str, str]] = {
    "high_alarm": "above 99.8% limit",
    "high_alert": "above 95% limit",
    "as_expected": "within limits",
    "low_alert": "below 95% limit",
    "low_alarm": "below 99.8% limit",
    "too_few_cases": "too few cases to flag",
}
FLAG_COLOURS: Final[dict[str, str]] = {
    "high_alarm": "#f4a6a0",
    "high_alert": "#fbd7a8",
    "low_alert": "#cfe3f5",
    "low_alarm": "#9cc4ea",
}
ROMAN: Final = ("I", "II", "III", "IV", "V", "VI")


def outcome_label(outcome: str, *, short: bool = False) -> str:
    """Return the reader's name of an outcome column (the column name itself when unknown)."""
    labels = SHORT_OUTCOME_LABELS if short else OUTCOME_LABELS
    return labels.get(outcome, outcome.replace("_", " "))


def outcome_window_label(outcome: str, window_days: int) -> str:
    """Return the outcome's name with its window, e.g. `Death within 30 days`."""
    base = outcome_label(outcome)
    if outcome in ("readmission_30d", "reoperation_30d", "mortality_30d", "complication_any", "complication_major"):
        return f"{base} within {window_days} days"
    return base


def count_text(column: str, k: int, frame_columns: list[str]) -> pl.Expr:
    """Return `1,234`, `<k` (small), `*` (complement) or `—` (no value) for a count column."""
    value = pl.col(column)
    text = _thousands(value)
    withheld = withheld_column(column)
    if withheld in frame_columns:
        flag = pl.col(withheld)
        text = (
            pl.when(flag == SMALL)
            .then(pl.lit(f"<{k}"))
            .when(flag == COMPLEMENTARY)
            .then(pl.lit(COMPLEMENT_MARK))
            .otherwise(text)
        )
    return pl.when(value.is_null() & _not_withheld(withheld, frame_columns)).then(pl.lit(NOT_AVAILABLE)).otherwise(text)


def n_of_n_text(events: str, cases: str, k: int, frame_columns: list[str]) -> pl.Expr:
    """Return `n/N`: events of cases, each as `count_text`; `—` when both are missing (not available)."""
    both_missing = pl.col(events).is_null() & pl.col(cases).is_null()
    for name in (events, cases):
        if withheld_column(name) in frame_columns:
            both_missing = both_missing & pl.col(withheld_column(name)).is_null()
    return (
        pl.when(both_missing)
        .then(pl.lit(NOT_AVAILABLE))
        .otherwise(
            pl.concat_str(count_text(events, k, frame_columns), pl.lit("/"), count_text(cases, k, frame_columns))
        )
    )


def rate_text(rate: str, lower: str, upper: str) -> pl.Expr:
    """Return `3.4% (2.1 to 5.6)` (bounds joined by an en dash) from proportions, or `—` without a rate."""
    return (
        pl.when(pl.col(rate).is_null())
        .then(pl.lit(NOT_AVAILABLE))
        .otherwise(
            pl.concat_str(
                _percent(pl.col(rate)),
                pl.lit("% ("),
                _percent(pl.col(lower)),
                pl.lit(RANGE),
                _percent(pl.col(upper)),
                pl.lit(")"),
                ignore_nulls=True,
            )
        )
    )


def ratio_text(ratio: str, lower: str, upper: str) -> pl.Expr:
    """Return `1.23 (0.98 to 1.52)` for an O/E ratio, or `—`."""

    def fixed(value: pl.Expr) -> pl.Expr:
        return value.round(2).cast(pl.String).str.replace(r"^(-?\d+)$", "$1.0").str.replace(r"\.(\d)$", ".${1}0")

    return (
        pl.when(pl.col(ratio).is_null())
        .then(pl.lit(NOT_AVAILABLE))
        .otherwise(
            pl.concat_str(
                fixed(pl.col(ratio)),
                pl.lit(" ("),
                fixed(pl.col(lower)),
                pl.lit(RANGE),
                fixed(pl.col(upper)),
                pl.lit(")"),
            )
        )
    )


def median_iqr_text(prefix: str) -> pl.Expr:
    """Return `95.0 (80.5 to 112.0)` from `<prefix>_median, _q1, _q3`, or `—`.

    One decimal, like rates: a median of 3 days must not read like a count of 3.
    """
    whole = _fixed1

    median = pl.col(f"{prefix}_median")
    return (
        pl.when(median.is_null())
        .then(pl.lit(NOT_AVAILABLE))
        .otherwise(
            pl.concat_str(
                whole(median),
                pl.lit(" ("),
                whole(pl.col(f"{prefix}_q1")),
                pl.lit(RANGE),
                whole(pl.col(f"{prefix}_q3")),
                pl.lit(")"),
            )
        )
    )


def percent_text(column: str) -> pl.Expr:
    """Return `12.3%` from a 0-100 percentage column, or `—`."""
    return (
        pl.when(pl.col(column).is_null())
        .then(pl.lit(NOT_AVAILABLE))
        .otherwise(pl.concat_str(_fixed1(pl.col(column)), pl.lit("%")))
    )


def decimal_text(value: float) -> str:
    """Return a measurement to 3 significant figures, always with a decimal point (1 -> `1.0`, 0.0812 -> `0.0812`)."""
    text = f"{value:.3g}"
    return text if any(c in text for c in ".en") else f"{text}.0"


def thousands(value: int) -> str:
    """Return an integer with thousands separators, e.g. `12,345`."""
    return f"{value:,}"


def _thousands(value: pl.Expr) -> pl.Expr:
    # Group digits by 3 from the right: reverse, insert commas, reverse back.
    digits = value.cast(pl.Int64).abs().cast(pl.String)
    grouped = digits.str.reverse().str.replace_all(r"(\d{3})", "$1,").str.strip_suffix(",").str.reverse()
    return pl.when(value < 0).then(pl.concat_str(pl.lit("-"), grouped)).otherwise(grouped)


def _percent(proportion: pl.Expr) -> pl.Expr:
    return _fixed1(proportion * 100)


def _fixed1(value: pl.Expr) -> pl.Expr:
    # One decimal always (3.0, not 3), so a rate never reads like a count.
    return value.round(1).cast(pl.String).str.replace(r"^(-?\d+)$", "$1.0")


def _not_withheld(withheld: str, frame_columns: list[str]) -> pl.Expr:
    return pl.col(withheld).is_null() if withheld in frame_columns else pl.lit(True)
