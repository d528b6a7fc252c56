"""The Overview, Data quality, Patients and Methods sections: which tables and notes each holds, and why not.

A section whose data is missing says what is missing and why (the command to run, the Gold table that is
absent), and never shows zeros in its place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl

from ector import __version__
from ector.errors import redact
from ector.report.disclosure import Disclosure
from ector.report.formats import outcome_label
from ector.report.inputs import ReportInputs, ViewData
from ector.report.models_section import model_choice_notes
from ector.report.page import Facts, NotAvailable, Prose, Section, TableBlock
from ector.report.prepare import availability_notes, cohort_table, headline_table
from ector.report.quality import missing_table, reconciliation_table, rules_table
from ector.report.tables import cohort_gt, counts_gt, headline_gt
from ector.settings import Settings
from ector.workflows.mart import OUTCOMES


def available_outcomes(view: ViewData | None) -> tuple[list[str], list[tuple[str, str]]]:
    """Return (available outcomes in report order, [(outcome, why not)] for the others) of a view."""
    if view is None or view.table("availability") is None:
        return [], []
    availability = view.tables["availability"].filter(pl.col("role") == "outcome")
    known = {r["column"]: r for r in availability.iter_rows(named=True)}
    ok = [o for o in OUTCOMES if o in known and known[o]["available"]]
    missing = [(o, str(known[o]["note"])) for o in OUTCOMES if o in known and not known[o]["available"]]
    return ok, missing


def not_run(view: str) -> NotAvailable:
    """Return the note of a view that has not been run in this work directory."""
    return NotAvailable(
        f"The {view} view", f"workflow/{view}/summary.parquet does not exist: run `ector workflow {view}` first."
    )


def overview_section(inputs: ReportInputs, disclosure: Disclosure, settings: Settings) -> Section:
    """Return the Overview: run metadata and the headline figures with n/N."""
    section = Section("overview", "Overview")
    patient, surgeon, site = (inputs.view(v) for v in ("patient", "surgeon", "site"))
    outcomes = available_outcomes(patient or surgeon or site)[0]
    section.blocks.append(Facts(_run_facts(inputs, disclosure)))
    headline = headline_table(
        patient.table("summary") if patient else None,
        surgeon.table("summary") if surgeon else None,
        site.table("summary") if site else None,
        outcomes,
        disclosure,
    )
    table = headline_gt(
        headline,
        k=disclosure.min_cell_size,
        external=disclosure.external,
        table_id="headline",
        window_days=settings.analysis.outcome_window_days,
    )
    section.blocks.append(TableBlock("headline", "Headline figures", table))
    if patient is None:
        section.blocks.append(
            Prose("Patients: not available without the patient view (one patient may see several surgeons).")
        )
    return section


def _run_facts(inputs: ReportInputs, disclosure: Disclosure) -> list[tuple[str, str]]:
    stages: dict[str, Any] = inputs.manifest.get("stages", {})
    ingest = stages.get("ingest", {})
    source = (
        str(ingest.get("source") or ingest.get("inputs", {}).get("source", ""))
        or "not recorded (no ingest in this work directory)"
    )
    if disclosure.external and stages.get("ingest"):
        source = " ".join(source.split(" ")[:2])  # the kind of source only, not its host or path
    first, last = _period_covered(inputs)
    finished = [
        str(e.get("finished", "")) for name, e in stages.items() if name.startswith("workflow") and e.get("finished")
    ]
    now = datetime.now(UTC)
    when = now.strftime("%Y-%m") if disclosure.external else now.isoformat(timespec="minutes")
    facts = [
        ("Source", redact(source)),
        (
            "Period covered",
            f"{_date_text(first, disclosure)} to {_date_text(last, disclosure)}" if first else "not available",
        ),
        ("Ector version", str(inputs.manifest.get("ector_version", __version__))),
        ("Report generated", when),
        ("Views run", _when(max(finished), disclosure) if finished else "not recorded in the manifest"),
        (
            "Audience",
            "external: small counts withheld, surgeons under pseudonyms"
            if disclosure.external
            else "internal: exact figures",
        ),
    ]
    return facts


def _when(iso: str, disclosure: Disclosure) -> str:
    return iso[:7] if disclosure.external else iso[:16].replace("T", " ")


def _date_text(value: Any, disclosure: Disclosure) -> str:
    text = str(value)
    return text[:7] if disclosure.external else text[:10]


def _period_covered(inputs: ReportInputs) -> tuple[Any, Any]:
    for name in ("site", "surgeon"):
        view = inputs.view(name)
        summary = view.table("summary") if view else None
        if summary is not None and summary.height and "first_surgery" in summary.columns:
            return summary["first_surgery"].min(), summary["last_surgery"].max()
    return None, None


def data_quality_section(inputs: ReportInputs, disclosure: Disclosure) -> Section:
    """Return Data quality: rows through each stage, repairs/merges/quarantine by rule, missing values, and
    the inputs the views could not use."""
    section = Section("data-quality", "Data quality")
    k, external = disclosure.min_cell_size, disclosure.external
    summary = inputs.consolidation
    rows = reconciliation_table(summary, inputs.manifest, disclosure)
    if rows is not None:
        labels = {
            "ingested": "Ingested",
            "duplicates_merged": "Duplicates merged",
            "quarantined": "Quarantined",
            "consolidated": "Consolidated",
            "in_case_mart": "In the case mart",
        }
        table = counts_gt(
            rows, k=k, external=external, table_id="stage-rows", title="Rows through each stage", labels=labels
        )
        section.blocks.append(TableBlock("stage-rows", "Rows through each stage", table))
    else:
        section.blocks.append(
            NotAvailable(
                "Rows through each stage",
                "neither consolidate/summary.parquet nor an ingest entry in the manifest: "
                "the views were built from a case mart made elsewhere.",
            )
        )
    if summary is not None:
        by_rule = rules_table(summary, disclosure)
        title = "Repairs, duplicates merged and quarantine by table and rule"
        if by_rule.height:
            table = counts_gt(by_rule, k=k, external=external, table_id="rules", title=title)
            section.blocks.append(TableBlock("rules", title, table))
        else:
            section.blocks.append(Prose("Consolidation repaired, merged and quarantined no row."))
        missing = missing_table(summary, disclosure)
        title = "Missing values in optional columns (kept as missing, never imputed)"
        if missing.height:
            labels = {"missing": "Missing", "rows": "Rows kept", "missing_percent": "Missing %"}
            table = counts_gt(missing, k=k, external=external, table_id="missing", title=title, labels=labels)
            section.blocks.append(TableBlock("missing", title, table))
    else:
        section.blocks.append(
            NotAvailable(
                "Duplicates merged, quarantine by table and rule, missing values",
                "consolidate/summary.parquet does not exist: run `ector consolidate` (or `ector all`).",
            )
        )
    views = [inputs.view(v) for v in ("patient", "surgeon", "site")]
    notes = availability_notes(*(v.table("availability") if v else None for v in views))
    if notes.height:
        table = counts_gt(notes, k=k, external=external, table_id="not-available", title="Inputs not available")
        section.blocks.append(TableBlock("not-available", "Inputs not available", table))
    else:
        section.blocks.append(Prose("Every input the views use is available in the case mart."))
    return section


def patients_section(inputs: ReportInputs, disclosure: Disclosure) -> Section:
    """Return Patients: the cohort by age band, sex, ASA, urgency, procedure family, approach and period."""
    section = Section("patients", "Patients")
    view = inputs.view("patient")
    if view is None or view.table("summary") is None:
        section.blocks.append(not_run("patient"))
        return section
    outcomes, missing = available_outcomes(view)
    cohort = cohort_table(view.tables["summary"], outcomes, disclosure)
    table = cohort_gt(cohort, outcomes, k=disclosure.min_cell_size, external=disclosure.external, table_id="cohort")
    section.blocks.append(TableBlock("cohort", "Cohort", table))
    section.blocks += [NotAvailable(outcome_label(o), why) for o, why in missing]
    return section


def methods_section(inputs: ReportInputs, disclosure: Disclosure, settings: Settings) -> Section:
    """Return Methods: how each figure is computed, the funnel limits, phi and tau2, the disclosure rule."""
    analysis = settings.analysis
    inner, outer = (f"{level * 100:g}%" for level in analysis.funnel_limits[:2])
    k = disclosure.min_cell_size
    section = Section("methods", "Methods")
    section.blocks += [
        Prose(
            "Rates are shown with their numerator and denominator (n/N) and a Wilson score 95% interval. "
            "O/E is observed over expected events with an exact Poisson 95% interval; expected events come from "
            "each case's predicted risk where the Gold layer gives one, otherwise "
            + (
                f"from a logistic regression on {', '.join(analysis.risk_factors)} fitted on the case mart (major "
                "complications and mortality; indirect standardisation over "
                f"{' x '.join(analysis.risk_strata)} for the other outcomes, and where the model has fewer than "
                f"{analysis.min_events_per_parameter:g} events per parameter)."
                if analysis.risk_model == "logistic"
                else f"from indirect standardisation over {' x '.join(analysis.risk_strata)}."
            )
        ),
        *(Prose(f"Expected events of {note[0].lower()}{note[1:]}") for note in model_choice_notes(inputs.risk_models)),
        Prose(
            f"Funnel plots (Spiegelhalter 2005) compare each unit with the overall target within {inner} and {outer} "
            "control limits: exact Poisson limits around 1 for O/E, arcsine limits for crude proportions. A unit is "
            f"flagged only when strictly outside a limit, and never with fewer than {analysis.min_cases} cases. "
            + (
                "Limits are widened for overdispersion (phi, tau2 below)."
                if analysis.overdispersion
                else "Overdispersion is not adjusted for (analysis.overdispersion is off): "
                "phi and tau2 are not estimated."
            )
        ),
        Prose(
            "Learning curves plot operative minutes against the surgeon's own case number in each procedure "
            "family, with the moving median of the last cases. The risk-adjusted CUSUM (Steiner 2000) watches for "
            "a doubling of the odds of an event; VLAD is the running sum of expected minus observed events. "
            "No control limit is drawn on the CUSUM: read its rises."
        ),
    ]
    parameters = _funnel_parameters(inputs)
    if parameters.height:
        section.blocks.append(
            TableBlock(
                "funnel-parameters",
                "Funnel targets and overdispersion",
                counts_gt(
                    parameters,
                    k=k,
                    external=disclosure.external,
                    table_id="funnel-parameters",
                    title="Funnel targets and overdispersion",
                    subtitle="phi and tau2 are blank when overdispersion is not adjusted for",
                ),
            )
        )
    methods = _expected_methods(inputs)
    if methods.height:
        section.blocks.append(
            TableBlock(
                "expected-methods",
                "How expected events are computed",
                counts_gt(
                    methods,
                    k=k,
                    external=disclosure.external,
                    table_id="expected-methods",
                    title="How expected events are computed",
                ),
            )
        )
    if disclosure.external:
        rule = (
            f"This is an external report. Counts below {k} other than zero are shown as <{k}; where a total would let "
            "a reader work one out, a further count is withheld (*), and every rate or ratio of a withheld count is "
            "withheld too. Surgeons appear under pseudonyms that are keyed hashes of their ids (the same surgeon "
            "has the same pseudonym in every report made with the same key). Dates are shown to the month; no "
            "patient identifier appears. Per-case monitoring charts (CUSUM, VLAD) are left out, and units with fewer "
            f"than {k} cases are not plotted."
        )
    else:
        rule = "This is an internal report: exact counts, surgeon ids and names. Do not circulate it outside the team."
    section.blocks.append(Prose(rule))
    return section


def _funnel_parameters(inputs: ReportInputs) -> pl.DataFrame:
    parts = []
    for name in ("surgeon", "site"):
        view = inputs.view(name)
        funnel = view.table("funnel") if view else None
        if funnel is not None and funnel.height:
            parts.append(
                funnel.group_by("outcome", "measure")
                .agg(pl.col("target").first(), pl.col("phi").first(), pl.col("tau2").first())
                .with_columns(view=pl.lit(name))
            )
    if not parts:
        return pl.DataFrame()
    frame = pl.concat(parts).with_columns(outcome=pl.col("outcome").map_elements(outcome_label, return_dtype=pl.String))
    return frame.select("view", "outcome", "measure", "target", "phi", "tau2").sort("view", "outcome", "measure")


def _expected_methods(inputs: ReportInputs) -> pl.DataFrame:
    view = inputs.view("surgeon") or inputs.view("site")
    methods = view.table("outcomes") if view else None
    if methods is None or methods.height == 0:
        return pl.DataFrame()
    return methods.select(
        outcome=pl.col("outcome").map_elements(outcome_label, return_dtype=pl.String), method=pl.col("expected_method")
    )


def ordered(sections: Sequence[Section]) -> list[Section]:
    """Return the sections in report order (Overview first, Methods last)."""
    order = ["overview", "data-quality", "patients", "surgeons", "sites", "case-mix-models", "methods"]
    return sorted(sections, key=lambda s: order.index(s.id) if s.id in order else len(order))
