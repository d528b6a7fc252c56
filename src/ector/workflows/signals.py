"""Signals as data: every point where a view's charts cross their decision limit, and since which run.

A signal is a unit crossing the outer limit of a chart that decides:
- `cusum_upper` / `cusum_lower`: a case at which a risk-adjusted CUSUM crossed its limit h (deterioration /
  improvement; the chart then restarted at 0). `statistic` is the chart's value there, `limit` the limit as
  drawn (h above 0 for the upper chart, -h below 0 for the lower).
- `funnel`: a unit outside the outer (99.8%) limit of the risk-adjusted (O/E) funnel of an outcome; the crude
  proportion funnel compares across case mix, so it flags but does not signal. `statistic` is the O/E,
  `limit` the limit crossed.

`first_seen_run` says in which run of the view (1, 2, ... in this work directory) a signal first appeared:
a signal is the same signal in the next run when its unit, outcome, chart and direction are, and for a CUSUM
its case (its sequence number and date) is too.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from ector.settings import AnalysisSettings
from ector.stats.funnel import HIGH_ALARM, LOW_ALARM
from ector.workflows.monitoring import CUSUM_COLUMNS

SIGNAL_SCHEMA: Final = {
    "unit_id": pl.String,
    "outcome": pl.String,
    "chart": pl.String,  # cusum_upper | cusum_lower | funnel
    "direction": pl.String,  # worse | better
    "level": pl.String,  # the rule behind the limit: "1% in 1,000 cases", "h = 5 (fixed)", "99.8%"
    "case_seq": pl.Int64,  # CUSUM: the unit's monitored case at which it signalled
    "surgery_date": pl.Date,
    "statistic": pl.Float64,
    "limit": pl.Float64,
}
IDENTITY: Final = ("unit_id", "outcome", "chart", "direction", "case_seq", "surgery_date")
CHARTS: Final = ("cusum_upper", "cusum_lower", "funnel")


def signal_table(cusum: pl.DataFrame, funnel: pl.DataFrame, analysis: AnalysisSettings) -> pl.DataFrame:
    """Return the signals of a view from its `cusum` and `funnel` tables, sorted by unit, outcome, chart and
    case (columns SIGNAL_SCHEMA; `with_first_seen` adds first_seen_run)."""
    cusum = cusum.select(CUSUM_COLUMNS)
    rule = cusum_level(analysis)
    charts = [
        cusum.filter(f"signal_{side}").select(
            "unit_id",
            "outcome",
            chart=pl.lit(f"cusum_{side}"),
            direction=pl.lit("worse" if side == "upper" else "better"),
            level=pl.lit(rule),
            case_seq="seq",
            surgery_date="surgery_date",
            statistic=f"cusum_{side}",
            limit=pl.col(f"h_{side}") * (1 if side == "upper" else -1),
        )
        for side in ("upper", "lower")
    ]
    alarms = funnel.filter((pl.col("measure") == "oe_ratio") & pl.col("flag").is_in([HIGH_ALARM, LOW_ALARM]))
    high = pl.col("flag") == HIGH_ALARM
    charts.append(
        alarms.select(
            "unit_id",
            "outcome",
            chart=pl.lit("funnel"),
            direction=pl.when(high).then(pl.lit("worse")).otherwise(pl.lit("better")),
            level=pl.lit(f"{analysis.funnel_limits[-1] * 100:g}%"),
            case_seq=pl.lit(None, dtype=pl.Int64),
            surgery_date=pl.lit(None, dtype=pl.Date),
            statistic="value",
            limit=pl.when(high).then(pl.col("upper_998")).otherwise(pl.col("lower_998")),
        )
    )
    signals = pl.concat([frame.cast(SIGNAL_SCHEMA) for frame in charts], how="vertical")  # type: ignore[arg-type]
    chart_order = pl.col("chart").replace_strict(list(CHARTS), list(range(len(CHARTS))), return_dtype=pl.Int8)
    return signals.sort(["unit_id", "outcome", chart_order, "case_seq"], nulls_last=True)


def cusum_level(analysis: AnalysisSettings) -> str:
    """The rule behind the CUSUM limits, as the signals and the report state it."""
    cusum = analysis.cusum
    if cusum.h is not None:
        return f"h = {cusum.h:g} (fixed)"
    return f"{cusum.false_signal_probability * 100:g}% in {cusum.horizon_cases:,} cases"


def with_first_seen(signals: pl.DataFrame, previous: pl.DataFrame | None, run: int) -> pl.DataFrame:
    """Return `signals` with first_seen_run: the previous run's value for a signal it had, else `run`."""
    if previous is None or "first_seen_run" not in previous.columns:
        return signals.with_columns(first_seen_run=pl.lit(run, dtype=pl.Int64))
    seen = previous.select(*IDENTITY, "first_seen_run").cast(
        {name: SIGNAL_SCHEMA[name] for name in IDENTITY} | {"first_seen_run": pl.Int64}  # type: ignore[arg-type]
    )
    seen = seen.group_by(IDENTITY).agg(pl.col("first_seen_run").min())
    joined = signals.join(seen, on=list(IDENTITY), how="left", nulls_equal=True, maintain_order="left")
    return joined.with_columns(pl.col("first_seen_run").fill_null(run))


def new_signals(signals: pl.DataFrame, run: int) -> pl.DataFrame:
    """Return the signals that first appeared in `run`."""
    return signals.filter(pl.col("first_seen_run") == run)
