"""Reading a written report back as a reader (or a disclosure reviewer) would: table cells, chart labels, links.

The scan is independent of the report's code: it parses the HTML and SVG files themselves.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

# A whole number standing alone: not part of a decimal, a percentage, a date or period (2024-03, 2024-Q1),
# an id (S701, H1) or a `<11` mark. `/` is allowed next to it, so both numbers of `3/150` are found.
_NUMBER = re.compile(r"(?<![\w.,<>\-\u2013])(\d{1,3}(?:,\d{3})*|\d+)(?![\w.,%\-\u2013])")
# Attributes and CSS that would fetch something from the network.
_EXTERNAL = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//)|@import|url\(\s*["']?\s*(?:https?:)?//""", re.IGNORECASE
)


class _Cells(HTMLParser):
    """Collects the text of every body cell (td, and th inside tbody) of the great-tables tables."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._in_body = 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tbody":
            self._in_body += 1
        elif tag in ("td", "th") and self._in_body:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body -= 1
        elif tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_cells(html: str) -> list[str]:
    """Return the text of every table body cell in an HTML document."""
    parser = _Cells()
    parser.feed(html)
    return parser.cells


def chart_labels(svg: str) -> list[str]:
    """Return every text of an SVG chart except axis tick labels (scale marks, not data): titles, labels,
    legend entries, captions, panel strips."""
    root = ET.fromstring(svg)
    parents = {child: parent for parent in root.iter() for child in parent}
    labels = []
    for element in root.iter():
        if not element.tag.endswith("}text") and element.tag != "text":
            continue
        ancestor, is_tick = parents.get(element), False
        while ancestor is not None:
            if re.match(r"[xy]tick_\d+", ancestor.get("id", "")):
                is_tick = True
                break
            ancestor = parents.get(ancestor)
        if not is_tick:
            labels.append("".join(element.itertext()))
    return labels


def small_counts(texts: list[str], k: int) -> list[tuple[str, str]]:
    """Return (text, number) for every whole number from 1 to k-1 found in the texts."""
    found = []
    for text in texts:
        for match in _NUMBER.finditer(text):
            value = int(match.group(1).replace(",", ""))
            if 1 <= value <= k - 1:
                found.append((text, match.group(1)))
    return found


def report_texts(report: Path) -> dict[str, str]:
    """Return {relative path: text} of every text file of a report: index, tables, SVG figures."""
    files = [
        report / "index.html",
        *sorted((report / "tables").glob("*.html")),
        *sorted((report / "figures").glob("*.svg")),
    ]
    return {p.relative_to(report).as_posix(): p.read_text(encoding="utf-8") for p in files}


def without_data_uris(text: str) -> str:
    """Return the text without embedded images (their base64 is random letters)."""
    return re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "", text)


def external_references(text: str) -> list[str]:
    """Return the snippets that would load a resource from the network."""
    return [text[max(0, m.start() - 30) : m.end() + 30] for m in _EXTERNAL.finditer(text)]
