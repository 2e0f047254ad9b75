"""Suspension windows: when exercise control cut a hotline, why, and for how long.

While a hotline is suspended no deadline on it counts against the recipient, and its
pending FLASH and IMMEDIATE messages are re-sent at once on GENERALS, marked as
re-routed because the line is suspended (``DOMAIN.md`` §3; the rules are in
:mod:`hotline.server.escalation`). Such copies are recorded right after the suspension
that caused them, so each is counted against the window opened last. A window still
open when the log ends is shown as such. Every window is counted; the first ``keep``
are listed.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.v1 import envelope_pb2, log_pb2

__all__ = ["Suspension", "SuspensionWindows"]


@dataclass(slots=True)
class Suspension:
    """One window of one hotline, from its HOTLINE_SUSPENDED record to its RESUMED one."""

    hotline: int
    index: int
    start: float
    by: str
    reason: str
    end: float | None = None
    end_index: int | None = None
    #: Messages re-sent on GENERALS because this suspension cut their line.
    rerouted: int = 0


class SuspensionWindows:
    """Takes every record; keeps the suspension windows."""

    def __init__(self, keep: int = 200) -> None:
        self._keep = keep
        self.windows: list[Suspension] = []
        self.count = 0
        self._open: dict[int, Suspension] = {}
        self._latest: Suspension | None = None

    def add(self, index: int, record: log_pb2.LogRecord, at: float, body: str) -> None:
        kind = record.kind
        if kind == log_pb2.RECORD_KIND_HOTLINE_SUSPENDED:
            window = Suspension(record.hotline, index, at, _by(record), record.annotation.text)
            self.count += 1
            self._open[record.hotline] = self._latest = window
            if len(self.windows) < self._keep:
                self.windows.append(window)
        elif kind == log_pb2.RECORD_KIND_HOTLINE_RESUMED:
            resumed = self._open.pop(record.hotline, None)
            if resumed is not None:
                resumed.end, resumed.end_index = at, index
        elif (
            body
            and self._latest is not None
            and record.envelope.escalation_reason == envelope_pb2.ESCALATION_REASON_LINE_SUSPENDED
        ):
            self._latest.rerouted += 1

    @property
    def hidden(self) -> int:
        return self.count - len(self.windows)


def _by(record: log_pb2.LogRecord) -> str:
    """Who suspended: exercise control's trainer, or a party's station (its own act,
    shown as the station with the operator's name)."""
    author = record.annotation.author
    if ":" in record.actor or not record.actor:
        return author
    return f"{record.actor} ({author})" if author else record.actor
