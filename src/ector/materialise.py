"""What stage logic may ask of the runner: collect plans, write named outputs, and spill intermediate frames.

Stage logic builds plans and decides what to compute when; it never opens a file or picks an engine. It gets a
`Materialiser`: the runner's (`runner.StageOutputs`) writes outputs to the stage's staging folder and spills
to its scratch folder, with `settings.engine`; `InMemory` keeps everything in memory, for the library and its
tests. Both collect through the engine seam (`ector.engine`), so the same loop runs either way.

An output is named relative to the stage's folder without its suffix: `cases`, `quarantine/cases`, `summary`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ector import engine

if TYPE_CHECKING:
    import polars as pl

    from ector.settings import Engine


class Materialiser(Protocol):
    """Collects plans, writes a stage's outputs and holds its intermediate frames."""

    def collect(self, plan: pl.LazyFrame, *, held: bool = False) -> pl.DataFrame:
        """Return `plan` computed (`held`: it reads only frames already in memory, `engine.chosen`)."""
        ...

    def collect_all(self, plans: Sequence[pl.LazyFrame], *, held: bool = False) -> list[pl.DataFrame]:
        """Return `plans` computed in one pass (shared parts computed once)."""
        ...

    def sink(self, outputs: Mapping[str, pl.LazyFrame]) -> None:
        """Write each named output, in one pass."""
        ...

    def spill(self, name: str, frame: pl.DataFrame) -> pl.LazyFrame:
        """Return a plan reading `frame` back, having moved it out of memory if the materialiser can."""
        ...

    def spill_in_turn(self, name: str, plans: Iterable[pl.LazyFrame]) -> pl.LazyFrame:
        """Compute each plan, one after the other, and return the plan that reads their rows back in that order
        (out of memory if the materialiser can: memory holds one plan's rows at a time)."""
        ...


@dataclass
class InMemory:
    """A materialiser that keeps outputs and spilled frames in memory: the library's own, and the tests'."""

    engine: Engine = "auto"
    outputs: dict[str, pl.DataFrame] = field(default_factory=dict)

    def collect(self, plan: pl.LazyFrame, *, held: bool = False) -> pl.DataFrame:
        return engine.collect(plan, self.engine, held=held)

    def collect_all(self, plans: Sequence[pl.LazyFrame], *, held: bool = False) -> list[pl.DataFrame]:
        return engine.collect_all(plans, self.engine, held=held)

    def sink(self, outputs: Mapping[str, pl.LazyFrame]) -> None:
        frames = engine.collect_all(list(outputs.values()), self.engine)
        self.outputs |= dict(zip(outputs, frames, strict=True))

    def spill(self, name: str, frame: pl.DataFrame) -> pl.LazyFrame:
        return frame.lazy()

    def spill_in_turn(self, name: str, plans: Iterable[pl.LazyFrame]) -> pl.LazyFrame:
        import polars as pl

        return pl.concat([self.collect(plan).lazy() for plan in plans])
