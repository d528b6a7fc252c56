"""The `ector` application: its global options, the effective settings, and errors turned into exit codes.

The commands are registered by the other modules of this package (`ector.cli` imports them in order). Heavy
libraries (polars, connectorx, plotnine) are imported inside commands so `ector --help` stays fast.
"""

from __future__ import annotations

import errno
import signal
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ector import __version__
from ector.console import out
from ector.errors import EXIT_FAILED, EXIT_USAGE, EctorError, redact

if TYPE_CHECKING:
    from ector.settings import Settings

app = typer.Typer(
    name="ector",
    help="Surgical-outcome analytics from an Igraine Gold layer.\n\n"
    "Example: ector demo --out demo/gold.sqlite && ector ingest --source demo/gold.sqlite",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,  # errors are shown by `main`; locals could hold a connection string
)


class _Globals:
    config: Path | None = None
    workdir: Path | None = None


_globals = _Globals()
FORCE = Annotated[bool, typer.Option("--force", "-f", help="run even when inputs and settings are unchanged")]
FORMAT_HELP = "stream format for -o: arrow (default for pipes) | csv | json (NDJSON) | parquet"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ector {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML settings file (default: ./ector.yaml)")
    ] = None,
    workdir: Annotated[
        Path | None, typer.Option("--workdir", "-w", help="work directory (default: ./ector-work)")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="also report debug events")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="report errors only")] = False,
    log_format: Annotated[str, typer.Option("--log-format", help="text | json (one JSON object per line)")] = "text",
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks (secrets still masked)")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    if log_format not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--log-format")
    if verbose and quiet:
        raise typer.BadParameter("--verbose and --quiet exclude each other", param_hint="--quiet")
    out.log_format = "json" if log_format == "json" else "text"
    out.min_level = "debug" if verbose else "error" if quiet else "info"
    out.debug = debug
    _globals.config = config
    _globals.workdir = workdir


def load(**overrides: Any) -> Settings:
    """The effective settings: these command flags and the global ones over environment, file, defaults."""
    from ector.settings import load_settings

    return load_settings(_globals.config, {"workdir": _globals.workdir, **overrides})


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C, so staged files are removed and the lock released."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main() -> None:
    """Run the CLI; turn every error into one readable line and the documented exit code."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        code = 130
    except typer.TyperException as exc:  # a bad flag or argument: click's own message, exit 2
        show = getattr(exc, "show", None)
        if show is not None:
            show(file=sys.stderr)
        code = int(getattr(exc, "exit_code", EXIT_USAGE))
    except EctorError as exc:
        _show_traceback()
        out.error(exc.message, exc.hint)
        code = exc.exit_code
    except OSError as exc:
        if not _is_broken_pipe(exc):
            _show_traceback()
            out.error(f"{type(exc).__name__}: {exc}", "check the file or device named above")
            code = EXIT_FAILED
        else:
            # A reader downstream (`| head`) closed the pipe: that is how pipes end, not a failure.
            _silence_stdout()
            code = 0
    except (KeyboardInterrupt, Terminated) as exc:
        out.error("stopped by a signal; outputs published before it are intact", "rerun the command to finish")
        code = 143 if isinstance(exc, Terminated) else 130
    except Exception as exc:
        _show_traceback()
        out.error(f"unexpected error: {type(exc).__name__}: {exc}", "rerun with --debug and report it")
        code = EXIT_FAILED
    sys.exit(code if isinstance(code, int) else 0)


def _show_traceback() -> None:
    if out.debug:
        sys.stderr.write(redact(traceback.format_exc()))


def _is_broken_pipe(exc: OSError) -> bool:
    # Polars reports a closed pipe as a plain OSError carrying the OS message, not as BrokenPipeError.
    return isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE or "os error 32" in str(exc)


def _silence_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
