"""The report stage on a work directory of real workflow outputs: files, disclosure, self-containment, gaps."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ector import runner
from ector.errors import EXIT_USAGE, ConfigError, EctorError, MissingInputError
from ector.report import page
from ector.report.disclosure import pseudonym
from tests.report.conftest import make_report
from tests.report.scan import (
    chart_labels,
    external_references,
    report_texts,
    small_counts,
    table_cells,
    without_data_uris,
)
from tests.report.workdirs import KEY, PLANTED, SURGEON_IDS, SURGEON_NAMES, TINY

K = 11  # report.min_cell_size by default


def _pseudonyms(text: str) -> list[str]:
    return sorted(set(re.findall(r"SRG-[A-Z2-7]{4}-[A-Z2-7]{4}", text)))


def test_report_writes_a_page_every_figure_in_png_and_svg_and_every_table(internal_report: Path) -> None:
    figures = sorted((internal_report / "figures").iterdir())
    names = {p.stem for p in figures}

    assert (internal_report / "index.html").is_file()
    assert {
        "surgeon-funnel-complication_major",
        "surgeon-learning-curves",
        "surgeon-cusum",
        "site-volume-trend",
    } <= names
    assert all((internal_report / "figures" / f"{n}.png").is_file() for n in names)
    assert all((internal_report / "figures" / f"{n}.svg").is_file() for n in names)
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in figures if p.suffix == ".png")
    tables = {p.stem: p.read_text(encoding="utf-8") for p in (internal_report / "tables").glob("*.html")}
    assert {"headline", "cohort", "surgeons", "sites", "stage-rows", "rules", "missing"} <= set(tables)
    assert all(t.startswith("<!DOCTYPE html>") and "<table" in t for t in tables.values())


def test_internal_report_shows_exact_counts_ids_and_names(internal_report: Path) -> None:
    surgeons = (internal_report / "tables" / "surgeons.html").read_text(encoding="utf-8")
    rows = (internal_report / "tables" / "stage-rows.html").read_text(encoding="utf-8")

    assert all(s in surgeons and SURGEON_NAMES[s] in surgeons for s in SURGEON_IDS)
    tiny_row = next(c for c in surgeons.split("<tr>") if TINY in c)
    assert "<td" in tiny_row and ">6<" in tiny_row  # the six-case surgeon's volume, exactly
    assert ">3<" in rows  # three quarantined cases
    assert small_counts(table_cells(surgeons), K)  # death counts below 11 are shown as they are


def test_planted_surgeon_is_labelled_on_its_funnel_plot(internal_report: Path) -> None:
    svg = (internal_report / "figures" / "surgeon-funnel-complication_major.svg").read_text(encoding="utf-8")

    assert any(PLANTED in label for label in chart_labels(svg))


def test_highlighted_surgeon_gets_monitoring_charts(internal_report: Path, external_report: Path) -> None:
    internal = (internal_report / "figures" / "surgeon-learning-curves.svg").read_text(encoding="utf-8")
    external = (external_report / "figures" / "surgeon-learning-curves.svg").read_text(encoding="utf-8")

    assert any("S705" in label for label in chart_labels(internal))
    assert any(pseudonym("S705", KEY.encode()) in label for label in chart_labels(external))


def test_external_report_shows_no_surgeon_id_or_name_anywhere(external_report: Path) -> None:
    texts = {name: without_data_uris(text) for name, text in report_texts(external_report).items()}

    for name, text in texts.items():
        for identifier in [*SURGEON_IDS, *SURGEON_NAMES.values(), "Quillfeather"]:
            assert not re.search(rf"(?<![A-Za-z0-9]){identifier}(?![A-Za-z0-9])", text, re.IGNORECASE), (
                name,
                identifier,
            )


def test_external_report_shows_no_count_below_k_in_any_table_or_chart_label(external_report: Path) -> None:
    texts = report_texts(external_report)

    cells = [cell for name, text in texts.items() if name.endswith(".html") for cell in table_cells(text)]
    labels = [label for name, text in texts.items() if name.endswith(".svg") for label in chart_labels(text)]

    assert cells and labels
    assert small_counts(cells, K) == []
    assert small_counts(labels, K) == []
    assert any(f"<{K}" in cell for cell in cells)  # the small counts are there, as <11


def test_external_report_leaves_out_per_case_monitoring_and_says_why(external_report: Path) -> None:
    page = (external_report / "index.html").read_text(encoding="utf-8")

    assert not (external_report / "figures" / "surgeon-cusum.svg").exists()
    assert "CUSUM and VLAD charts: not available." in page
    assert re.search(r"\b20\d\d-\d\d-\d\d\b", without_data_uris(page)) is None  # no date finer than a month


def test_pseudonyms_are_the_keyed_codes_and_stable_across_runs(
    views_workdir: Path, external_report: Path, tmp_path: Path
) -> None:
    first = _pseudonyms((external_report / "tables" / "surgeons.html").read_text(encoding="utf-8"))

    again = make_report(views_workdir, tmp_path / "again", "external", **{"privacy.pseudonym_key": KEY})
    second = _pseudonyms((again / "tables" / "surgeons.html").read_text(encoding="utf-8"))

    assert first == second == sorted(pseudonym(s, KEY.encode()) for s in SURGEON_IDS)


@pytest.mark.parametrize("report", ["internal_report", "external_report"])
def test_report_is_self_contained(report: str, request: pytest.FixtureRequest) -> None:
    folder: Path = request.getfixturevalue(report)
    page = (folder / "index.html").read_text(encoding="utf-8")

    assert external_references(page) == []
    sources = re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert re.findall(r"<script[^>]*\ssrc=", page) == []
    assert all(external_references(t) == [] for n, t in report_texts(folder).items() if n.startswith("tables/"))


def test_a_network_reference_in_the_page_stops_the_report_before_writing(
    views_workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(page, "_CSS", page._CSS + "@import url('https://fonts.example/f.css');")

    with pytest.raises(EctorError, match="refers to a network resource"):
        make_report(views_workdir, tmp_path / "out", "internal")

    assert not (tmp_path / "out").exists()


def test_external_report_without_a_key_fails_before_writing_anything(views_workdir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        make_report(views_workdir, tmp_path / "out", "external")

    assert error.value.exit_code == EXIT_USAGE
    assert "ECTOR_PRIVACY__PSEUDONYM_KEY" in str(error.value)
    assert not (tmp_path / "out").exists()


def test_report_without_any_view_names_the_command_to_run(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError, match="ector workflow surgeon"):
        make_report(tmp_path / "empty", tmp_path / "out", "internal")


def test_views_not_run_and_outcomes_not_available_are_said_and_never_shown_as_zero(partial_report: Path) -> None:
    page = (partial_report / "index.html").read_text(encoding="utf-8")
    surgeons = (partial_report / "tables" / "surgeons.html").read_text(encoding="utf-8")

    assert (
        "The site view: not available.</strong> workflow/site/summary.parquet does not exist: run `ector workflow site`"
        in page
    )
    assert "The patient view: not available." in page
    assert "Any complication: not available.</strong> not available: all null in the case mart" in page
    assert "consolidate/summary.parquet does not exist: run `ector consolidate`" in page
    assert "Any complication" not in surgeons and "Major complication" not in surgeons
    assert not (partial_report / "figures" / "surgeon-funnel-complication_any.png").exists()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_rerun_replaces_the_report_folder_whole(views_workdir: Path, tmp_path: Path) -> None:
    out = make_report(views_workdir, tmp_path / "out", "internal")
    (out / "figures" / "surgeon-cusum-S999.png").write_bytes(b"\x89PNG from a run long ago")

    make_report(views_workdir, out, "internal")

    assert not (out / "figures" / "surgeon-cusum-S999.png").exists()
    assert (out / "index.html").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left beside it


@pytest.mark.parametrize("stop", ["while writing", "before the swap"])
def test_a_report_stopped_half_way_leaves_the_previous_report_whole(
    views_workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: str
) -> None:
    out = make_report(views_workdir, tmp_path / "out", "internal")
    before = _files(out)

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt  # what a SIGTERM or Ctrl-C raises in the stage

    if stop == "while writing":
        written = 0
        write_bytes = Path.write_bytes

        def fifth_write_interrupted(path: Path, data: bytes) -> int:
            nonlocal written
            written += 1
            if written == 5:
                interrupted()
            return write_bytes(path, data)

        monkeypatch.setattr(Path, "write_bytes", fifth_write_interrupted)
    else:
        monkeypatch.setattr(runner, "publish_folder", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_report(views_workdir, out, "internal", **{"report.title": "A new title"})

    assert _files(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_report_into_a_folder_of_other_files_is_refused_and_the_files_are_kept(
    views_workdir: Path, tmp_path: Path
) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("my notes", encoding="utf-8")

    with pytest.raises(ConfigError, match="holds files Ector did not write") as error:
        make_report(views_workdir, tmp_path / "mine", "internal")

    assert error.value.exit_code == EXIT_USAGE
    assert _files(tmp_path / "mine") == {"notes.txt": b"my notes"}


def test_the_report_opens_on_the_signals_with_the_planted_surgeons_cusum_signal(
    internal_report: Path, views_workdir: Path
) -> None:
    import polars as pl

    page = (internal_report / "index.html").read_text(encoding="utf-8")
    table = (internal_report / "tables" / "signals.html").read_text(encoding="utf-8")
    signals = pl.read_parquet(views_workdir / "workflow" / "surgeon" / "signals.parquet")
    planted = signals.filter(unit_id=PLANTED, chart="cusum_upper", outcome="complication_major")

    assert page.index('id="signals"') < page.index('id="overview"') < page.index('id="surgeons"')
    assert planted.height >= 1
    rows = [row for row in table.split("<tr>") if PLANTED in row and "CUSUM, deterioration" in row]
    assert len(rows) == planted.height
    # The case and date of each signal, as written in signals.parquet; all new on a first run.
    for case, day in planted.select("case_seq", "surgery_date").iter_rows():
        assert any(f">{case}<" in row and f">{day}<" in row and ">yes<" in row for row in rows)
    # In case order (as numbers: 296 before 1054).
    shown = [next(c for c in planted["case_seq"].to_list() if f">{c}<" in row) for row in rows]
    assert shown == sorted(shown)


@pytest.fixture
def own_views_workdir(views_workdir: Path, tmp_path: Path) -> Path:
    """A copy of the views work directory that a test may write its report into."""
    return Path(shutil.copytree(views_workdir, tmp_path / "work"))


def test_report_out_into_a_folder_of_other_files_needs_force_through_the_cli(
    own_views_workdir: Path, tmp_path: Path, cli
) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("my notes", encoding="utf-8")

    refused = cli("-w", str(own_views_workdir), "report", "--out", "mine")

    assert refused.exit_code == EXIT_USAGE, refused.output
    first = refused.stderr.splitlines()[0]
    assert "--out mine holds files Ector did not write" in first and "--force" in first
    assert _files(tmp_path / "mine") == {"notes.txt": b"my notes"}
    forced = cli("-w", str(own_views_workdir), "report", "--out", "mine", "--force")
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "mine" / "index.html").is_file() and not (tmp_path / "mine" / "notes.txt").exists()
    again = cli("-w", str(own_views_workdir), "report", "--out", "mine")  # now Ector's own: rewritten freely
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("out", [".", "work", "work/.."])
def test_report_out_over_the_current_folder_or_the_work_directory_is_refused_even_with_force(
    out: str, own_views_workdir: Path, tmp_path: Path, cli
) -> None:
    before = _files(tmp_path)

    result = cli("-w", str(own_views_workdir), "report", "--out", out, "--force")

    assert result.exit_code == EXIT_USAGE, result.output
    assert result.stderr.startswith(f"Error: --out {out} holds "), result.stderr
    assert _files(tmp_path) == before


def test_case_mix_models_section_shows_discrimination_calibration_and_odds_ratios(
    internal_report: Path, views_workdir: Path
) -> None:
    import polars as pl

    models = pl.read_parquet(views_workdir / "transform" / "risk_models.parquet")
    summary = models.filter(pl.col("term").is_null(), outcome="complication_major", model="logistic").row(0, named=True)
    table = (internal_report / "tables" / "risk-models.html").read_text(encoding="utf-8")
    c = f"{summary['c_statistic']:.3f}"
    assert c in table  # the c-statistic of the fitted model, with its interval
    assert f"{summary['c_statistic_lower']:.3f}" in table
    ratios = (internal_report / "tables" / "odds-ratios-complication_major.html").read_text(encoding="utf-8")
    assert "1.00 (reference)" in ratios and ">III<" in ratios  # ASA classes as numerals, never bare digits
    assert (internal_report / "figures" / "calibration-complication_major.svg").is_file()
    index = (internal_report / "index.html").read_text(encoding="utf-8")
    assert 'id="case-mix-models"' in index
    # Methods says which model gives each outcome's expected events.
    methods = index[index.index('id="methods"') :]
    assert "major complication (Clavien-Dindo ≥ IIIa): logistic regression." in methods
    # Too few deaths in this mart for the model's parameters: the fallback is stated.
    assert "death: indirect standardisation (stratum rates), as the logistic model would have too few" in methods
