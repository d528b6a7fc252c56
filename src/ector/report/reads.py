"""What the report reads from the work directory, by view: light, so the stage's declaration can name it."""

from __future__ import annotations

from typing import Final

# view -> the per-unit tables the report shows (summary first: a view without it was not run).
VIEW_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "patient": ("summary", "availability"),
    "surgeon": ("summary", "funnel", "case_mix", "availability", "outcomes", "signals"),
    "site": ("summary", "funnel", "case_mix", "volume_trend", "availability", "outcomes", "signals"),
}
VIEWS: Final = tuple(VIEW_TABLES)
# Per-case series, read filtered to the charted units.
SERIES_TABLES: Final[dict[str, tuple[str, ...]]] = {"surgeon": ("learning_curve", "cusum")}
