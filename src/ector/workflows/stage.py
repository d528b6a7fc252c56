"""The workflow stages: the case mart -> workflow/<view>/<table>.parquet, one stage per view.

Each body reads the mart (transform/cases.parquet, or a mart given with `-i`), calls the view's own function
(`surgeon_view`, ...) with the runner's materialiser, and sinks every table; `summary` is the primary one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from ector.stage import Input, Option, Stage
from ector.transform.stage import STAGE as TRANSFORM

if TYPE_CHECKING:
    import polars as pl

    from ector.runner import StageRun

VIEWS: Final = ("patient", "surgeon", "site")
_HELP: Final = {
    "patient": (
        "Patient view: cohorts by age band, sex, ASA, urgency, family, approach, period; per-patient summary.",
        "ector workflow patient --by year",
        ("summary", "per_patient", "availability"),
    ),
    "surgeon": (
        "Surgeon view: volumes, rates with intervals, O/E, funnels, case mix, learning curves, CUSUM and VLAD.",
        "ector workflow surgeon -o - --format csv | column -s, -t",
        (
            "summary", "by_family", "by_period", "outcomes", "case_mix", "learning_curve", "cusum", "funnel",
            "signals", "availability",
        ),
    ),
    "site": (
        "Site view: the surgeon view's figures per site, volume trends and surgeons active per period.",
        "ector workflow site --by quarter",
        (
            "summary", "by_family", "by_period", "outcomes", "case_mix", "cusum", "funnel", "signals",
            "volume_trend", "surgeons_active", "availability",
        ),
    ),
}  # fmt: skip


def _body(view: str) -> Callable[[StageRun], None]:
    def build(run: StageRun) -> None:
        """Build the view from the case mart and sink every table; record the inputs not available."""
        import polars as pl

        from ector.console import out
        from ector.workflows.patient import patient_view
        from ector.workflows.site import site_view
        from ector.workflows.surgeon import surgeon_view

        function = {"patient": patient_view, "surgeon": surgeon_view, "site": site_view}[view]
        mart = run.read("mart")
        _check_memory(view, run.rows_in.get(run.stage.inputs["mart"].path))
        tables = function(mart, run.settings.analysis, run.outputs)
        availability = tables["availability"].lazy().collect()
        missing = availability.filter(~pl.col("available"))["column"].to_list()
        for column in missing:
            out.event(f"{column} not available: shown as such, not as zero", stage=run.name, level="warning")
        run.facts["not_available"] = missing
        if "signals" in tables:
            tables["signals"] = _dated_signals(run, tables["signals"].lazy().collect())
        run.sink({name: frame.lazy() for name, frame in sorted(tables.items())})

    return build


def _dated_signals(run: StageRun, signals: pl.DataFrame) -> pl.DataFrame:
    """Return the view's signals with first_seen_run, from the signals its previous run published; record this
    run's number and its new signals, and announce each new one (one JSON event each with --log-format json)."""
    import polars as pl

    from ector.console import out
    from ector.workflows.signals import new_signals, with_first_seen

    number = run.workdir.read_manifest()["stages"].get(run.name, {}).get("run", 0) + 1
    path = run.workdir.output(run.stage.output("signals"))
    previous = None
    if path.is_file():
        try:
            previous = pl.read_parquet(path)
        except (OSError, pl.exceptions.PolarsError):
            out.event(
                "the previous run's signals do not read: every signal counts as new", stage=run.name, level="warning"
            )
    dated = with_first_seen(signals, previous, number)
    if run.adhoc is not None:  # `-o`: nothing is published, so this is no run of the view to count or announce
        return dated
    new = new_signals(dated, number)
    run.facts |= {"run": number, "signals": dated.height, "new_signals": new.height}
    if out.log_format == "json":
        for signal in new.drop("first_seen_run").rename({"level": "signal_level"}).iter_rows(named=True):
            out.event("new signal", stage=run.name, level="warning", **signal)
    elif new.height:
        pairs = new.unique(["unit_id", "outcome"], maintain_order=True).head(MENTIONED)
        named = ", ".join(f"{unit} {outcome}" for unit, outcome in pairs.select("unit_id", "outcome").iter_rows())
        more = new.select("unit_id", "outcome").n_unique() - pairs.height
        out.event(
            f"{new.height} new signals: {named}" + (f" and {more} more" if more > 0 else ""),
            stage=run.name,
            level="warning",
        )
    return dated


MENTIONED: Final = 5  # units and outcomes named in the text line of new signals


# What a view holds in memory per case of the mart, measured by `nox -s bench` at 10M cases (peak RSS 2.31 to
# 2.67 GB for 9.83M cases: 235 to 272 bytes a case), rounded up.
BYTES_PER_CASE: Final = 300


def _check_memory(view: str, cases: int | None) -> None:
    """Raise EctorError when the view would hold more than this machine has available (a part of the mart, at
    most `load.PART_CASES` cases): one clear line before any work, rather than the kernel killing the process."""
    from ector.errors import EctorError
    from ector.memory import available_bytes
    from ector.workflows import load

    available = available_bytes()
    if cases is None or available is None:
        return
    held = min(cases, load.PART_CASES) * BYTES_PER_CASE  # a larger mart is worked a part at a time
    if held <= available:
        return
    raise EctorError(
        f"workflow {view} would hold about {held / 2**30:.1f} GB in memory for the mart's {cases:,} cases, and"
        f" {available / 2**30:.1f} GB are available",
        "select fewer cases (`ector transform --since/--until/--where`) or use a machine with more memory"
        " (docs/operations.md, Memory and disk)",
    )


def _stage(view: str) -> Stage:
    summary, example, tables = _HELP[view]
    return Stage(
        name=f"workflow/{view}",
        command=("workflow", view),
        summary=summary,
        example=example,
        sections=("analysis",),
        inputs={"mart": Input(TRANSFORM.output("cases"), TRANSFORM.name)},
        outputs=tables,
        options=(Option("by", ("--by",), "period of trends: month | quarter | year", setting="analysis.period"),),
        primary="summary",
        piped_input="mart",
        body=_body(view),
    )


PATIENT, SURGEON, SITE = (_stage(view) for view in VIEWS)
STAGES: Final = (PATIENT, SURGEON, SITE)
