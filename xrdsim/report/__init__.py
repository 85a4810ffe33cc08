"""Reports of a scored run: score.json and junit.xml for CI, report.md and report.html with
matplotlib plots for people, and the terminal summary. Formats only; computes no metric.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from xrdsim.report.document import Section, Table, fmt, sections
from xrdsim.report.htmlpage import render_html
from xrdsim.report.junit import render_junit
from xrdsim.report.markdown import render_markdown
from xrdsim.report.score_json import clean_json, render_score_json, score_document
from xrdsim.report.terminal import render_terminal

#: format value (``ReportFormat``) → (file name, writer of the run result and its sections).
WRITERS: dict[str, tuple[str, Callable[[Any, list[Section]], str]]] = {
    "json": ("score.json", lambda result, parts: render_score_json(result)),
    "junit": ("junit.xml", lambda result, parts: render_junit(result)),
    "markdown": ("report.md", lambda result, parts: render_markdown(parts)),
    "html": ("report.html", lambda result, parts: render_html(parts)),
}


def write_reports(result: Any, out_dir: str | Path) -> list[Path]:
    """Write the scenario's report formats (and plots) of ``result`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    options = result.scenario.report
    wanted = [f.value for f in options.formats]
    images: list[tuple[str, str]] = []
    if options.plots and ("markdown" in wanted or "html" in wanted):
        from xrdsim.report.plots import render_plots

        images = render_plots(result.card, out)
    parts = sections(result, images)
    written = []
    for fmt_name in wanted:
        name, render = WRITERS[fmt_name]
        (out / name).write_text(render(result, parts))
        written.append(out / name)
    return written


__all__ = ["WRITERS", "Section", "Table", "clean_json", "fmt", "render_html", "render_junit", "render_markdown", "render_score_json", "render_terminal", "score_document", "write_reports"]
