"""A figure worker: `python -m ector.report.worker`, started by `workers.FigureWorkers`.

It imports the chart code first (the slow part), then reads one line on stdin, `JOBS<TAB>OUT`: the pickled
(name, title, spec) jobs to render and where to write the RenderedFigures. Both files are the parent's own,
in a private temporary folder. End of input without a line: nothing to do.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path


def main() -> int:
    """Render the jobs named on stdin; return the exit code."""
    import ector.report.charts  # noqa: F401  (plotnine: imported while the parent reads the work directory)
    from ector.report.render import render_figure

    line = sys.stdin.readline().strip()
    if not line:
        return 0
    source, target = line.split("\t")
    jobs = pickle.loads(Path(source).read_bytes())  # written by our parent, not outside input
    figures = [render_figure(name, title, spec) for name, title, spec in jobs]
    Path(target).write_bytes(pickle.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
