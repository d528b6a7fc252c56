"""Diagnostics on stderr: events as text or JSON lines, progress, and the one-line error display.

stdout carries data only (a pipe's Arrow stream or CSV); everything a person reads goes through here.
Every line passes through `redact`, so a secret never reaches a terminal or a log shipper.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from ector.errors import redact

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import Console
    from rich.table import Table

LogFormat = Literal["text", "json"]
Level = Literal["debug", "info", "warning", "error"]
_LEVELS: dict[str, int] = {"debug": 10, "info": 20, "warning": 30, "error": 40}


@dataclass
class Output:
    """How this process reports: verbosity, format, and whether tracebacks are shown."""

    log_format: LogFormat = "text"
    min_level: Level = "info"
    debug: bool = False
    _console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            console = Console(stderr=True, highlight=False, soft_wrap=False)
            # Logs of a cron job or CI are read wider than 80 columns; a terminal keeps its own width.
            self._console = (
                console if console.is_terminal else Console(stderr=True, highlight=False, soft_wrap=True, width=140)
            )
        return self._console

    def enabled(self, level: Level) -> bool:
        return _LEVELS[level] >= _LEVELS[self.min_level]

    def event(self, event: str, *, level: Level = "info", stage: str | None = None, **fields: Any) -> None:
        """Report one event: a readable line on a terminal, one JSON object per line with --log-format json."""
        if not self.enabled(level):
            return
        if self.log_format == "json":
            record: dict[str, Any] = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "level": level}
            record |= {"stage": stage, "event": event, **fields}
            sys.stderr.write(redact(json.dumps(record, default=str)) + "\n")
            sys.stderr.flush()
            return
        prefix = f"[bold]{stage}[/bold]: " if stage else ""
        style = {"warning": "yellow", "error": "red", "debug": "dim"}.get(level, "")
        detail = " ".join(f"{k}={_fmt(v)}" for k, v in fields.items() if v is not None)
        text = redact(f"{prefix}{event}" + (f" [dim]{detail}[/dim]" if detail else ""))
        self.console.print(f"[{style}]{text}[/{style}]" if style else text)

    def error(self, message: str, hint: str | None = None) -> None:
        """The one line a user sees when a command fails (errors show even with --quiet)."""
        if self.log_format == "json":
            self.event(message, level="error", hint=hint)
            return
        line = f"[bold red]Error:[/bold red] {_escape(redact(message))}"
        if hint:
            line += f"\n[dim]Hint: {_escape(redact(hint))}[/dim]"
        self.console.print(line)

    def table(self, table: Table) -> None:
        """A Rich table on stderr (summaries); skipped in JSON mode and with --quiet."""
        if self.log_format == "text" and self.enabled("info"):
            self.console.print(table)

    @contextmanager
    def progress(self, description: str, total: int | None = None) -> Iterator[_Advance]:
        """A progress bar on a terminal; silent when stderr is not one, in JSON mode or with --quiet."""
        if self.log_format == "json" or not self.enabled("info") or not self.console.is_terminal:
            yield _Advance(None, None)
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            yield _Advance(bar, bar.add_task(description, total=total))


class _Advance:
    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def __call__(self, steps: int = 1, description: str | None = None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=steps, description=description)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# The process-wide output, configured once by the CLI callback.
out = Output()
