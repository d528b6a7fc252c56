"""`ector all`, `status` and `show`: running the chain, seeing what it did, and looking at its tables."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ector.cli.app import FORCE, app, load
from ector.console import out
from ector.errors import ConfigError, InputError


@app.command("all", rich_help_panel="Pipeline")
def all_command(
    source: Annotated[str | None, typer.Option("--source", "-s", help="connectorx URI or Parquet folder")] = None,
    first: Annotated[str | None, typer.Option("--from", help="first stage to run (e.g. transform)")] = None,
    last: Annotated[str | None, typer.Option("--to", help="last stage to run (e.g. workflow)")] = None,
    force: FORCE = False,
    fail_on_signal: Annotated[
        bool | None,
        typer.Option(
            "--fail-on-signal/--no-fail-on-signal",
            help="exit with 4 when a chart signals that did not in the previous run (sets alerts.fail_on_signal)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run every stage in order, skipping those whose inputs and settings are unchanged.

    Example: ector all --source demo/gold.sqlite && open ector-work/report/index.html
    """
    from ector.chain import REPORT, chain_slice
    from ector.lock import workdir_lock
    from ector.runner import run_stage

    settings = load(**{"source.uri": source, "alerts.fail_on_signal": fail_on_signal})
    stages = chain_slice(first, last)
    ran: list[tuple[str, str, float]] = []
    with workdir_lock(settings.workdir):
        for stage in stages:
            clock = time.perf_counter()
            did_run = run_stage(stage, settings, force=force)
            ran.append((stage.name, "ran" if did_run else "fresh, skipped", time.perf_counter() - clock))
    _closing_summary(ran)
    if REPORT in stages:
        out.event(f"report: {settings.workdir / REPORT.name / 'index.html'}")
    if settings.alerts.fail_on_signal:
        _fail_on_new_signals(settings.workdir, [name for name, result, _ in ran if result == "ran"])


def _fail_on_new_signals(workdir: Path, ran: list[str]) -> None:
    """Raise NewSignalsError naming each unit and outcome with a signal new in this run of its view."""
    import polars as pl

    from ector.chain import stage
    from ector.errors import NewSignalsError
    from ector.workdir import WorkDir
    from ector.workflows.signals import new_signals

    work = WorkDir(workdir)
    runs = work.read_manifest()["stages"]
    named: list[str] = []
    for name in ran:
        path = work.output(stage(name).output("signals"))
        if "signals" not in stage(name).outputs or not path.is_file():
            continue
        new = new_signals(pl.read_parquet(path), runs.get(name, {}).get("run", 0))
        kind = name.removeprefix("workflow/")
        pairs = new.select("unit_id", "outcome").unique(maintain_order=True).iter_rows()
        named += [f"{kind} {unit} {outcome}" for unit, outcome in pairs]
    if named:
        raise NewSignalsError(
            f"new signals since the previous run: {'; '.join(named)}",
            "see workflow/<view>/signals.parquet and the report's Signals section",
        )


def _closing_summary(ran: list[tuple[str, str, float]]) -> None:
    from rich.table import Table

    table = Table(title="ector all", title_justify="left")
    for column in ("stage", "result", "seconds"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    for name, result, seconds in ran:
        table.add_row(name, result, f"{seconds:.2f}")
    out.table(table)
    if out.log_format == "json":
        out.event("all done", stages=len(ran), ran=sum(r == "ran" for _, r, _ in ran))


@app.command("status", rich_help_panel="Work directory")
def status_command(
    source: Annotated[
        str | None,
        typer.Option("--source", "-s", help="the source to check ingest against (default: the one it last read)"),
    ] = None,
) -> None:
    """Show what each stage last did: when, how long, rows in and out, quarantined, fresh or stale and why.

    Example: ector status
    """
    from rich.console import Console
    from rich.table import Table

    from ector.chain import CHAIN
    from ector.runner import staleness
    from ector.workdir import WorkDir

    settings = load(**{"source.uri": source})
    manifest = WorkDir(settings.workdir).read_manifest()
    recorded = manifest["stages"].get("ingest", {}).get("source_uri")
    if settings.source.uri is None and recorded:
        # No source given here: judge ingest against the one it last read (recorded only when it holds no secret).
        settings = load(**{"source.uri": recorded})
    table = Table(title=f"work directory {settings.workdir}", title_justify="left")
    for column in ("stage", "last run", "seconds", "rows in", "rows out", "quarantined", "state"):
        table.add_column(
            column, justify="right" if column in ("seconds", "rows in", "rows out", "quarantined") else "left"
        )
    for spec in CHAIN:
        entry = manifest["stages"].get(spec.name)
        reason = staleness(spec, settings)
        state = "fresh" if reason is None else f"stale: {reason}"
        if entry is None:
            table.add_row(spec.name, "-", "-", "-", "-", "-", state)
            continue
        rows_out = sum(o.get("rows", 0) for o in entry.get("outputs", {}).values())
        quarantined = (
            sum(t.get("quarantined", 0) for t in entry.get("tables", {}).values()) if "tables" in entry else None
        )
        table.add_row(
            spec.name,
            entry.get("finished", "?"),
            f"{entry.get('seconds', 0):.1f}",
            f"{entry.get('rows_in', 0):,}",
            f"{rows_out:,}",
            "-" if quarantined is None else f"{quarantined:,}",
            state,
        )
    Console(width=160).print(table)


@app.command("show", rich_help_panel="Work directory")
def show_command(
    target: Annotated[str, typer.Argument(help="STAGE/TABLE, e.g. consolidate/summary or workflow/surgeon/funnel")],
    where: Annotated[str | None, typer.Option("--where", help="SQL condition over the table's columns")] = None,
    columns: Annotated[str | None, typer.Option("--columns", help="comma-separated columns to show")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=0, help="at most N rows")] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="table | csv | json | arrow | parquet (default: table on a terminal)")
    ] = None,
) -> None:
    """Print a table of the work directory: a Rich table on a terminal, CSV into a pipe.

    Example: ector show workflow/surgeon/funnel --where "flag <> 'as_expected'" --columns unit_id,outcome,flag
    """
    import polars as pl

    from ector.chain import producer
    from ector.engine import collect
    from ector.transform.filters import filter_where, where_failed
    from ector.workdir import is_readable, unreadable

    settings = load()
    path = _table_path(settings.workdir, target)
    owner = producer(path.relative_to(settings.workdir.resolve()).as_posix())
    frame = pl.scan_parquet(path)
    try:
        names = frame.collect_schema().names()
    except (OSError, pl.exceptions.PolarsError):
        raise unreadable(path, owner.name if owner else None) from None
    if where is not None:  # an empty --where is refused, as by transform, not read as "no condition"
        frame = filter_where(frame, where, names)
    if columns:
        chosen = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in chosen if c not in names]
        if unknown:
            raise ConfigError(f"{target} has no column {unknown[0]!r}", f"columns: {', '.join(names)}")
        frame = frame.select(chosen)
    if limit is not None:
        frame = frame.head(limit)
    try:
        result = collect(frame, settings.engine)
    except (OSError, pl.exceptions.PolarsError) as exc:
        if not is_readable(path):
            raise unreadable(path, owner.name if owner else None) from None
        refused = where_failed(exc, where) if where is not None else None
        if refused is not None:
            raise refused from None
        if not isinstance(exc, pl.exceptions.ComputeError):
            raise
        raise InputError(f"cannot read {path}: {str(exc).splitlines()[0]}", "rerun the stage with --force") from None
    chosen_format = fmt or ("table" if sys.stdout.isatty() else "csv")
    if chosen_format == "table":
        _print_rich(result, target)
        return
    from ector.pipes import check_format, write_stream

    write_stream(result, check_format(chosen_format), sys.stdout.buffer)


def _table_path(workdir: Path, target: str) -> Path:
    """The Parquet file STAGE/TABLE names, refusing anything outside the work directory."""
    from ector.workdir import OWN_ENTRIES

    root = workdir.resolve()
    relative = target.removesuffix(".parquet") + ".parquet"
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or Path(target).is_absolute():
        raise ConfigError(
            f"{target!r} is outside the work directory", "name a table as STAGE/TABLE, e.g. transform/cases"
        )
    if not path.is_file():
        # Searched in the stage folders only: a work directory of `/` must not walk the whole disk for a hint.
        available = sorted(
            p.relative_to(root).with_suffix("").as_posix()
            for folder in sorted(OWN_ENTRIES)
            if (root / folder).is_dir()
            for p in (root / folder).rglob("*.parquet")
            if not p.name.startswith(".")
        )
        hint = (
            f"tables: {', '.join(available[:12])}" + (" ..." if len(available) > 12 else "")
            if available
            else ("run `ector all` first")
        )
        raise ConfigError(f"no table {target!r} in {workdir}", hint)
    return path


def _print_rich(frame: Any, title: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ector.pipes import as_text_lists

    frame = as_text_lists(frame)

    table = Table(title=f"{title} ({frame.height:,} rows)", title_justify="left")
    for name in frame.columns:
        table.add_column(escape(name), overflow="fold", max_width=60)
    for row in frame.iter_rows():
        table.add_row(*("" if v is None else escape(_printable(str(v))) for v in row))
    Console().print(table)


# Characters a terminal acts on rather than shows: C0/C1 controls (ESC starts colour and cursor sequences, CR
# overwrites the line) and the bidirectional overrides that reorder what is displayed. Newline and tab stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CELL_LIMIT = 1_000  # characters of one value in a table for reading; csv, json and parquet carry it whole


def _printable(value: str) -> str:
    """`value` with terminal controls shown as escapes (\\x1b) and cut to _CELL_LIMIT characters."""
    if len(value) > _CELL_LIMIT:
        value = f"{value[:_CELL_LIMIT]}… ({len(value) - _CELL_LIMIT:,} more characters)"
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", value)
