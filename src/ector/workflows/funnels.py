"""The funnel table of a view: proportion and O/E funnels per available outcome, in the docs/methods.md shape."""

from __future__ import annotations

import polars as pl

from ector.errors import ConfigError
from ector.settings import AnalysisSettings
from ector.stats.funnel import FUNNEL_COLUMNS, funnel_table


def unit_funnels(overall: pl.DataFrame, analysis: AnalysisSettings) -> pl.DataFrame:
    """Return funnel.parquet's rows from the long overall outcomes: both measures, sorted by outcome, measure, unit.

    `overall` has `unit_id, outcome, available, events, cases, expected` (one row per unit and outcome). Crude
    rates go on a proportion funnel (N on the x axis), O/E on an oe_ratio funnel (E on the x axis); limits
    are analysis.funnel_limits, overdispersion per analysis.overdispersion. Units with fewer than
    analysis.min_cases cases of the outcome are flagged too_few_cases. Outcomes not available have no rows.
    """
    if len(analysis.funnel_limits) != 2:
        raise ConfigError(
            f"analysis.funnel_limits needs two levels (inner, outer), got {analysis.funnel_limits}",
            "e.g. funnel_limits: [0.95, 0.998]",
        )
    inner, outer = analysis.funnel_limits
    units = overall.filter("available").select(
        "unit_id",
        "outcome",
        "cases",
        pl.col("events").alias("observed"),
        "expected",
    )
    proportion, ratio = (
        funnel_table(
            # A unit with nothing expected has no O/E: funnel_table lists it as too_few_cases, limits null.
            units.with_columns(pl.col("expected").fill_null(0.0)),
            measure,
            min_cases=analysis.min_cases,
            method=analysis.funnel_method,
            overdispersion=analysis.overdispersion,
            inner_level=inner,
            outer_level=outer,
        )
        for measure in ("proportion", "oe_ratio")
    )
    return pl.concat([proportion, ratio]).select(FUNNEL_COLUMNS).sort("outcome", "measure", "unit_id", nulls_last=True)
