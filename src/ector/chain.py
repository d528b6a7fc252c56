"""The chain of stages, in order: what `ector all` runs, `ector status` lists and the command line offers.

Adding a stage is a declaration in its own package (`ector.stage.Stage`) and one line here.
"""

from __future__ import annotations

from typing import Final

from ector.consolidate.stage import STAGE as CONSOLIDATE
from ector.errors import ConfigError
from ector.ingest.stage import STAGE as INGEST
from ector.report.stage import STAGE as REPORT
from ector.stage import Stage
from ector.transform.stage import STAGE as TRANSFORM
from ector.workflows.stage import STAGES as VIEWS

CHAIN: Final[tuple[Stage, ...]] = (INGEST, CONSOLIDATE, TRANSFORM, *VIEWS, REPORT)
__all__ = [
    "CHAIN",
    "CONSOLIDATE",
    "GROUPS",
    "INGEST",
    "REPORT",
    "TRANSFORM",
    "VIEWS",
    "chain_slice",
    "producer",
    "stage",
]
# A command that names several stages: `ector all --from workflow` starts at the first view.
GROUPS: Final[dict[str, tuple[Stage, ...]]] = {"workflow": VIEWS}


def stage(name: str) -> Stage:
    """The stage called `name` (`workflow/surgeon`)."""
    for candidate in CHAIN:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def chain_slice(first: str | None, last: str | None) -> list[Stage]:
    """The stages from `first` to `last` inclusive (`workflow` stands for the three views); ConfigError for an
    unknown name or a reversed pair."""
    names = [s.name for s in CHAIN]

    def position(name: str, pick: int) -> int:
        members = [s.name for s in GROUPS.get(name, ())] or [name]
        if members[0] not in names:
            choices = ", ".join(dict.fromkeys(n.split("/")[0] for n in names))
            raise ConfigError(f"unknown stage {name!r}", f"stages: {choices}")
        return names.index(members[pick])

    start = position(first, 0) if first else 0
    stop = position(last, -1) if last else len(names) - 1
    if start > stop:
        raise ConfigError(f"--from {first} comes after --to {last}", "give the stages in pipeline order")
    return list(CHAIN[start : stop + 1])


def producer(relative: str) -> Stage | None:
    """The stage that writes a file of the work directory (the longest stage name its path starts with)."""
    owners = [s for s in CHAIN if relative.startswith(f"{s.name}/")]
    return max(owners, key=lambda s: len(s.name)) if owners else None
