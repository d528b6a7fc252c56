"""The report stage body: read the views, build the sections, render, check, and write report/ atomically.

For an external audience the rendered text of every file (page, tables, SVG labels) is checked for surgeon
ids and names before anything is written: the disclosure rules are applied to the data, and this is the
last line of defence if a future change forgets to.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ector.consolidate.stage import STAGE as CONSOLIDATE
from ector.report.reads import SERIES_TABLES, VIEW_TABLES
from ector.stage import Input, Option, Stage
from ector.transform.stage import STAGE as TRANSFORM
from ector.workflows.stage import STAGES as VIEW_STAGES

if TYPE_CHECKING:
    from ector.report.disclosure import Disclosure
    from ector.report.inputs import ReportInputs
    from ector.report.page import Section
    from ector.runner import StageRun
    from ector.settings import Settings


def _report(run: StageRun) -> None:
    """Write report/index.html, report/figures/*.png|svg and report/tables/*.html (or the folder --out names).

    Raises ConfigError (exit 2) naming ECTOR_PRIVACY__PSEUDONYM_KEY for an external report without a key,
    and MissingInputError naming `ector workflow surgeon` (and the other views) when no view has been run.
    """
    from ector.console import out
    from ector.errors import EctorError
    from ector.files import check_own_folder
    from ector.report.disclosure import disclosure_for
    from ector.report.inputs import read_inputs
    from ector.report.page import FigureBlock, TableBlock, external_references, render_page
    from ector.report.render import render_table, report_files
    from ector.report.workers import FigureWorkers

    disclosure = disclosure_for(run.settings)  # before any work: a refused report costs nothing
    given: Path | None = run.options.get("out")
    target = given if given is not None else run.workdir.output(run.name)
    option = "--out" if given is not None else None
    check_own_folder(target, option, force=run.replace, keep=(run.workdir.root,))  # and again when it is written
    with FigureWorkers() as workers:  # started first: their imports overlap reading the inputs, building the sections
        frames = {name: run.read(name) for name in run.stage.inputs if run.has(name)}
        inputs = read_inputs(frames, run.workdir.read_manifest(), run.outputs, with_names=True)
        sections = build_sections(inputs, disclosure, run.settings)
        table_blocks = [b for s in sections for b in s.blocks if isinstance(b, TableBlock)]
        jobs = [(b.name, b.title, b.spec) for s in sections for b in s.blocks if isinstance(b, FigureBlock)]
        with out.progress("report", total=len(table_blocks) + len(jobs)) as advance:

            def render_tables() -> dict[str, tuple[str, str]]:
                rendered = {}
                for block in table_blocks:
                    rendered[block.name] = (block.title, render_table(block.table))
                    advance(1, description=f"report table {block.name}")
                return rendered

            figures, tables = workers.render(
                jobs, render_tables, lambda name: advance(1, description=f"report figure {name}")
            )
    settings = run.settings.report
    subtitle = (
        "External report: small counts withheld, surgeons under pseudonyms"
        if disclosure.external
        else "Internal report: exact figures, not for circulation"
    )
    fragments = {name: fragment for name, (_, fragment) in tables.items()}
    pngs = {f.name: f.png for f in figures}
    index = render_page(settings.title, subtitle, sections, fragments, pngs)
    # render_table checked each table, and an image is base64 text: what is left to check is the page around them.
    # No reference can take in a tag's < or >, and each table and image sits between tags, so the page holds the
    # references of its parts only (scanning the whole page again took 0.14 s, after the figures).
    frame = render_page(settings.title, subtitle, sections, dict.fromkeys(fragments, ""), dict.fromkeys(pngs, b""))
    leaks = external_references(frame)
    if leaks:
        raise EctorError(f"the report page refers to a network resource: {leaks[0]!r}", "report it: this is a bug")
    if disclosure.external:
        # The page holds every table's HTML as written to tables/; the SVGs hold the chart labels.
        _check_no_identifiers(inputs, settings.highlight_surgeons, [index, *(f.svg for f in figures)])
    run.write_folder(target, report_files(index, figures, tables), option)
    run.facts["audience"] = disclosure.audience
    out.event(f"wrote {target / 'index.html'} ({len(figures)} figures, {len(tables)} tables)", stage=run.name)


def build_sections(inputs: ReportInputs, disclosure: Disclosure, settings: Settings) -> list[Section]:
    """Return the report's sections in order (charts described, not yet drawn)."""
    # Imported here: the builders and great-tables take 0.17 s to import, and the stage starts the figure
    # workers before this.
    from ector.report.models_section import models_section
    from ector.report.sections import data_quality_section, methods_section, overview_section, patients_section
    from ector.report.signals_section import signals_section
    from ector.report.unit_sections import sites_section, surgeons_section

    return [
        signals_section(inputs, disclosure),
        overview_section(inputs, disclosure, settings),
        data_quality_section(inputs, disclosure),
        patients_section(inputs, disclosure),
        surgeons_section(inputs, disclosure, settings),
        sites_section(inputs, disclosure, settings),
        models_section(inputs, disclosure),
        methods_section(inputs, disclosure, settings),
    ]


def _check_no_identifiers(inputs: ReportInputs, highlighted: list[str], texts: list[str]) -> None:
    from ector.errors import EctorError
    from ector.report.disclosure import identifiers_found

    view = inputs.view("surgeon")
    ids: list[str] = list(highlighted)
    if view is not None and view.table("summary") is not None:
        ids += view.tables["summary"]["unit_id"].drop_nulls().to_list()
    names = inputs.surgeon_names["surgeon_name"].drop_nulls().to_list() if inputs.surgeon_names is not None else []
    found = identifiers_found(texts, [str(i) for i in ids] + [str(n) for n in names])
    if found:
        raise EctorError(
            f"the external report would show {len(found)} surgeon id(s) or name(s); nothing was written",
            "report it: this is a bug in the report's disclosure control",
        )


def _inputs() -> dict[str, Input]:
    """The tables the report reads, by name: `<view>/<table>` of each view, two of consolidation's and the risk
    models of the transform."""
    views = {stage.name.removeprefix("workflow/"): stage for stage in VIEW_STAGES}
    inputs = {
        f"{view}/{table}": Input(views[view].output(table), views[view].name, optional=True)
        for view, tables in (VIEW_TABLES | {v: VIEW_TABLES[v] + s for v, s in SERIES_TABLES.items()}).items()
        for table in tables
    }
    inputs["consolidation"] = Input(CONSOLIDATE.output("summary"), CONSOLIDATE.name, optional=True)
    inputs["surgeons"] = Input(CONSOLIDATE.output("surgeons"), CONSOLIDATE.name, optional=True)
    for table in ("risk_models", "risk_calibration"):
        inputs[table] = Input(TRANSFORM.output(table), TRANSFORM.name, optional=True)
    return inputs


STAGE = Stage(
    name="report",
    command=("report",),
    summary="Render the HTML dashboard (index.html, figures as PNG and SVG, tables as HTML) from the views.",
    example="ector report --audience external --out shared/report",
    sections=("analysis", "report", "privacy"),
    inputs=_inputs(),
    options=(
        Option(
            "audience",
            ("--audience",),
            "internal (exact figures) | external (disclosure control)",
            setting="report.audience",
        ),
        Option(
            "out",
            ("--out",),
            "folder for the report (default: workdir/report); one of other files only with --force",
            kind=Path,
        ),
    ),
    files=True,
    body=_report,
)
