"""One command per stage of the chain, built from its declaration (`ector.stage.Stage`).

A command's options are the stage's own, plus `--force`; a stage with a primary table takes `-o PATH|-` and
`--format` (an ad-hoc result on a file or stdout, the work directory left as it was), and one that reads a
piped input takes `-i PATH|-`. An option that sets a setting (`--by`, `--audience`, `--source`) overrides it;
any other is handed to the stage's body and recorded in the manifest.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ector.chain import CHAIN
from ector.cli.app import FORMAT_HELP, app, load
from ector.console import out
from ector.stage import Option, Stage

if TYPE_CHECKING:
    import polars as pl

    from ector.pipes import StreamFormat

# Options every command with a primary table, or a piped input, has; handled here, not by the stage.
_OUTPUT = Option(
    "output", ("--output", "-o"), "write the result to PATH (a new file), or - for stdout, not the workdir"
)
_FORMAT = Option("fmt", ("--format",), FORMAT_HELP, default="arrow")
_INPUT = Option("input_", ("--input", "-i"), "read the case mart from PATH, or - for stdin")
_FORCE = Option("force", ("--force", "-f"), "run even when inputs and settings are unchanged", kind=bool, default=False)
# A stage that writes outside the work directory: --force also allows replacing what a user made there.
_FORCE_REPLACING = Option(
    "force",
    ("--force", "-f"),
    "run even when inputs and settings are unchanged; replace an existing file -o names, or a folder --out names "
    "that Ector did not write",
    kind=bool,
    default=False,
)

workflow_app = typer.Typer(
    help="Compute a view: patient cohorts, surgeon or site outcomes.\n\nExample: ector workflow surgeon --by month",
    no_args_is_help=True,
)


def command(stage: Stage) -> Any:
    """Return the Typer command function of `stage`: its declared options and those of its pipes."""
    options = [*stage.options]
    if stage.piped_input is not None:
        options.append(_INPUT)
    if stage.primary is not None:
        options += [_OUTPUT, _FORMAT]
    writes_outside = stage.primary is not None or any(o.name == "out" for o in stage.options)
    options.append(_FORCE_REPLACING if writes_outside else _FORCE)

    def run(**given: Any) -> None:
        _run(stage, given)

    parameters = [
        inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default, annotation=_annotation(o))
        for o in options
    ]
    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]  # what Typer reads
    run.__doc__ = f"{stage.summary}\n\nExample: {stage.example}"
    run.__name__ = "_".join(stage.command)
    return run


def _annotation(option: Option) -> Any:
    kind = option.kind if option.kind is bool or option.default is not None else option.kind | None
    formats = list(option.formats) if option.formats else None
    return Annotated[kind, typer.Option(*option.flags, help=option.help, formats=formats)]


def _run(stage: Stage, given: dict[str, Any]) -> None:
    from ector.pipes import check_format
    from ector.runner import run_adhoc, run_stage

    force, output, fmt, piped = given.pop("force"), given.pop("output", None), given.pop("fmt", None), None
    if "input_" in given:
        piped = given.pop("input_")
    settings = load(**{o.setting: given[o.name] for o in stage.options if o.setting is not None})
    options = {o.name: given[o.name] for o in stage.options if o.setting is None}
    inputs = {stage.piped_input: _read_mart(piped)} if piped is not None and stage.piped_input else {}
    if output is not None:
        stream_format = check_format(fmt or "arrow")
        target = None if output == "-" else _output_file(Path(output), force=force)  # before any work
        _emit(run_adhoc(stage, settings, options, inputs), target, stream_format)
        return
    run_stage(stage, settings, options, force=force, given=inputs, replace=force)


def _read_mart(source: str) -> pl.LazyFrame:
    """The case mart from a file or stdin (`-`), converted back to the mart's dtypes and checked by its schema."""
    import sys

    from ector.pipes import read_stream
    from ector.transform.dictionary import MART_SCHEMA
    from ector.transform.schema import validate_given_mart
    from ector.workflows.mart import REQUIRED

    if source == "-":
        frame = read_stream(sys.stdin.buffer, schema=MART_SCHEMA)
    else:
        with Path(source).open("rb") as handle:
            frame = read_stream(handle, schema=MART_SCHEMA)
    return validate_given_mart(frame, REQUIRED).lazy()


def _output_file(target: Path, *, force: bool) -> Path:
    """The file `-o` names, checked: not a folder, and not a file of the user's unless `force` (Ector cannot tell a
    CSV it wrote from one a user made, so every existing file counts as theirs)."""
    from ector.errors import ConfigError
    from ector.files import check_replaceable

    if target.is_dir():
        raise ConfigError(f"-o {target} is a folder", "name a file to write, or - for stdout")
    if _is_stream(target):  # /dev/null, /dev/stdout, a named pipe: written into, never replaced
        return target
    if target.exists() and not target.is_file():
        raise ConfigError(f"-o {target} is not a regular file", "name a file to write, or - for stdout")
    check_replaceable(target, "-o", force=force, ours=None)
    return target


def _is_stream(target: Path) -> bool:
    """Whether `target` is a character device or a named pipe: something to write into, not a file to replace."""
    import stat

    try:
        mode = target.stat().st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _emit(frame: pl.DataFrame, target: Path | None, stream_format: StreamFormat) -> None:
    """Write a result to stdout (None), into a device or pipe, or to a file atomically."""
    import io
    import sys

    from ector.files import write_bytes_atomic
    from ector.pipes import write_stream

    if target is None:
        write_stream(frame, stream_format, sys.stdout.buffer)
        return
    if _is_stream(target):
        with target.open("wb") as stream:
            write_stream(frame, stream_format, stream)
        return
    buffer = io.BytesIO()
    write_stream(frame, stream_format, buffer)
    write_bytes_atomic(target, buffer.getvalue())
    out.event(f"wrote {frame.height:,} rows to {target}")


for _stage in CHAIN:
    if len(_stage.command) == 1:
        app.command(_stage.command[0], rich_help_panel="Pipeline")(command(_stage))
        continue
    if not workflow_app.registered_commands:  # the group takes the place of its first view in --help
        app.add_typer(workflow_app, name="workflow", rich_help_panel="Pipeline")
    workflow_app.command(_stage.command[1])(command(_stage))
