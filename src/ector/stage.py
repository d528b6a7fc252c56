"""A stage of the chain, declared once: its name, settings, inputs, outputs, body and command-line options.

Each stage package exports one `Stage` (`ector.consolidate.stage.STAGE`, ...) and `ector.chain` lists them in
order. The runner (`ector.runner`) reads a stage's inputs, fingerprints and freshness from its declaration and
calls its body; the command line builds the stage's command from it; `ector all`, `ector status` and the
manifest read the same declarations. A path of the work directory is written in one declaration only: a stage
that reads another's output names it through that stage (`TRANSFORM.output("cases")`).

Declarations import nothing heavy: `ector --help` builds every command from them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ector.runner import StageRun
    from ector.settings import Settings

Body = Callable[["StageRun"], None]


@dataclass(frozen=True)
class Input:
    """A file a stage reads: its path in the work directory, the stage that writes it, and whether it may be absent."""

    path: str
    producer: str
    optional: bool = False


@dataclass(frozen=True)
class Option:
    """A command-line option of a stage: the keyword its body gets, its flags, type and help.

    An option that sets a setting (`setting`, a dotted key such as `analysis.period`) is applied to the settings
    and recorded with them; any other option given is recorded in the manifest as the stage's own.
    """

    name: str
    flags: tuple[str, ...]
    help: str
    kind: Any = str  # the parameter's type as Typer reads it: str, int, bool, Path, list[str], datetime
    default: Any = None
    setting: str | None = None
    formats: tuple[str, ...] = ()  # accepted formats of a datetime option


@dataclass(frozen=True)
class Stage:
    """One stage: everything the runner, the command line and the manifest know of it."""

    name: str  # also its folder in the work directory: `workflow/surgeon`
    command: tuple[str, ...]  # the command that runs it: ("workflow", "surgeon")
    summary: str  # the first line of its help
    example: str
    sections: tuple[str, ...]  # settings sections whose change makes it stale
    inputs: Mapping[str, Input]
    body: Body
    outputs: tuple[str, ...] = ()  # its tables, relative to its folder (patterns such as `quarantine/*`)
    options: tuple[Option, ...] = ()
    primary: str | None = None  # the table `-o` writes to a file or a pipe instead of the work directory
    piped_input: str | None = None  # the input `-i` replaces with a file or a pipe
    files: bool = False  # it writes a folder of files (the report) rather than Parquet tables
    source: Callable[[Settings], dict[str, str] | None] | None = field(default=None, repr=False)

    def output(self, table: str) -> str:
        """The path of one of its tables in the work directory: `transform/cases.parquet`."""
        return f"{self.name}/{table}.parquet"

    @property
    def input_patterns(self) -> tuple[str, ...]:
        """The paths (or globs) of every input, for fingerprints: what changing makes the stage stale."""
        return tuple(dict.fromkeys(i.path for i in self.inputs.values()))
