"""report.md: the report's sections as GitHub-flavoured Markdown (tables, linked PNGs)."""

from __future__ import annotations

from xrdsim.report.document import Section, Table


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(t: Table) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(t.header) + " |", "|" + "---|" * len(t.header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    return lines


def render_markdown(parts: list[Section]) -> str:
    """The whole document; the first section is the title."""
    lines: list[str] = []
    for i, sec in enumerate(parts):
        lines += [("# " if i == 0 else "## ") + sec.title, ""]
        if sec.preformatted:
            lines += ["```text", sec.preformatted, "```", ""]
        for p in sec.paragraphs:
            lines += [p, ""]
        for t in sec.tables:
            lines += table(t) + [""]
        for name, caption in sec.images:
            lines += [f"![{caption}]({name})", "", f"*{caption}*", ""]
    return "\n".join(lines)


__all__ = ["render_markdown"]
