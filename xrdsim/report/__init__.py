"""Reports of a scored run: score.json and junit.xml for CI, report.md and report.html with
matplotlib plots for people, and the terminal summary. Formats only; computes no metric.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from xrdsim.errors import UserError
from xrdsim.report.document import Section, Table, fmt, sections
from xrdsim.report.htmlpage import render_html
from xrdsim.report.junit import render_junit
from xrdsim.report.markdown import render_markdown
from xrdsim.report.score_json import clean_json, render_score_json, score_document
from xrdsim.report.terminal import render_terminal

#: format value (``ReportFormat``) → (file name, writer of the run result and its sections).
#: The writers get the report directory too: the HTML page embeds the PNGs written there.
WRITERS: dict[str, tuple[str, Callable[[Any, list[Section], Path], str]]] = {
    "json": ("score.json", lambda result, parts, out: render_score_json(result)),
    "junit": ("junit.xml", lambda result, parts, out: render_junit(result)),
    "markdown": ("report.md", lambda result, parts, out: render_markdown(parts)),
    "html": ("report.html", lambda result, parts, out: render_html(parts, out)),
}


class ReportDirError(UserError):
    """The report directory cannot be made or written."""


def report_folder(out_dir: str | Path) -> Path:
    """``out_dir``, made if needed and checked writable (``ReportDirError`` in one line)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".xrdsim-write-check"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ReportDirError(f"{out}: cannot write reports there: {exc.strerror or exc}") from None
    return out


def write_reports(result: Any, out_dir: str | Path) -> list[Path]:
    """Write the scenario's report formats (and plots) of ``result`` into ``out_dir``."""
    out = report_folder(out_dir)
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
        try:
            (out / name).write_text(render(result, parts, out))
        except OSError as exc:
            raise ReportDirError(f"{out / name}: cannot write: {exc.strerror or exc}") from None
        written.append(out / name)
    return written


__all__ = ["WRITERS", "ReportDirError", "Section", "Table", "clean_json", "fmt", "render_html", "render_junit", "render_markdown", "render_score_json", "render_terminal", "report_folder", "score_document", "write_reports"]
