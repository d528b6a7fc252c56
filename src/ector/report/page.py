"""The HTML page: a contents bar, the sections, inline CSS and a few lines of inline script. No network resource.

A section is a list of blocks: prose, facts (a definition list), a "not available" note, a table or a
figure. Tables arrive as great-tables HTML fragments and figures as PNG bytes, embedded as data URIs, so
the one file opens offline in any browser and can be mailed alone.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

# Anything that would make a browser fetch from elsewhere: src/href to a URL, CSS @import or url(...).
# The lookahead on the first letters lets most positions fail at once: the 1M-case demo's tables (5 MB of
# HTML) are scanned in 0.15 s instead of 0.26 s.
_EXTERNAL: Final = re.compile(
    r"""(?=[shapdu@])"""
    r"""(?:(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//)|(?:@import\b)|(?:url\(\s*["']?\s*(?:https?:)?//))""",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Prose:
    text: str  # plain text: escaped when written


@dataclass(frozen=True)
class Facts:
    items: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class NotAvailable:
    what: str
    why: str


@dataclass(frozen=True)
class TableBlock:
    name: str
    title: str
    table: Any  # great_tables.GT before rendering
    sortable: bool = False


@dataclass(frozen=True)
class FigureBlock:
    name: str
    title: str
    spec: Any  # chartdata.ChartSpec: built and drawn by render.render_figures
    alt: str
    wide: bool = False  # many panels: the whole width of the page


Block = Prose | Facts | NotAvailable | TableBlock | FigureBlock


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


def external_references(text: str) -> list[str]:
    """Return every snippet of `text` that would load a resource from the network (empty when self-contained)."""
    return [text[max(0, m.start() - 20) : m.end() + 40] for m in _EXTERNAL.finditer(text)]


def strip_external_imports(fragment: str) -> str:
    """Return an HTML/CSS fragment without @import rules (great-tables adds one for web fonts)."""
    return re.sub(r"@import\s+url\([^)]*\)\s*;?|@import\s+[\"'][^\"']*[\"']\s*;?", "", fragment)


def png_data_uri(png: bytes) -> str:
    """Return a PNG as a `data:` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_page(
    title: str,
    subtitle: str,
    sections: Sequence[Section],
    tables: dict[str, str],
    figures: dict[str, bytes],
) -> str:
    """Return the whole report page; `tables` maps a table name to its HTML, `figures` a figure name to PNG."""
    nav = "".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in sections)
    body = "\n".join(_section(s, tables, figures) for s in sections)
    return _TEMPLATE.format(
        title=html.escape(title),
        subtitle=html.escape(subtitle),
        nav=nav,
        body=body,
        css=_CSS,
        script=_SCRIPT,
    )


def table_page(title: str, fragment: str) -> str:
    """Return a table as a page of its own (report/tables/<name>.html), with the report's CSS."""
    return _TEMPLATE.format(title=html.escape(title), subtitle="", nav="", body=fragment, css=_CSS, script=_SCRIPT)


def _section(section: Section, tables: dict[str, str], figures: dict[str, bytes]) -> str:
    parts = [f'<section id="{section.id}"><h2>{html.escape(section.title)}</h2>']
    in_grid = False
    for block in section.blocks:
        # Consecutive figures share a grid: two funnel plots side by side on a wide screen.
        if isinstance(block, FigureBlock) != in_grid:
            parts.append('<div class="figures">' if not in_grid else "</div>")
            in_grid = not in_grid
        parts.append(_block(block, tables, figures))
    if in_grid:
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _block(block: Block, tables: dict[str, str], figures: dict[str, bytes]) -> str:
    if isinstance(block, Prose):
        return f"<p>{html.escape(block.text)}</p>"
    if isinstance(block, Facts):
        rows = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in block.items)
        return f'<dl class="facts">{rows}</dl>'
    if isinstance(block, NotAvailable):
        return (
            f'<div class="na"><strong>{html.escape(block.what)}: not available.</strong> {html.escape(block.why)}</div>'
        )
    if isinstance(block, TableBlock):
        marker = " sortable" if block.sortable else ""
        hint = '<p class="hint">Click a column heading to sort.</p>' if block.sortable else ""
        return f'{hint}<div class="table{marker}" id="table-{block.name}">{tables[block.name]}</div>'
    png = figures[block.name]
    wide = ' class="wide"' if block.wide else ""
    return (
        f'<figure id="figure-{block.name}"{wide}><img alt="{html.escape(block.alt)}" src="{png_data_uri(png)}">'
        f"<figcaption>{html.escape(block.title)}</figcaption></figure>"
    )


_CSS: Final = """
:root { --ink: #1d2329; --muted: #5b6670; --line: #d8dee4; --accent: #1f5f8b; --na: #fff6e0; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  color: var(--ink); background: #f7f9fa; }
header.top { position: sticky; top: 0; z-index: 10; background: #fff; border-bottom: 1px solid var(--line);
  padding: 0.6rem 1.5rem; }
header.top h1 { font-size: 1.3rem; margin: 0; }
header.top p { margin: 0.1rem 0 0.4rem; color: var(--muted); font-size: 0.9rem; }
nav { display: flex; flex-wrap: wrap; gap: 0.4rem 1.2rem; }
nav a { color: var(--accent); text-decoration: none; font-weight: 600; }
nav a:hover { text-decoration: underline; }
main { max-width: 1400px; margin: 0 auto; padding: 1rem 1.5rem 4rem; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem 1.5rem 1.5rem;
  margin: 1.2rem 0; scroll-margin-top: 6rem; }
section h2 { border-bottom: 2px solid var(--accent); padding-bottom: 0.3rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1.2rem; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; }
.na { background: var(--na); border-left: 4px solid #e0a800; padding: 0.6rem 0.9rem; margin: 0.8rem 0; }
/* Long tables (2,000 surgeons, every quarantine rule) scroll in their own box: the charts stay a screen away. */
.table { margin: 1rem 0; max-height: 40rem; overflow: auto; }
.table tbody td { white-space: nowrap; }
.sortable th[id] { cursor: pointer; }
.table.sortable { border: 1px solid var(--line); }
.hint { color: var(--muted); font-size: 0.85rem; margin: 0; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 0 1.5rem; }
figure { margin: 1.2rem 0; }
figure.wide { grid-column: 1 / -1; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 0.9rem; }
"""

# Sorts a table by the clicked heading: great-tables gives each heading an id and each cell a `headers`
# attribute naming it, so the clicked column is found without counting spanner rows.
_SCRIPT: Final = """
document.querySelectorAll(".sortable table").forEach(function (table) {
  table.querySelectorAll("th[id]").forEach(function (th) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0];
      if (!body) { return; }
      var down = th.getAttribute("data-sort") !== "down";
      th.setAttribute("data-sort", down ? "down" : "up");
      var key = function (row) {
        var cell = row.querySelector('[headers~="' + th.id + '"]');
        var text = cell ? cell.textContent.trim() : "";
        var number = parseFloat(text.replace(/,/g, "").replace(/^</, ""));
        return isNaN(number) ? text : number;
      };
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (typeof x === "number" && typeof y === "number") { return down ? y - x : x - y; }
        if (typeof x === "number") { return -1; }
        if (typeof y === "number") { return 1; }
        return down ? String(x).localeCompare(String(y)) : String(y).localeCompare(String(x));
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""

_TEMPLATE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header class="top"><h1>{title}</h1><p>{subtitle}</p><nav>{nav}</nav></header>
<main>
{body}
</main>
<script>{script}</script>
</body>
</html>
"""
