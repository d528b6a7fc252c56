"""Chart builders: prepared (already disclosed) aggregates -> plotnine `ggplot`. Pure: nothing is drawn here.

Importing this module imports plotnine (about a second), so only the code that draws charts imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import plotnine
import polars as pl
from mizani.breaks import breaks_extended
from plotnine import ggplot

from ector.report.chartdata import ChartSpec, CusumData, FunnelData
from ector.report.formats import FLAG_LABELS, outcome_label

# plotnine annotates some of its functions and not others (aes, theme, element_*): mypy --strict would reject
# each call to an unannotated one, so the builders reach plotnine through an Any-typed name.
p9: Any = plotnine
# Each builder adds its layers in place, as one list: `plot + layer` deep-copies the plot first (the demo's
# 17 charts: 0.36 s of CPU to build one `+` at a time, 0.19 s with lists).

POINT_COLOURS: Final[dict[str, str]] = {
    "high_alarm": "#b2182b",
    "high_alert": "#ef8a62",
    "as_expected": "#6b6b6b",
    "low_alert": "#67a9cf",
    "low_alarm": "#2166ac",
    "too_few_cases": "#c8c8c8",
}
FACET_COLUMNS: Final = 3
BASE_SIZE: Final = 9
RASTER_ABOVE: Final = 300  # layers with more points are drawn as a bitmap inside the SVG: vectors would be slow


def _theme(width: float, height: float) -> Any:
    return p9.theme_bw(base_size=BASE_SIZE) + p9.theme(
        figure_size=(width, height),
        legend_position="bottom",
        legend_title=p9.element_blank(),
        panel_grid_minor=p9.element_blank(),
        plot_caption=p9.element_text(size=BASE_SIZE - 1, ha="left"),
        strip_background=p9.element_rect(fill="#eef1f4"),
    )


def _pandas(frame: pl.DataFrame) -> Any:
    # plotnine works on pandas: handing it numpy-backed columns spares it iterating Arrow-backed ones
    # value by value (a third of the drawing time of a 2,000-surgeon funnel plot).
    return frame.to_pandas()


def _extremes(limits: tuple[float, float]) -> list[float]:
    return [limits[0], limits[1]]


def _percent_labels(breaks: Sequence[float]) -> list[str]:
    return [f"{b * 100:.3g}%" for b in breaks]


def funnel_chart(data: FunnelData, *, unit_noun: str) -> ggplot:
    """Return a funnel plot: one point per unit, dashed limit curves, the target line, outliers labelled."""
    proportion = data.measure == "proportion"
    points = data.points.with_columns(
        flag=pl.col("flag").replace_strict(FLAG_LABELS, default=pl.col("flag"), return_dtype=pl.String)
    )
    colours = {FLAG_LABELS[f]: c for f, c in POINT_COLOURS.items()}
    inner, outer = (f"{level * 100:g}%" for level in data.levels)
    curves = data.curves.with_columns(series=pl.concat_str("limit", pl.lit(" "), "side"))
    labelled = points.filter("labelled")
    title = f"{outcome_label(data.outcome)}: {'crude rate' if proportion else 'observed / expected'} by {unit_noun}"
    caption = (
        f"Limits {inner} (dashed) and {outer} (dotted) around the target; labelled: units outside a limit, alarms first"
    )
    if data.tau2 is not None:
        caption += f"; overdispersion phi = {data.phi:.3g}, tau2 = {data.tau2:.3g}"
    plot: ggplot = p9.ggplot()
    plot += [
        p9.geom_hline(yintercept=data.target, colour="#333333", size=0.5),
        p9.geom_line(
            p9.aes("x", "y", group="series", linetype="limit"), data=_pandas(curves), colour="#555555", size=0.45
        ),
        p9.scale_linetype_manual(values={inner: "dashed", outer: "dotted"}, guide=None),
        p9.geom_point(
            p9.aes("denominator", "value", colour="flag"),
            data=_pandas(points),
            size=1.8,
            alpha=0.85,
            raster=points.height > RASTER_ABOVE,
        ),
        p9.scale_colour_manual(values=colours, breaks=[v for k, v in FLAG_LABELS.items() if k in POINT_COLOURS]),
        p9.labs(
            title=title,
            x="cases (N)" if proportion else "expected events (E)",
            y="rate" if proportion else "observed / expected",
            caption=caption,
        ),
        _theme(7.5, 4.8),
    ]
    if labelled.height:
        plot += p9.geom_text(
            p9.aes("denominator", "value", label="label"),
            data=_pandas(labelled),
            size=7,
            ha="left",
            va="bottom",
            # A little right of the point, in data units: the label must not start under its own marker.
            nudge_x=0.012 * points.select(pl.col("denominator").max()).item(),
            nudge_y=0,
            colour="#222222",
        )
    if proportion:
        plot += p9.scale_y_continuous(labels=_percent_labels)
    return plot


def learning_chart(lines: pl.DataFrame, bins: pl.DataFrame, *, title: str, caption: str) -> ggplot:
    """Return learning curves, one panel per surgeon: binned median minutes and the moving median per family."""
    panels = max(1, lines["panel"].n_unique() if lines.height else bins["panel"].n_unique())
    rows = -(-panels // FACET_COLUMNS)
    plot: ggplot = p9.ggplot()
    plot += [
        p9.geom_point(
            p9.aes("case_sequence", "minutes", colour="procedure_family"), data=_pandas(bins), size=1.2, alpha=0.6
        ),
        p9.geom_line(
            p9.aes("case_sequence", "moving_median", colour="procedure_family"), data=_pandas(lines), size=0.6
        ),
        p9.facet_wrap("panel", ncol=FACET_COLUMNS, scales="free_x"),
        p9.labs(
            title=title, x="case number (surgeon's own, per procedure family)", y="operative minutes", caption=caption
        ),
        _theme(8.5, 1.2 + 2.3 * rows),
    ]
    return plot


def cusum_chart(data: CusumData, *, title: str, caption: str) -> ggplot:
    """Return the risk-adjusted CUSUMs, one panel per surgeon: per monitored outcome its upper chart above 0 and
    its lower chart below, the decision limits h and -h dashed, and every signal a point on the chart."""
    limits = data.limits.unpivot(index="outcome", on=["h_upper", "h_lower"], variable_name="side", value_name="h")
    limits = limits.with_columns(h=pl.when(pl.col("side") == "h_lower").then(-pl.col("h")).otherwise("h"))
    plot = _monitoring_base(data.paths, "cusum_upper", title=title, y_label="CUSUM", caption=caption)
    plot += [
        p9.geom_step(p9.aes(y="cusum_lower"), size=0.6),
        p9.geom_hline(
            p9.aes(yintercept="h", colour="outcome"), data=_pandas(_short(limits)), linetype="dashed", size=0.5
        ),
        *_signal_marks(data.signals, "value"),
    ]
    return plot


def vlad_chart(data: CusumData, *, title: str, caption: str) -> ggplot:
    """Return the VLAD paths, one panel per surgeon, with the CUSUMs' signals marked where they fell."""
    plot = _monitoring_base(data.paths, "vlad", title=title, y_label="expected - observed", caption=caption)
    plot += _signal_marks(data.signals, "vlad")
    return plot


def _signal_marks(signals: pl.DataFrame, column: str) -> list[Any]:
    """The signals as open diamonds at their case on the `column` line; none when there is no signal."""
    if signals.height == 0:
        return []
    return [p9.geom_point(p9.aes(y=column), data=_pandas(_short(signals)), shape="D", size=2.2, fill="white")]


def _monitoring_base(paths: pl.DataFrame, column: str, *, title: str, y_label: str, caption: str) -> ggplot:
    """The panels of per-case series: one per surgeon, one line per monitored outcome, the line at 0."""
    panels = max(1, paths["unit"].n_unique())
    rows = -(-panels // FACET_COLUMNS)
    plot: ggplot = p9.ggplot(_pandas(_short(paths)), p9.aes("seq", column, colour="outcome"))
    plot += [
        p9.geom_hline(yintercept=0, colour="#999999", size=0.4),
        p9.geom_step(size=0.6),
        p9.facet_wrap("unit", ncol=FACET_COLUMNS, scales="free_x"),
        p9.labs(title=title, x="monitored case number", y=y_label, caption=caption),
        _theme(8.5, 1.2 + 2.3 * rows),
    ]
    return plot


def _short(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with its outcomes by their short labels, as the legend names them."""
    names = {o: outcome_label(o, short=True) for o in frame["outcome"].unique().to_list()}
    return frame.with_columns(outcome=pl.col("outcome").replace_strict(names, return_dtype=pl.String))


def trend_chart(
    trend: pl.DataFrame, order: Sequence[str], *, title: str, caption: str, extremes_only: bool = False
) -> ggplot:
    """Return the volume heat map: one row per site (`order`, top first), one column per period, colour = cases.

    Withheld counts are grey: the colour scale only ever sees the counts that are shown. `extremes_only`
    labels the colour bar at the least and greatest shown counts only, so no tick reads as a small count.
    """
    periods = sorted(trend["period"].unique().drop_nulls().to_list())
    step = max(1, len(periods) // 12)
    plot: ggplot = p9.ggplot(_pandas(trend), p9.aes("period", "unit", fill="cases"))
    plot += [
        p9.geom_tile(colour="white", size=0.3, raster=trend.height > RASTER_ABOVE),
        p9.scale_fill_gradient(
            low="#deebf7",
            high="#08519c",
            na_value="#d9d9d9",
            name="cases",
            guide=p9.guide_colorbar(nbin=24),
            breaks=_extremes if extremes_only else True,
        ),
        p9.scale_x_discrete(breaks=periods[::step]),
        p9.scale_y_discrete(limits=list(reversed(order))),
        p9.labs(title=title, x="period", y="", caption=caption),
        _theme(8.5, 1.6 + 0.22 * len(order)),
        p9.theme(axis_text_x=p9.element_text(rotation=45, ha="right"), legend_position="right"),
    ]
    return plot


def case_mix_chart(mix: pl.DataFrame, order: Sequence[str], *, title: str, caption: str) -> ggplot:
    """Return the case-mix dot plot: each unit's share per characteristic against all units (dashed line).

    Units run down the chart in `order` (largest first).
    """
    names = {
        "age_80_plus": "aged 80+",
        "asa_3_plus": "ASA III or more",
        "emergency": "emergency",
        "robotic": "robotic",
    }
    data = mix.with_columns(
        characteristic=pl.col("characteristic").replace_strict(names, default=pl.col("characteristic"))
    )
    reference = data.group_by("characteristic").agg(pl.col("all_percent").first())
    plot: ggplot = p9.ggplot()
    plot += [
        p9.geom_vline(p9.aes(xintercept="all_percent"), data=_pandas(reference), colour="#b2182b", linetype="dashed"),
        p9.geom_point(p9.aes("percent", "unit"), data=_pandas(data.filter(pl.col("percent").is_not_null())), size=1.8),
        p9.facet_wrap("characteristic", nrow=1, scales="free_x"),
        p9.scale_x_continuous(breaks=breaks_extended(n=3)),
        p9.scale_y_discrete(limits=list(reversed(order))),
        p9.labs(title=title, x="% of the unit's cases (dashed: all units)", y="", caption=caption),
        _theme(8.5, 1.8 + 0.2 * len(order)),
    ]
    return plot


def calibration_chart(points: pl.DataFrame, *, title: str, caption: str) -> ggplot:
    """Return a calibration plot: observed against expected rate by tenth of predicted risk, one colour per model,
    with the diagonal of perfect calibration."""
    top = float(points.select(pl.max_horizontal(pl.col("expected").max(), pl.col("observed").max())).item() or 0)
    top = max(top * 1.05, 1e-3)
    plot: ggplot = p9.ggplot(_pandas(points), p9.aes("expected", "observed", colour="model"))
    plot += [
        p9.geom_abline(intercept=0, slope=1, linetype="dashed", colour="#555555"),
        p9.geom_line(size=0.5, alpha=0.7),
        p9.geom_point(size=2),
        p9.scale_x_continuous(labels=_percent_labels, limits=(0, top)),
        p9.scale_y_continuous(labels=_percent_labels, limits=(0, top)),
        p9.scale_colour_manual(values=["#2166ac", "#b2182b", "#1b7837"]),
        p9.labs(title=title, x="expected (mean predicted risk)", y="observed rate", caption=caption),
        _theme(5.5, 4.6),
    ]
    return plot


BUILDERS: Final[dict[str, Callable[..., ggplot]]] = {
    "calibration": calibration_chart,
    "funnel": funnel_chart,
    "learning": learning_chart,
    "cusum": cusum_chart,
    "vlad": vlad_chart,
    "trend": trend_chart,
    "case_mix": case_mix_chart,
}


def build(spec: ChartSpec) -> ggplot:
    """Return the ggplot a ChartSpec describes."""
    builder: Callable[..., Any] = BUILDERS[spec.builder]
    plot: ggplot = builder(**spec.kwargs)
    return plot
