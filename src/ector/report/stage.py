"""The report stage body: read the views, build the sections, render, check, and write report/ atomically.

For an external audience the rendered text of every file (page, tables, SVG labels) is checked for surgeon
ids and names before anything is written: the disclosure rules are applied to the data, and this is the
last line of defence if a future change forgets to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ector.console import out
from ector.errors import EctorError
from ector.pipeline import StageContext
from ector.report.disclosure import Disclosure, disclosure_for, identifiers_found
from ector.report.inputs import ReportInputs, read_inputs
from ector.report.page import FigureBlock, Section, TableBlock, external_references, render_page
from ector.report.render import render_table, write_report
from ector.report.workers import FigureWorkers


def report_stage(
    context: StageContext,
    audience: Literal["internal", "external"] | None = None,
    out_dir: Path | None = None,
) -> None:
    """Write report/index.html, report/figures/*.png|svg and report/tables/*.html (under out_dir when given).

    `audience` overrides report.audience. Raises ConfigError (exit 2) naming ECTOR_PRIVACY__PSEUDONYM_KEY
    for an external report without a key, and MissingInputError naming `ector workflow surgeon` (and the
    other views) when no view has been run.
    """
    disclosure = disclosure_for(context.settings, audience)  # before any work: a refused report costs nothing
    with FigureWorkers() as workers:  # started first: their imports overlap reading the inputs, building the sections
        inputs = read_inputs(context, with_names=True)
        sections = build_sections(inputs, disclosure, context)
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
    settings = context.settings.report
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
        _check_no_identifiers(inputs, context.settings.report.highlight_surgeons, [index, *(f.svg for f in figures)])
    target = out_dir if out_dir is not None else context.workdir.output("report")
    previous = context.workdir.read_manifest()["stages"].get(context.name, {})
    same_place = previous.get("out_dir") == str(target.resolve())
    written = write_report(target, index, figures, tables, previous.get("files", []) if same_place else [])
    context.facts |= {"audience": disclosure.audience, "out_dir": str(target.resolve()), "files": written}
    out.event(f"wrote {target / 'index.html'} ({len(figures)} figures, {len(tables)} tables)", stage=context.name)


def build_sections(inputs: ReportInputs, disclosure: Disclosure, context: StageContext) -> list[Section]:
    """Return the report's sections in order (charts described, not yet drawn)."""
    # Imported here: the builders and great-tables take 0.17 s to import, and report_stage starts the figure
    # workers before this.
    from ector.report.sections import data_quality_section, methods_section, overview_section, patients_section
    from ector.report.unit_sections import sites_section, surgeons_section

    settings = context.settings
    return [
        overview_section(inputs, disclosure, settings),
        data_quality_section(inputs, disclosure),
        patients_section(inputs, disclosure),
        surgeons_section(inputs, disclosure, settings),
        sites_section(inputs, disclosure, settings),
        methods_section(inputs, disclosure, settings),
    ]


def _check_no_identifiers(inputs: ReportInputs, highlighted: list[str], texts: list[str]) -> None:
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
