"""Rendering: ggplot -> PNG and SVG, GT -> HTML, and the report's files by path (the runner writes the folder).

Each figure is built once and drawn once per format from the same matplotlib figure. SVG text stays text
(`svg.fonttype: none`): smaller files, selectable labels, and a disclosure check can read every label.
"""

from __future__ import annotations

import importlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from ector.report.page import external_references, strip_external_imports, table_page

PNG_DPI: Final = 110
NO_SOFTWARE: Final[dict[str, Any]] = {"Software": None}  # None leaves matplotlib's own entry out of the PNG


@dataclass(frozen=True)
class RenderedFigure:
    name: str
    png: bytes
    svg: str


def render_figure(name: str, title: str, spec: Any) -> RenderedFigure:
    """Return the chart a ChartSpec describes, built once and drawn once as PNG bytes and once as SVG text."""
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.image import imsave

    from ector.report.charts import build  # imports plotnine: only where a chart is drawn

    pandas: Any = importlib.import_module("pandas")  # no type stubs installed for pandas
    # Strings in plotnine's pandas frames held as Python objects, not in Arrow arrays that plotnine then reads
    # back one value at a time: the same figures, 8% less CPU (the demo's 17 figures: 5.5 s, then 5.1 s).
    # Text as text in SVG; a fixed hash salt gives the same element ids on every run.
    with (
        pandas.option_context("mode.string_storage", "python"),
        matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "ector-report"}),
    ):
        figure = build(spec).draw()
        try:
            # Not savefig: it lays the figure out in a draw of its own before each format's draw. Here each format
            # is drawn once, laid out in that draw (the 1M-case demo's 17 figures: 4.3 s of CPU to save with
            # savefig, 3.4 s so). Not one layout for both: plotnine sizes the colour bar in pixels, and the PNG's
            # layout would set the SVG's 25 pt off centre.
            vector_dpi = figure.dpi
            figure.set_dpi(PNG_DPI)
            canvas: Any = FigureCanvasAgg(figure)  # matplotlib's backends are not annotated
            canvas.draw()
            png = io.BytesIO()
            # zlib level 3: the same pixels as the default level 6, 5% smaller and a third faster on these charts.
            imsave(
                png,
                canvas.buffer_rgba(),
                format="png",
                origin="upper",
                dpi=PNG_DPI,
                metadata=NO_SOFTWARE,
                pil_kwargs={"compress_level": 3},
            )
            figure.set_dpi(vector_dpi)  # the resolution of the SVG's embedded bitmaps, as savefig leaves it
            svg = io.BytesIO()
            vector: Any = FigureCanvasSVG(figure)
            vector.print_svg(
                svg, metadata={"Title": title, "Date": None, "Creator": None, "Format": None, "Type": None}
            )
        finally:
            plt.close(figure)
    return RenderedFigure(name, png.getvalue(), _clean_svg(svg.getvalue().decode("utf-8")))


def _clean_svg(svg: str) -> str:
    # The DOCTYPE names a DTD by URL and the RDF block only repeats the title: neither is needed to display.
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg, flags=re.DOTALL)
    return re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)


def render_table(table: Any) -> str:
    """Return a GT table as an HTML fragment, without any external @import (checked, not just hoped for)."""
    fragment = strip_external_imports(table.as_raw_html())
    leftover = external_references(fragment)
    if leftover:
        raise ValueError(f"a table's HTML refers to a network resource: {leftover[0]!r}")
    return fragment


def report_files(
    index_html: str, figures: Iterable[RenderedFigure], tables: dict[str, tuple[str, str]]
) -> dict[str, bytes]:
    """Return every file of the report by its path in the report's folder: index.html, figures/<name>.png|svg
    and tables/<name>.html (the runner writes the folder whole, `runner.StageRun.write_folder`)."""
    files: dict[str, bytes] = {}
    for figure in figures:
        files[f"figures/{figure.name}.png"] = figure.png
        files[f"figures/{figure.name}.svg"] = figure.svg.encode("utf-8")
    for name, (title, fragment) in tables.items():
        files[f"tables/{name}.html"] = table_page(title, fragment).encode("utf-8")
    files["index.html"] = index_html.encode("utf-8")
    return files
