"""The Case-mix models section: how good each outcome's risk model is, and what it says.

Per outcome: the models table's summary (c-statistic with its interval, calibration intercept and slope, Brier
score), a calibration plot (observed against expected by tenth of predicted risk, with the diagonal), and the
fitted model's odds ratios. Only rates and ratios are shown, never counts of cases or events. In an external
report a tenth with fewer than `report.min_cell_size` events (or non-events) is not plotted.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from ector.report.chartdata import ChartSpec
from ector.report.disclosure import Disclosure
from ector.report.formats import RANGE, outcome_label, ratio_text
from ector.report.inputs import ReportInputs
from ector.report.page import FigureBlock, NotAvailable, Prose, Section, TableBlock
from ector.report.tables import counts_gt

MODEL_LABELS: Final = {
    "logistic": "logistic regression",
    "strata": "indirect standardisation (stratum rates)",
    "supplied": "supplied predicted risk",
}
ASA_NUMERALS: Final = {"1": "I", "2": "II", "3": "III", "4": "IV", "5": "V", "6": "VI"}


def models_section(inputs: ReportInputs, disclosure: Disclosure) -> Section:
    """Return Case-mix models: per outcome, discrimination and calibration, a calibration plot, the odds ratios."""
    section = Section("case-mix-models", "Case-mix models")
    models, tenths = inputs.risk_models, inputs.risk_calibration
    if models is None or models.height == 0:
        section.blocks.append(
            NotAvailable(
                "Case-mix models",
                "transform/risk_models.parquet does not exist: run `ector transform` (the case mart was made "
                "elsewhere, or by an earlier version).",
            )
        )
        return section
    section.blocks.append(
        Prose(
            "Expected events come from a model of each case's risk given factors known before surgery, never "
            "the surgeon, the site or the approach. The c-statistic is the chance that a case with the event had "
            "a higher predicted risk than one without (0.5: no better than chance; 1: perfect), with its DeLong "
            "95% interval. A calibration slope of 1 and intercept of 0 mean the predicted risks are neither too "
            "extreme nor too high or low on average; on the data it was fitted to, a logistic model has exactly "
            "those. The Brier score is the mean squared difference between outcome and predicted risk."
        )
    )
    summary = models.filter(pl.col("term").is_null())
    table = counts_gt(
        _summary_table(summary),
        k=disclosure.min_cell_size,
        external=disclosure.external,
        table_id="risk-models",
        title="Discrimination and calibration of each model",
        subtitle="the model that gives expected events is marked; the others are reported beside it",
    )
    section.blocks.append(TableBlock("risk-models", "Discrimination and calibration of each model", table))
    for outcome in summary["outcome"].unique(maintain_order=True).to_list():
        label = outcome_label(outcome)
        points = _calibration_points(tenths, outcome, disclosure)
        if points is not None and points.height:
            name = f"calibration-{outcome}"
            caption = "Observed against mean predicted risk by tenth of predicted risk; dashed: perfect calibration"
            if disclosure.external:
                caption += f"; tenths with fewer than {disclosure.min_cell_size} events or non-events not shown"
            spec = ChartSpec(
                "calibration", {"points": points, "title": f"{label}: calibration by tenth", "caption": caption}
            )
            alt = f"Calibration plot of {label}: observed against expected rate by tenth of predicted risk"
            section.blocks.append(FigureBlock(name, f"{label}: calibration", spec, alt))
        ratios = _odds_ratio_table(models, outcome)
        if ratios.height:
            title = f"{label}: odds ratios of the logistic model (95% Wald intervals)"
            gt = counts_gt(
                ratios,
                k=disclosure.min_cell_size,
                external=disclosure.external,
                table_id=f"odds-ratios-{outcome}",
                title=title,
                subtitle="each level against the factor's reference level (its most common); unknown: a missing value",
            )
            section.blocks.append(TableBlock(f"odds-ratios-{outcome}", title, gt))
    return section


def model_choice_notes(models: pl.DataFrame | None) -> list[str]:
    """Return one sentence per outcome: which model gives its expected events (for the Methods section)."""
    if models is None:
        return []
    notes = []
    summary = models.filter(pl.col("term").is_null())
    for outcome in summary["outcome"].unique(maintain_order=True).to_list():
        rows = summary.filter(outcome=outcome)
        kinds = rows["model"].to_list()
        label = outcome_label(outcome)
        fallback = rows.filter(model="strata")["note"].to_list()
        if "supplied" in kinds:
            other = next((k for k in kinds if k != "supplied"), None)
            text = f"{label}: the supplied predicted risk"
            if other is not None:
                text += f"; the {MODEL_LABELS[other]} is reported beside it and fills the cases without one"
        else:
            text = f"{label}: {MODEL_LABELS[kinds[0]]}"
        if fallback and fallback[0] and "too few" in fallback[0]:
            text += ", as the logistic model would have too few events per parameter"
        notes.append(text + ".")
    return notes


def _summary_table(summary: pl.DataFrame) -> pl.DataFrame:
    return summary.select(
        outcome=pl.col("outcome").map_elements(outcome_label, return_dtype=pl.String),
        model=pl.col("model").replace_strict(MODEL_LABELS, default=pl.col("model"), return_dtype=pl.String),
        gives_expected=pl.col("used"),
        c_statistic=_c_text(),
        calibration_intercept=pl.col("calibration_intercept").round(3),
        calibration_slope=pl.col("calibration_slope").round(3),
        brier=pl.col("brier").round(4),
    )


def _c_text() -> pl.Expr:
    def fixed(value: pl.Expr) -> pl.Expr:
        return value.round(3).cast(pl.String).str.pad_end(5, "0")

    return (
        pl.when(pl.col("c_statistic").is_null())
        .then(pl.lit("—"))
        .otherwise(
            pl.concat_str(
                fixed(pl.col("c_statistic")),
                pl.lit(" ("),
                fixed(pl.col("c_statistic_lower")),
                pl.lit(RANGE),
                fixed(pl.col("c_statistic_upper")),
                pl.lit(")"),
                ignore_nulls=True,
            )
        )
    )


def _calibration_points(tenths: pl.DataFrame | None, outcome: str, disclosure: Disclosure) -> pl.DataFrame | None:
    """Return the tenths of `outcome` to plot: model (label), expected, observed; small cells left out outside."""
    if tenths is None:
        return None
    rows = tenths.filter(outcome=outcome)
    if disclosure.external:
        k = disclosure.min_cell_size
        rows = rows.filter(
            ~pl.col("events").is_between(1, k - 1), ~(pl.col("cases") - pl.col("events")).is_between(1, k - 1)
        )
    return rows.select(
        model=pl.col("model").replace_strict(MODEL_LABELS, default=pl.col("model"), return_dtype=pl.String),
        expected="expected",
        observed="observed",
    )


def _odds_ratio_table(models: pl.DataFrame, outcome: str) -> pl.DataFrame:
    terms = models.filter(pl.col("factor").is_not_null(), outcome=outcome, model="logistic")
    # ASA classes as clinicians write them (I to V): a bare digit in a cell reads as a small count.
    level = (
        pl.when(pl.col("factor") == "asa_class").then(pl.col("level").replace(ASA_NUMERALS)).otherwise(pl.col("level"))
    )
    return terms.select(
        factor="factor",
        level=level,
        odds_ratio=pl.when(pl.col("note") == "reference level")
        .then(pl.lit("1.00 (reference)"))
        .when(pl.col("coefficient").is_null())
        .then(pl.lit("—"))
        .otherwise(ratio_text("odds_ratio", "odds_ratio_lower", "odds_ratio_upper")),
        note=pl.when(pl.col("note") != "reference level").then(pl.col("note")),
    )
