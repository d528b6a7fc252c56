"""The Surgeons and Sites sections: the units table, funnel plots, monitoring charts, volume trend, case mix.

Charts are described as ChartSpecs (builder name and data) and drawn later by `render`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from ector.report.chartdata import (
    ChartSpec,
    case_mix_data,
    cusum_data,
    funnel_data,
    learning_data,
    monitored_units,
    trend_data,
    volume_order,
)
from ector.report.disclosure import Disclosure
from ector.report.formats import outcome_label
from ector.report.inputs import ReportInputs, ViewData, unit_series
from ector.report.page import FigureBlock, NotAvailable, Prose, Section, TableBlock
from ector.report.prepare import labels_of, units_table
from ector.report.sections import available_outcomes, not_run
from ector.report.tables import units_gt
from ector.settings import Settings
from ector.workflows.signals import cusum_level

CHART_NOTE: Final = "Dashed: the decision limits h. Diamonds: signals; the chart restarts at 0 after each."
MAX_MONITORED: Final = 6  # surgeons per monitoring chart; bounded so the report's time does not grow
FUNNEL_MEASURES: Final = ("oe_ratio", "proportion")  # the first with data is drawn: risk-adjusted when possible
# Descriptive columns shown beside each unit (a site's name is already in its label).
ATTRIBUTES: Final = {"surgeon": ("specialty",), "site": ("site_type", "region")}


def surgeons_section(inputs: ReportInputs, disclosure: Disclosure, settings: Settings) -> Section:
    """Return Surgeons: the table, a funnel per outcome, learning curves and CUSUM/VLAD of flagged surgeons."""
    section = Section("surgeons", "Surgeons")
    view = inputs.view("surgeon")
    if view is None or view.table("summary") is None:
        section.blocks.append(not_run("surgeon"))
        return section
    labels = labels_of(view.tables["summary"]["unit_id"].to_list(), "surgeon", disclosure, inputs.surgeon_names)
    section.blocks += _table_and_funnels(view, "surgeon", labels, disclosure, settings)
    section.blocks += _monitoring(view, labels, disclosure, settings)
    return section


def sites_section(inputs: ReportInputs, disclosure: Disclosure, settings: Settings) -> Section:
    """Return Sites: the volume trend, the table, a funnel per outcome and the case mix."""
    section = Section("sites", "Sites")
    view = inputs.view("site")
    if view is None or view.table("summary") is None:
        section.blocks.append(not_run("site"))
        return section
    summary = view.tables["summary"]
    labels = site_labels(summary)
    order = volume_order(summary, labels)
    trend = view.table("volume_trend")
    if trend is not None and trend.height:
        data = trend_data(trend, labels, disclosure)
        caption = "Cases per site and period" + (
            "; grey: withheld (fewer than the disclosure threshold, or a complement)" if disclosure.external else ""
        )
        section.blocks.append(
            FigureBlock(
                "site-volume-trend",
                "Volume by site and period",
                ChartSpec(
                    "trend",
                    {
                        "trend": data,
                        "order": order,
                        "extremes_only": disclosure.external,
                        "title": "Volume by site and period",
                        "caption": caption,
                    },
                ),
                caption,
                wide=True,
            )
        )
    else:
        section.blocks.append(
            NotAvailable(
                "Volume trend", "workflow/site/volume_trend.parquet does not exist: rerun `ector workflow site`."
            )
        )
    section.blocks += _table_and_funnels(view, "site", labels, disclosure, settings)
    mix = view.table("case_mix")
    mix_data = case_mix_data(mix, labels, disclosure) if mix is not None else None
    if mix_data is not None and mix_data.height:
        caption = "Share of each site's cases aged 80+, ASA III or more, emergency and robotic, against all sites."
        section.blocks.append(
            FigureBlock(
                "site-case-mix",
                "Case mix by site",
                ChartSpec(
                    "case_mix", {"mix": mix_data, "order": order, "title": "Case mix by site", "caption": caption}
                ),
                caption,
                wide=True,
            )
        )
    else:
        section.blocks.append(NotAvailable("Case mix", "no case-mix characteristic is available in the case mart."))
    return section


def _table_and_funnels(
    view: ViewData, kind: str, labels: dict[str, str], disclosure: Disclosure, settings: Settings
) -> list[FigureBlock | TableBlock | NotAvailable | Prose]:
    blocks: list[FigureBlock | TableBlock | NotAvailable | Prose] = []
    summary = view.tables["summary"]
    outcomes, missing = available_outcomes(view)
    funnel = view.table("funnel")
    frame = units_table(summary, funnel, outcomes, labels, disclosure)
    noun = kind
    table = units_gt(
        frame,
        outcomes,
        k=disclosure.min_cell_size,
        external=disclosure.external,
        unit_noun=noun,
        attributes=ATTRIBUTES[kind],
        table_id=f"{kind}s",
        title=f"{noun.capitalize()}s: volume, outcomes and flags",
    )
    blocks.append(TableBlock(f"{kind}s", f"{noun.capitalize()}s", table, sortable=True))
    blocks += [NotAvailable(outcome_label(o), why) for o, why in missing]
    if funnel is None or funnel.height == 0:
        blocks.append(NotAvailable("Funnel plots", f"workflow/{kind}/funnel.parquet holds no rows."))
        return blocks
    inner, outer = settings.analysis.funnel_limits[0], settings.analysis.funnel_limits[-1]
    method = settings.analysis.funnel_method
    cases = dict(zip(summary["unit_id"], summary["cases"], strict=True))
    for outcome in outcomes:
        data = next(
            (
                d
                for m in FUNNEL_MEASURES
                if (d := funnel_data(funnel, outcome, m, labels, disclosure, (inner, outer), cases, method)) is not None
            ),
            None,
        )
        if data is None:
            blocks.append(
                NotAvailable(f"Funnel plot of {outcome_label(outcome)}", "no unit has cases or expected events.")
            )
            continue
        name = f"{kind}-funnel-{outcome}"
        title = f"Funnel plot: {outcome_label(outcome)} by {noun}"
        blocks.append(FigureBlock(name, title, ChartSpec("funnel", {"data": data, "unit_noun": noun}), title))
    return blocks


def _monitoring(
    view: ViewData, labels: dict[str, str], disclosure: Disclosure, settings: Settings
) -> list[FigureBlock | NotAvailable | Prose]:
    blocks: list[FigureBlock | NotAvailable | Prose] = []
    units, missing, left_out = monitored_units(
        view.table("funnel"), settings.report.highlight_surgeons, list(labels), MAX_MONITORED, view.table("signals")
    )
    if missing:
        blocks.append(
            Prose(
                "Some surgeons in report.highlight_surgeons are not in the surgeon view."
                if disclosure.external
                else f"Not in the surgeon view: {', '.join(missing)} (report.highlight_surgeons)."
            )
        )
    if not units:
        blocks.append(
            Prose(
                "No surgeon is above a funnel limit or signals on a CUSUM, and none is listed in"
                " report.highlight_surgeons: no monitoring charts."
            )
        )
        return blocks
    if left_out:
        blocks.append(
            Prose(
                "Further flagged surgeons are in the table above; the charts show the most severe."
                if disclosure.external
                else f"{left_out} further flagged surgeons are in the table above; "
                f"the charts show the {MAX_MONITORED} most severe."
            )
        )
    blocks += _learning_blocks(view, units, labels, disclosure)
    if disclosure.external:
        blocks.append(
            NotAvailable(
                "CUSUM and VLAD charts",
                "left out of external reports: each step of these per-case series shows one patient's outcome.",
            )
        )
        return blocks
    series = unit_series(view, "cusum", units)
    if series is None or series.height == 0:
        blocks.append(
            NotAvailable(
                "CUSUM and VLAD charts", "no monitored outcome has a predicted risk (the cusum table is empty)."
            )
        )
        return blocks
    data = cusum_data(series, labels)
    rule = cusum_level(settings.analysis)
    caption = (
        "Steiner risk-adjusted CUSUMs per monitored outcome: above 0 the chart for a doubling of the odds of the"
        " event (R_A = 2), below 0 the chart for a halving (R_A = 0.5). Dashed: the decision limits h, chosen so"
        f" that a surgeon performing as expected crosses one with probability {rule}; a diamond is a signal,"
        " after which the chart restarts at 0. " + _limits_text(data.limits)
    )
    blocks.append(
        FigureBlock(
            "surgeon-cusum",
            "Risk-adjusted CUSUM",
            ChartSpec("cusum", {"data": data, "title": "Risk-adjusted CUSUM", "caption": CHART_NOTE}),
            caption,
            wide=True,
        )
    )
    caption = (
        "VLAD: running sum of expected minus observed events (above 0: fewer events than expected);"
        " diamonds: the CUSUM signals."
    )
    blocks.append(
        FigureBlock(
            "surgeon-vlad",
            "VLAD",
            ChartSpec("vlad", {"data": data, "title": "Variable life-adjusted display", "caption": caption}),
            caption,
            wide=True,
        )
    )
    return blocks


def site_labels(summary: pl.DataFrame) -> dict[str, str]:
    """Return each site's label: its name with its id, or its id."""
    names = dict(zip(summary["unit_id"], summary["site_name"], strict=True)) if "site_name" in summary.columns else {}
    return {u: (f"{names[u]} ({u})" if names.get(u) else u) for u in summary["unit_id"].to_list()}


def _limits_text(limits: pl.DataFrame) -> str:
    """The value of h used per outcome, as written beside the chart."""
    parts = [
        f"{outcome_label(outcome, short=True)}: h = {upper:.2f} above, {lower:.2f} below"
        for outcome, upper, lower in limits.select("outcome", "h_upper", "h_lower").iter_rows()
    ]
    return "; ".join(parts) + "."


def _learning_blocks(
    view: ViewData, units: Sequence[str], labels: dict[str, str], disclosure: Disclosure
) -> list[FigureBlock | NotAvailable | Prose]:
    series = unit_series(view, "learning_curve", units)
    if series is None or series.height == 0:
        return [NotAvailable("Learning curves", "no operative minutes for these surgeons (cases.surgery_end missing).")]
    lines, bins = learning_data(series, labels, disclosure)
    if lines.height == 0 and bins.height == 0:
        return [NotAvailable("Learning curves", "too few cases with operative minutes to draw.")]
    caption = "Points: median minutes of consecutive blocks of cases; line: moving median of the last ten cases."
    if disclosure.external:
        caption += f" Each point stands for at least {disclosure.min_cell_size} cases."
    plot = ChartSpec("learning", {"lines": lines, "bins": bins, "title": "Learning curves", "caption": caption})
    return [
        FigureBlock(
            "surgeon-learning-curves", "Learning curves of flagged and highlighted surgeons", plot, caption, wide=True
        )
    ]
