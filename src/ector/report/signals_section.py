"""The Signals section, first in the report: every chart that crossed its decision limit, the new ones first.

A signal is new when it first appeared in the latest run of its view (`first_seen_run` against the run number
the manifest records). An internal report lists each signal with its case and date; an external one lists the
units, outcomes and charts that signalled, with no case, date or count: a CUSUM signal falls on one patient's
case.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from ector.report.disclosure import Disclosure
from ector.report.formats import outcome_label
from ector.report.inputs import ReportInputs
from ector.report.page import Prose, Section, TableBlock
from ector.report.prepare import labels_of
from ector.report.tables import counts_gt
from ector.report.unit_sections import site_labels

CHART_LABELS: Final = {
    "cusum_upper": "CUSUM, deterioration",
    "cusum_lower": "CUSUM, improvement",
    "funnel": "O/E outside the funnel",
}


def signals_section(inputs: ReportInputs, disclosure: Disclosure) -> Section:
    """Return Signals: a table of the surgeon and site views' signals, new ones first, or why there is none."""
    section = Section("signals", "Signals")
    frames = [frame for view in ("surgeon", "site") if (frame := _view_signals(inputs, view, disclosure)) is not None]
    if not frames:
        section.blocks.append(Prose("No signals table: rerun `ector workflow surgeon` and `ector workflow site`."))
        return section
    signals = pl.concat(frames, how="vertical")
    if signals.height == 0:
        section.blocks.append(Prose("No chart crossed its decision limit: no signal."))
        return section
    new = int(signals["new"].sum())
    section.blocks.append(
        Prose(
            f"{signals.height} signals, {new} new since the previous run. A CUSUM signals when it crosses its"
            " decision limit h (then it restarts at 0); a funnel signal is a risk-adjusted O/E outside the outer"
            " limit. See Methods."
        )
    )
    if disclosure.external:
        # One row per unit, outcome and chart, without cases, dates or a count: each stands for patients' cases.
        shown = (
            signals.group_by("view", "unit", "outcome", "chart")
            .agg(pl.col("new").any())
            .select("new", "view", "unit", "outcome", "chart")
            .sort(["new", "view", "unit", "outcome", "chart"], descending=[True, False, False, False, False])
        )
    else:
        shown = signals.select(
            "new", "view", "unit", "outcome", "chart", "case", "date", "value", "limit", "first seen"
        )
    table = counts_gt(
        shown,
        k=disclosure.min_cell_size,
        external=disclosure.external,
        table_id="signals",
        title="Signals",
        subtitle="new since the previous run first",
    )
    section.blocks.append(TableBlock("signals", "Signals", table))
    return section


def _view_signals(inputs: ReportInputs, view: str, disclosure: Disclosure) -> pl.DataFrame | None:
    data = inputs.view(view)
    signals = data.table("signals") if data is not None else None
    if data is None or signals is None or "first_seen_run" not in signals.columns:
        return None
    summary = data.tables["summary"]
    if view == "surgeon":
        labels = labels_of(summary["unit_id"].to_list(), "surgeon", disclosure, inputs.surgeon_names)
    else:
        labels = site_labels(summary)
    latest: Any = inputs.manifest.get("stages", {}).get(f"workflow/{view}", {}).get("run")
    new = pl.col("first_seen_run") == latest if latest is not None else pl.lit(value=False)
    shown = signals.select(
        new=new,
        view=pl.lit(view),
        unit=pl.col("unit_id").replace_strict(labels, default=pl.col("unit_id"), return_dtype=pl.String),
        outcome=pl.col("outcome").replace_strict(
            {o: outcome_label(o) for o in signals["outcome"].unique().to_list()}, return_dtype=pl.String
        ),
        chart=pl.col("chart").replace_strict(CHART_LABELS, default=pl.col("chart"), return_dtype=pl.String),
        case=pl.col("case_seq").cast(pl.String),
        date=pl.col("surgery_date").cast(pl.String),
        value="statistic",
        limit="limit",
        **{"first seen": pl.format("run {}", pl.col("first_seen_run"))},
        __seq="case_seq",  # cases in their order, not as text
    )
    order = ["new", "view", "unit", "outcome", "chart", "__seq"]
    return shown.sort(order, descending=[True, False, False, False, False, False], nulls_last=True).drop("__seq")
