"""Small HTML building blocks for the after-action report: escaped text, times,
durations and tables.

Every piece of text that came from the log (free text, callsigns, zone names, actors)
goes through :func:`text` before it reaches the page: the report is opened by trainers
in a browser, and a message body must never become markup.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Sequence

from hotline.v1 import common_pb2

__all__ = [
    "Cell",
    "duration",
    "hotline_name",
    "more_note",
    "number",
    "party_or_server",
    "table",
    "text",
    "utc",
    "utc_time",
]


def text(value: object) -> str:
    """``value`` as HTML text, quotes included (safe inside attributes too)."""
    return html.escape(str(value), quote=True)


def utc(seconds: float) -> str:
    """UTC date and time to the millisecond: ``2026-11-21 06:00:01.234Z``."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def utc_time(seconds: float) -> str:
    """UTC time of day to the millisecond: ``06:00:01.234``."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def duration(seconds: float | None) -> str:
    """A duration a trainer reads at a glance: ``0.004 s``, ``2.35 s``, ``12.4 s``,
    ``4 min 05 s``, ``2 h 03 min``; an em dash for none."""
    if seconds is None:
        return "\u2014"
    if seconds < 1:
        return f"{seconds:.3f} s"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole // 60 % 60:02d} min"


def number(count: int) -> str:
    """``1,234,567``."""
    return f"{count:,}"


def hotline_name(value: int) -> str:
    """``AIR_OPERATIONS``, or ``-`` for records on no hotline."""
    if not value:
        return "-"
    return str(common_pb2.Hotline.Name(value)).removeprefix("HOTLINE_")  # type: ignore[arg-type]


def party_or_server(party: str) -> str:
    """The sender of a server-originated envelope has no party."""
    return party or "server"


#: A table cell: already-built HTML, or ``(html, attributes)``.
Cell = str | tuple[str, str]


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    css: str = "",
    row_ids: Sequence[str] | None = None,
    row_classes: Sequence[str] | None = None,
) -> str:
    """A ``<table>``; headers are escaped here, cells must already be HTML."""
    head = "".join(f"<th>{text(h)}</th>" for h in headers)
    body: list[str] = []
    for n, row in enumerate(rows):
        cells = []
        for cell in row:
            if isinstance(cell, tuple):
                content, attributes = cell
                cells.append(f"<td {attributes}>{content}</td>")
            else:
                cells.append(f"<td>{cell}</td>")
        ident = f' id="{text(row_ids[n])}"' if row_ids else ""
        klass = f' class="{text(row_classes[n])}"' if row_classes and row_classes[n] else ""
        body.append(f"<tr{ident}{klass}>{''.join(cells)}</tr>")
    klass = f' class="{text(css)}"' if css else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def more_note(hidden: int, what: str, detail: str = "") -> str:
    """The note under a table that was cut short, or nothing when nothing was cut."""
    if hidden <= 0:
        return ""
    extra = f" ({text(detail)})" if detail else ""
    return (
        f'<p class="more">{number(hidden)} more {text(what)} not shown{extra}; '
        "the figures above count them all.</p>"
    )
