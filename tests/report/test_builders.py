"""The pure builders: cell text, the bulk table body against great-tables' own, the page, chart data."""

from __future__ import annotations

import polars as pl
import pytest
from great_tables import GT, loc, style

from ector.report.chartdata import cusum_data, funnel_curves, monitored_units
from ector.report.disclosure import Disclosure, suppress_counts
from ector.report.formats import (
    FLAG_COLOURS,
    count_text,
    decimal_text,
    median_iqr_text,
    n_of_n_text,
    rate_text,
    ratio_text,
)
from ector.report.page import NotAvailable, Prose, Section, external_references, render_page, strip_external_imports
from ector.report.prepare import cohort_table, units_table
from ector.report.tables import BulkTable, units_gt
from ector.stats.funnel import FunnelMethod


def test_counts_read_with_separators_marks_and_dashes() -> None:
    frame = suppress_counts(pl.DataFrame({"n": [0, 4, 1234567, 30, None]}, schema={"n": pl.Int64}), ["n"], 11)

    text = frame.select(count_text("n", 11, frame.columns).alias("t"))["t"].to_list()

    assert text == ["0", "<11", "1,234,567", "*", "—"]


def test_rates_ratios_and_medians_always_carry_a_decimal() -> None:
    frame = pl.DataFrame(
        {
            "e": [3],
            "n": [20],
            "r": [0.15],
            "lo": [0.0524],
            "hi": [0.3604],
            "oe": [1.0],
            "m_median": [3.0],
            "m_q1": [2.0],
            "m_q3": [5.25],
        }
    )

    row = frame.select(
        a=n_of_n_text("e", "n", 11, frame.columns),
        b=rate_text("r", "lo", "hi"),
        c=ratio_text("oe", "lo", "hi"),
        d=median_iqr_text("m"),
    ).row(0)

    assert row == ("3/20", "15.0% (5.2\u201336.0)", "1.00 (0.05\u20130.36)", "3.0 (2.0\u20135.2)")
    assert [decimal_text(v) for v in (1.0, 0.08123, 1234.0)] == ["1.0", "0.0812", "1.23e+03"]


def test_bulk_body_is_the_html_great_tables_itself_writes() -> None:
    cells = pl.DataFrame({"unit": ["a & b", "<c>", "d's"], "x": ["1", "2", '"3"'], "y": ["p", "q", "r"]})
    fills = {"x": pl.Series(["#f4a6a0", None, "#cfe3f5"], dtype=pl.String)}
    base = GT(cells.head(1), id="t").tab_spanner("Sp", columns=["x", "y"], id="sp").cols_align("right", columns=["x"])

    bulk = BulkTable(base, cells, fills).as_raw_html()

    reference = (
        GT(cells, id="t")
        .tab_spanner("Sp", columns=["x", "y"], id="sp")
        .cols_align("right", columns=["x"])
        .tab_style(style.fill(color="#f4a6a0"), loc.body(columns="x", rows=[0]))
        .tab_style(style.fill(color="#cfe3f5"), loc.body(columns="x", rows=[2]))
        .as_raw_html()
    )
    assert bulk == reference


def test_units_table_sorts_by_volume_and_hides_the_order_of_small_units() -> None:
    summary = pl.DataFrame({"unit_id": ["a", "b", "c", "d"], "cases": [5, 300, 120, 7]})
    labels = {"a": "Z-unit", "b": "B-unit", "c": "C-unit", "d": "A-unit"}

    internal = units_table(summary, None, [], labels, Disclosure("internal", 11))
    external = units_table(summary, None, [], labels, Disclosure("external", 11, b"k" * 16))

    assert internal["unit"].to_list() == ["B-unit", "C-unit", "A-unit", "Z-unit"]
    assert external["unit"].to_list() == ["B-unit", "C-unit", "A-unit", "Z-unit"]  # small ones by label
    assert "unit_id" not in external.columns
    assert external["cases"].to_list() == [300, 120, None, None]


def test_cohort_levels_read_as_words_and_asa_in_roman_numerals() -> None:
    summary = pl.DataFrame(
        {"dimension": ["all", "asa_class", "asa_class", "sex"], "level": [None, "3", None, "F"], "cases": [9, 5, 4, 9]}
    )

    levels = cohort_table(summary, [], Disclosure("internal", 11))["level"].to_list()

    assert levels == ["all cases", "ASA III", "unknown", "F"]


@pytest.mark.parametrize(
    ("method", "known"),
    [
        # methods.md's known values at E = 20: exact (interpolated) and FunnelPlotR's approximate limits.
        ("exact", {("95%", "lower"): 0.560250, ("95%", "upper"): 1.437288, ("99.8%", "lower"): 0.358459,
                   ("99.8%", "upper"): 1.735676}),
        ("approximate", {("95%", "lower"): 0.6108260, ("95%", "upper"): 1.544419, ("99.8%", "lower"): 0.4479107,
                         ("99.8%", "upper"): 1.902094}),
    ],
)  # fmt: skip
def test_oe_limit_curves_are_the_funnel_limits_of_the_method(
    method: FunnelMethod, known: dict[tuple[str, str], float]
) -> None:
    # The grid starts at 0.9 x the smallest denominator: here at E = 20, where methods.md gives known values.
    curves = funnel_curves("oe_ratio", 1.0, None, 20.0 / 0.9, 40.0, (0.95, 0.998), method)

    for (limit, side), value in known.items():
        chosen = curves.filter((pl.col("limit") == limit) & (pl.col("side") == side)).sort("x")
        assert chosen["x"][0] == pytest.approx(20.0)
        assert float(chosen["y"][0]) == pytest.approx(value, abs=1e-6)


def test_highlighted_surgeons_come_first_then_the_most_severe_flags() -> None:
    funnel = pl.DataFrame(
        {
            "unit_id": ["a", "b", "b", "c", "d"],
            "flag": ["high_alert", "high_alarm", "high_alert", "low_alarm", "high_alarm"],
        }
    )

    units, missing, left_out = monitored_units(funnel, ["x", "d", "zz"], ["a", "b", "c", "d", "x"], 3)

    assert units == ["x", "d", "b"]
    assert missing == ["zz"]
    assert left_out == 1  # "a" (an alert) did not fit; "c" is low, not flagged for monitoring


@pytest.mark.parametrize(
    "page",
    [
        '<img src="https://cdn.example/x.png">',
        '<link rel="stylesheet" href="//fonts.example/css">',
        "<style>@import 'fonts.css';</style>",
        "<style>a { background: url(http://x.example/y.png); }</style>",
        '<VIDEO POSTER = "HTTPS://x.example/y.jpg">',
        "<form action='//x.example/post'>",
        "<object DATA=//x.example/o>",
        "<style>@IMPORT 'fonts.css';</style>",
        '<p style="background: URL( "https://x.example/f.png")">',
    ],
)
def test_external_references_are_found_in_every_form(page: str) -> None:
    assert external_references(page)


def test_embedded_images_and_anchors_are_not_external_references() -> None:
    assert external_references('<img src="data:image/png;base64,AAAA"><a href="#surgeons">') == []
    assert "@import" not in strip_external_imports("<style>@import url('https://f.example/c.css');p{}</style>")


def test_a_section_without_data_says_what_and_why() -> None:
    section = Section("sites", "Sites", [NotAvailable("The site view", "run `ector workflow site` first."), Prose("x")])

    page = render_page("Title <&>", "sub", [section], {}, {})

    assert "The site view: not available.</strong> run `ector workflow site` first." in page
    assert '<a href="#sites">Sites</a>' in page
    assert "Title &lt;&amp;&gt;" in page
    assert external_references(page) == []


def test_only_oe_cells_are_coloured_so_no_crude_rate_is_compared_across_case_mix() -> None:
    # A cardiothoracic surgeon with a high crude rate and an O/E of 1.00, beside a gynaecologist with a low one:
    # the crude-rate funnel flags them both, but only the O/E (against their own case mix) may colour a cell.
    frame = pl.DataFrame(
        {
            "unit": ["Cardio", "Gynae"],
            "specialty": ["cardiothoracic", "gynaecology"],
            "cases": [400, 400],
            "m_events": [80, 4],
            "m_cases": [400, 400],
            "m_rate": [0.2, 0.01],
            "m_rate_lower": [0.16, 0.004],
            "m_rate_upper": [0.24, 0.025],
            "m_oe": [1.0, 1.9],
            "m_oe_lower": [0.8, 1.2],
            "m_oe_upper": [1.2, 2.6],
            "m_rate_flag": ["high_alarm", "low_alarm"],
            "m_oe_flag": ["as_expected", "high_alert"],
        }
    )

    bulk = units_gt(frame, ["m"], k=11, external=False, unit_noun="surgeon", attributes=["specialty"],
                    table_id="t", title="Surgeons")  # fmt: skip
    html = bulk.as_raw_html()

    assert set(bulk.fills) == {"m__oe"}
    assert bulk.fills["m__oe"].to_list() == [None, FLAG_COLOURS["high_alert"]]
    body = html[html.index("<tbody") : html.index("</tbody>")]
    assert body.count('style="background-color') == 1  # the gynaecologist's O/E, and nothing in a rate column
    assert "Crude rates are not coloured" in html


def test_cusum_chart_data_carries_the_limits_and_every_signal_at_its_case() -> None:
    # A 600-case series thinned to fewer points: the signals are drawn from their own rows, not from the bins.
    n = 600
    seq = list(range(1, n + 1))
    upper = [float(i % 100) / 20 for i in range(n)]  # climbs to 4.95, restarts: crosses h = 4.9 every 100 cases
    series = pl.DataFrame(
        {
            "unit_id": ["S1"] * n,
            "outcome": ["mortality_30d"] * n,
            "seq": seq,
            "cusum_upper": upper,
            "cusum_lower": [-0.1] * n,
            "h_upper": [4.9] * n,
            "h_lower": [3.0] * n,
            "signal_upper": [u > 4.9 for u in upper],
            "signal_lower": [False] * n,
            "vlad": [0.5] * n,
        }
    )

    data = cusum_data(series, {"S1": "Dr One"})

    assert data.paths.height < n
    assert data.limits.rows() == [("mortality_30d", 4.9, 3.0)]
    assert data.signals["seq"].to_list() == [100, 200, 300, 400, 500, 600]
    assert (data.signals["value"] > 4.9).all() and data.signals["unit"].unique().to_list() == ["Dr One"]
    assert data.paths["cusum_upper"].max() == pytest.approx(4.95)
