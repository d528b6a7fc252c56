"""Table builders: prepared (already disclosed) frames -> great-tables `GT`. Pure: nothing is written here.

Cells are formatted to text first (`formats`), so the HTML shows exactly what the disclosed data holds.
No column of a GT frame is called `cases`: that name clashes with `cols_label`'s own first parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from great_tables import GT

from ector.report.formats import (
    FLAG_COLOURS,
    FLAG_LABELS,
    count_text,
    decimal_text,
    median_iqr_text,
    n_of_n_text,
    outcome_label,
    percent_text,
    rate_text,
    ratio_text,
)

_ATTRIBUTE_LABELS = {
    "specialty": "Specialty",
    "site_name": "Site",
    "site_type": "Type",
    "region": "Region",
}
_DIMENSION_LABELS = {
    "all": "Whole cohort",
    "age_band": "Age band",
    "sex": "Sex",
    "asa_class": "ASA class",
    "urgency": "Urgency",
    "procedure_family": "Procedure family",
    "approach": "Approach",
    "period": "Period",
}


def legend(k: int, external: bool, *, rates: bool = True) -> str:
    """Return the note explaining the marks a table may carry (`rates`: it shows n/N and intervals)."""
    note = "n/N: events / cases with the outcome known; rates with their Wilson 95% interval. " if rates else ""
    note += "— : no value (not available"
    if external:
        return (
            note
            + f", or withheld with its count). <{k}: a count below {k} (not zero). "
            + "*: withheld so that no small count can be worked out from a total."
        )
    return note + ")."


def _base(
    frame: pl.DataFrame,
    table_id: str,
    title: str,
    subtitle: str | None = None,
    *,
    rowname_col: str | None = None,
    groupname_col: str | None = None,
) -> GT:
    return (
        GT(frame, id=table_id, rowname_col=rowname_col, groupname_col=groupname_col)
        .tab_header(title=title, subtitle=subtitle)
        .tab_options(
            table_font_size="13px",
            data_row_padding="3px",
            column_labels_font_weight="bold",
            container_overflow_x="auto",
            table_font_names=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
        )
    )


@dataclass(frozen=True)
class BulkTable:
    """A GT table whose body rows are rendered in one vectorised pass; `as_raw_html()` like a GT.

    great-tables renders about 150 µs per cell, so 2,000 surgeons x 23 columns would take 7 s. The GT here
    holds the first row only, for everything around the body (header, spanners, notes, CSS); each cell
    of that row gives the opening tag every row's cell in its column gets, with the fill colour in the
    `style` attribute great-tables would have put there. Tests check the result equals great-tables' own.
    """

    table: GT
    cells: pl.DataFrame  # the text of every cell, one column per table column, in order
    fills: dict[str, pl.Series]  # column -> background colour per row (null: none)

    def as_raw_html(self) -> str:
        """Return the table's HTML fragment, as GT.as_raw_html() would."""
        html = self.table.as_raw_html()
        body = re.search(r'(<tbody class="gt_table_body">)(.*?)(</tbody>)', html, re.DOTALL)
        if body is None:
            raise ValueError("great-tables' HTML has no table body where expected")
        tags = re.findall(r"<(td|th)( [^>]*)>", body.group(2))
        if len(tags) != self.cells.width:
            raise ValueError(f"expected {self.cells.width} cells in great-tables' first row, found {len(tags)}")
        frame = self.cells.with_columns(series.alias(f"__fill_{name}") for name, series in self.fills.items())
        columns = []
        for (tag, attributes), name in zip(tags, self.cells.columns, strict=True):
            fill = pl.col(f"__fill_{name}")
            style = (
                pl.when(fill.is_not_null())
                .then(pl.concat_str(pl.lit(' style="background-color: '), fill, pl.lit(';"')))
                .otherwise(pl.lit(""))
                if name in self.fills
                else pl.lit("")
            )
            columns.append(
                pl.concat_str(
                    pl.lit(f"    <{tag}"), style, pl.lit(f"{attributes}>"), _escaped(name), pl.lit(f"</{tag}>")
                )
            )
        rows = frame.select(
            pl.concat_str(pl.lit("  <tr>\n"), pl.concat_str(columns, separator="\n"), pl.lit("\n  </tr>")).alias("row")
        )["row"]
        return html[: body.start(2)] + "\n" + "\n".join(rows.to_list()) + "\n" + html[body.end(2) :]


def _escaped(column: str) -> pl.Expr:
    """Return the column's text HTML-escaped as great-tables escapes it (html.escape, quotes included)."""
    text = pl.col(column).cast(pl.String).fill_null("")
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
        text = text.str.replace_all(char, entity, literal=True)
    return text


def units_gt(
    frame: pl.DataFrame,
    outcomes: Sequence[str],
    *,
    k: int,
    external: bool,
    unit_noun: str,
    attributes: Sequence[str],
    table_id: str,
    title: str,
) -> BulkTable:
    """Return the surgeons or sites table: volume, medians, and per outcome n/N, rate and O/E, flags coloured.

    Each O/E cell is coloured by the unit's flag on the O/E funnel, so every colour belongs to the number it sits
    on and compares the unit with what its own case mix predicts (docs/methods.md, "Fair comparison"). Crude rates
    are not coloured: against the rate of every unit they would compare, say, a cardiothoracic surgeon with
    gynaecologists. Rows keep the frame's order (by volume).
    """
    columns = frame.columns
    display: list[pl.Expr] = [pl.col("unit").alias("unit")]
    display += [pl.col(a).fill_null("—").alias(f"attr_{a}") for a in attributes if a in columns]
    display.append(count_text("cases", k, columns).alias("n_cases"))
    if "operative_minutes_median" in columns:
        display.append(median_iqr_text("operative_minutes").alias("minutes"))
    if "los_days_median" in columns:
        display.append(median_iqr_text("los_days").alias("los"))
    for o in outcomes:
        display += [
            n_of_n_text(f"{o}_events", f"{o}_cases", k, columns).alias(f"{o}__n"),
            rate_text(f"{o}_rate", f"{o}_rate_lower", f"{o}_rate_upper").alias(f"{o}__rate"),
            ratio_text(f"{o}_oe", f"{o}_oe_lower", f"{o}_oe_upper").alias(f"{o}__oe"),
        ]
    shown = frame.select(display)
    labels: dict[str, Any] = {"unit": unit_noun.capitalize(), "n_cases": "Cases"}
    labels |= {f"attr_{a}": _ATTRIBUTE_LABELS.get(a, a) for a in attributes}
    labels |= {"minutes": "Operative min, median (IQR)", "los": "Length of stay, days, median (IQR)"}
    for o in outcomes:
        labels |= {f"{o}__n": "n/N", f"{o}__rate": "% (95% CI)", f"{o}__oe": "O/E (95% CI)"}
    table = _base(shown.head(1), table_id, title).cols_label({c: label for c, label in labels.items() if c in shown})
    for o in outcomes:
        table = table.tab_spanner(label=outcome_label(o), columns=[f"{o}__n", f"{o}__rate", f"{o}__oe"], id=f"sp-{o}")
    table = table.cols_align("right", columns=[c for c in shown.columns if c != "unit" and not c.startswith("attr_")])
    flags = ", ".join(f"{FLAG_LABELS[f]} ({_colour_name(f)})" for f in FLAG_COLOURS)
    table = table.tab_source_note(legend(k, external)).tab_source_note(
        f"Colours mark O/E only, by the unit's flag on the O/E funnel: {flags}. Crude rates are not coloured: units "
        "differ in case mix. Sorted by volume."
    )
    fills = {
        f"{o}__oe": frame[f"{o}_oe_flag"].replace_strict(FLAG_COLOURS, default=None, return_dtype=pl.String)
        for o in outcomes
        if f"{o}_oe_flag" in columns
    }
    return BulkTable(table, shown, fills)


def _colour_name(flag: str) -> str:
    return {"high_alarm": "red", "high_alert": "orange", "low_alert": "light blue", "low_alarm": "blue"}[flag]


def cohort_gt(frame: pl.DataFrame, outcomes: Sequence[str], *, k: int, external: bool, table_id: str) -> GT:
    """Return the cohort table: cases, patients and outcome rates per level, grouped by dimension."""
    columns = frame.columns
    display = [
        pl.col("dimension").replace_strict(_DIMENSION_LABELS, default=pl.col("dimension")).alias("group"),
        pl.col("level").alias("level"),
        count_text("cases", k, columns).alias("n_cases"),
        count_text("patients", k, columns).alias("n_patients"),
    ]
    labels: dict[str, Any] = {"n_cases": "Cases", "n_patients": "Patients"}
    for o in outcomes:
        display += [
            n_of_n_text(f"{o}_events", f"{o}_cases", k, columns).alias(f"{o}__n"),
            rate_text(f"{o}_rate", f"{o}_rate_lower", f"{o}_rate_upper").alias(f"{o}__rate"),
        ]
        labels |= {f"{o}__n": "n/N", f"{o}__rate": "% (95% CI)"}
    shown = frame.select(display)
    table = _base(shown, table_id, "Cohort", rowname_col="level", groupname_col="group").cols_label(labels)
    for o in outcomes:
        table = table.tab_spanner(label=outcome_label(o), columns=[f"{o}__n", f"{o}__rate"])
    table = table.cols_align("right", columns=[c for c in shown.columns if c not in ("group", "level")])
    return table.tab_source_note(legend(k, external))


def headline_gt(frame: pl.DataFrame, *, k: int, external: bool, table_id: str, window_days: int) -> GT:
    """Return the headline figures: totals, and each outcome as n/N with its rate."""
    columns = frame.columns
    outcome_rows = ~pl.col("figure").is_in(["Cases", "Patients", "Surgeons", "Sites"])
    shown = frame.select(
        figure=pl.when(outcome_rows)
        .then(pl.col("figure").map_elements(outcome_label, return_dtype=pl.String))
        .otherwise(pl.col("figure")),
        value=pl.when(outcome_rows)
        .then(n_of_n_text("events", "cases", k, columns))
        .otherwise(count_text("cases", k, columns)),
        rate=pl.when(outcome_rows).then(rate_text("rate", "rate_lower", "rate_upper")).otherwise(pl.lit("")),
    )
    note = f"Outcomes within {window_days} days of surgery where they have a window. " + legend(k, external)
    return (
        _base(shown, table_id, "Headline figures")
        .cols_label({"figure": "", "value": "n/N", "rate": "% (95% CI)"})
        .cols_align("right", columns=["value", "rate"])
        .tab_source_note(note)
    )


def counts_gt(
    frame: pl.DataFrame,
    *,
    k: int,
    external: bool,
    table_id: str,
    title: str,
    labels: Mapping[str, str] | None = None,
    subtitle: str | None = None,
) -> GT:
    """Return a plain table: integer columns as counts (withheld marks kept), floats to 3 significant figures."""
    columns = frame.columns
    exprs: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        if name.endswith("__withheld"):
            continue
        if dtype.is_integer():
            exprs.append(count_text(name, k, columns).alias(name))
        elif dtype.is_float() and name.endswith("percent"):
            exprs.append(percent_text(name).alias(name))
        elif dtype.is_float():
            exprs.append(
                pl.when(pl.col(name).is_null())
                .then(pl.lit("—"))
                .otherwise(pl.col(name).map_elements(decimal_text, return_dtype=pl.String))
                .alias(name)
            )
        elif dtype == pl.Boolean:
            exprs.append(pl.when(pl.col(name)).then(pl.lit("yes")).otherwise(pl.lit("no")).alias(name))
        else:
            exprs.append(pl.col(name).cast(pl.String).fill_null("—").alias(name))
    shown = frame.select(exprs)
    renamed = {c: (labels or {}).get(c, c.replace("_", " ")) for c in shown.columns}
    # Columns are renamed rather than labelled: a column called `cases` cannot go through cols_label.
    shown = shown.rename({c: f"c{i}" for i, c in enumerate(shown.columns)})
    table = _base(shown, table_id, title, subtitle).cols_label(
        {f"c{i}": label for i, label in enumerate(renamed.values())}
    )
    numeric = [f"c{i}" for i, (n, t) in enumerate(frame.drop(_withheld(frame)).schema.items()) if t.is_numeric()]
    if numeric:
        table = table.cols_align("right", columns=numeric)
    if any(dtype.is_integer() for dtype in frame.schema.values()):
        table = table.tab_source_note(legend(k, external, rates=False))
    return table


def _withheld(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.endswith("__withheld")]
