"""report.html: the report's sections as one self-contained page (inline CSS, the PNGs embedded
as data URIs, so the file alone works as a CI artifact)."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from xrdsim.report.document import Section, Table

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f0f0f0}tr:nth-child(even){background:#fafafa}.FAIL{color:#b00;font-weight:bold}.pass{color:#070}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}pre{background:#f6f6f6;padding:1em;white-space:pre-wrap}
figcaption{font-style:italic;color:#555}"""


def _inline(text: str) -> str:
    """Escape, then the two Markdown emphases the sections use."""
    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"\*(.+?)\*", r"<em>\1</em>", out)


def table(t: Table) -> str:
    """An HTML table; cells reading pass/FAIL get a class."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in t.header)
    rows = "".join("<tr>" + "".join(f'<td class="{c}">{html.escape(c)}</td>' if c in ("pass", "FAIL")
                                    else f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in t.rows)  # fmt: skip
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def image_src(name: str, image_dir: Path | None) -> str:
    """A data URI of the PNG ``name`` in ``image_dir`` (the bare name when it is not there)."""
    path = image_dir / name if image_dir is not None else None
    if path is None or not path.is_file():
        return html.escape(name)
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def section(sec: Section, level: int, image_dir: Path | None = None) -> str:
    """One section; images come from ``image_dir``."""
    parts = [f"<h{level}>{html.escape(sec.title)}</h{level}>"]
    if sec.preformatted:
        parts.append(f"<pre>{html.escape(sec.preformatted)}</pre>")
    parts += [f"<p>{_inline(p)}</p>" for p in sec.paragraphs]
    parts += [table(t) for t in sec.tables]
    parts += [f'<figure><img src="{image_src(n, image_dir)}" alt="{html.escape(c)}"><figcaption>{html.escape(c)}</figcaption></figure>'
              for n, c in sec.images]  # fmt: skip
    return "\n".join(parts)


def render_html(parts: list[Section], image_dir: Path | None = None) -> str:
    """The whole page; the first section's title is the page title; the PNGs of
    ``image_dir`` are embedded."""
    title = html.escape(parts[0].title if parts else "xrdsim report")
    body = "\n".join(section(s, 1 if i == 0 else 2, image_dir) for i, s in enumerate(parts))
    return f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n'


__all__ = ["render_html"]
