"""`ector consolidate`, `transform`, `workflow VIEW` and `report`: thin commands over the stage bodies.

`-o PATH|-` makes transform and the workflows ad-hoc: the result goes to the file or stdout (an Arrow IPC
stream unless --format says otherwise) and the work directory is left as it was; `-i PATH|-` feeds a
workflow a case mart from a file or a pipe.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from ector.cli import _FORCE, _FORMAT_HELP, app, load, run
from ector.console import out

if TYPE_CHECKING:
    import polars as pl

_OUTPUT = Annotated[
    str | None, typer.Option("--output", "-o", help="write the result to PATH, or - for stdout, not the workdir")
]
_FORMAT = Annotated[str, typer.Option("--format", help=_FORMAT_HELP)]

workflow_app = typer.Typer(
    help="Compute a view: patient cohorts, surgeon or site outcomes.\n\nExample: ector workflow surgeon --by month",
    no_args_is_help=True,
)
app.add_typer(workflow_app, name="workflow", rich_help_panel="Pipeline")


@app.command("consolidate", rich_help_panel="Pipeline")
def consolidate_command(force: _FORCE = False) -> None:
    """Clean, deduplicate and validate the ingested tables; quarantine what cannot be repaired.

    Example: ector consolidate && ector show consolidate/summary
    """
    from ector.consolidate.stage import consolidate_stage

    run("consolidate", consolidate_stage, load(), force=force)


@app.command("transform", rich_help_panel="Pipeline")
def transform_command(
    where: Annotated[str | None, typer.Option("--where", help="SQL condition over mart columns")] = None,
    since: Annotated[datetime | None, typer.Option("--since", help="first surgery date", formats=["%Y-%m-%d"])] = None,
    until: Annotated[datetime | None, typer.Option("--until", help="last surgery date", formats=["%Y-%m-%d"])] = None,
    output: _OUTPUT = None,
    fmt: _FORMAT = "arrow",
    force: _FORCE = False,
) -> None:
    """Build the case mart (one row per case, every derived outcome) from the consolidated tables.

    Example: ector transform -o - --where "approach = 'robotic'" | ector workflow surgeon -i - -o - --format csv
    """
    from ector.transform.stage import plan_transform, transform_stage

    settings = load()
    first, last = _day(since), _day(until)
    if output is None:
        body = lambda context: transform_stage(context, where, first, last)  # noqa: E731
        run("transform", body, settings, force=force, where=where, since=first, until=last)
        return
    from ector.pipeline import StageContext
    from ector.workdir import WorkDir

    context = StageContext(name="transform", settings=settings, workdir=WorkDir(settings.workdir))
    _emit(context.collect(plan_transform(context, where, first, last)), output, fmt)


def _workflow(
    view: Literal["patient", "surgeon", "site"],
    by: str | None,
    input_: str | None,
    output: str | None,
    fmt: str,
    force: bool,
) -> None:
    from ector.engine import collect
    from ector.materialise import InMemory
    from ector.workflows.stage import VIEWS, workflow_stage

    settings = load(**{"analysis.period": by})
    mart = _read_mart(input_) if input_ is not None else None
    if output is None:
        body = lambda context: workflow_stage(context, view, mart)  # noqa: E731
        # A mart from a pipe has no fingerprint: the view always runs.
        run(f"workflow/{view}", body, settings, force=force or mart is not None)
        return
    if mart is None:
        from ector.workdir import WorkDir

        mart_path = WorkDir(settings.workdir).require("transform/cases.parquet", produced_by="transform")
        import polars as pl

        mart = pl.scan_parquet(mart_path)
    tables = VIEWS[view](mart, settings.analysis, InMemory(settings.engine))
    _emit(collect(tables["summary"].lazy(), settings.engine), output, fmt)


_BY = Annotated[str | None, typer.Option("--by", help="period of trends: month | quarter | year")]
_INPUT = Annotated[str | None, typer.Option("--input", "-i", help="read the case mart from PATH, or - for stdin")]


@workflow_app.command("patient")
def workflow_patient(
    by: _BY = None, input_: _INPUT = None, output: _OUTPUT = None, fmt: _FORMAT = "arrow", force: _FORCE = False
) -> None:
    """Patient view: cohorts by age band, sex, ASA, urgency, family, approach, period; per-patient summary.

    Example: ector workflow patient --by year
    """
    _workflow("patient", by, input_, output, fmt, force)


@workflow_app.command("surgeon")
def workflow_surgeon(
    by: _BY = None, input_: _INPUT = None, output: _OUTPUT = None, fmt: _FORMAT = "arrow", force: _FORCE = False
) -> None:
    """Surgeon view: volumes, rates with intervals, O/E, funnels, case mix, learning curves, CUSUM and VLAD.

    Example: ector workflow surgeon -o - --format csv | column -s, -t
    """
    _workflow("surgeon", by, input_, output, fmt, force)


@workflow_app.command("site")
def workflow_site(
    by: _BY = None, input_: _INPUT = None, output: _OUTPUT = None, fmt: _FORMAT = "arrow", force: _FORCE = False
) -> None:
    """Site view: the surgeon view's figures per site, volume trends and surgeons active per period.

    Example: ector workflow site --by quarter
    """
    _workflow("site", by, input_, output, fmt, force)


@app.command("report", rich_help_panel="Pipeline")
def report_command(
    audience: Annotated[
        str | None, typer.Option("--audience", help="internal (exact figures) | external (disclosure control)")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="folder for the report (default: workdir/report)")
    ] = None,
    force: _FORCE = False,
) -> None:
    """Render the HTML dashboard (index.html, figures as PNG and SVG, tables as HTML) from the views.

    Example: ector report --audience external --out shared/report
    """
    from ector.report.stage import report_stage

    settings = load(**{"report.audience": audience})
    chosen = settings.report.audience
    body = lambda context: report_stage(context, chosen, out_dir)  # noqa: E731
    # A report written elsewhere is not recorded as fresh for the work directory's own report.
    run("report", body, settings, force=force or out_dir is not None, audience=chosen)


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def _read_mart(source: str) -> pl.LazyFrame:
    """The case mart from a file or stdin (`-`), converted back to the mart's dtypes."""
    import sys

    from ector.pipes import read_stream
    from ector.transform.dictionary import MART_SCHEMA

    if source == "-":
        return read_stream(sys.stdin.buffer, schema=MART_SCHEMA).lazy()
    with Path(source).open("rb") as handle:
        return read_stream(handle, schema=MART_SCHEMA).lazy()


def _emit(frame: pl.DataFrame, output: str, fmt: str) -> None:
    """Write a result to stdout (`-`) or to a file, atomically."""
    import io
    import sys

    from ector.pipes import check_format, write_stream
    from ector.workdir import write_bytes_atomic

    stream_format = check_format(fmt)
    if output == "-":
        write_stream(frame, stream_format, sys.stdout.buffer)
        return
    buffer = io.BytesIO()
    write_stream(frame, stream_format, buffer)
    write_bytes_atomic(Path(output), buffer.getvalue())
    out.event(f"wrote {frame.height:,} rows to {output}")


# `all`, `status` and `show` come after the stages in --help.
from ector import cli_ops  # noqa: E402, F401
