"""What ``hotline replay`` prints for each record it plays: a readable line, or one JSON
object for machines (``--json``).

A replay at speed 0 prints a million lines in seconds, so the text line is built with
what repeats from record to record (the second's time stamp, the elapsed time, the
padded kind and hotline names) worked out once and reused.
"""

from __future__ import annotations

import json
from typing import Any

from hotline.cli import render
from hotline.server.json_mapping import record_object
from hotline.server.replay import Played
from hotline.v1 import log_pb2

__all__ = ["TextLines", "elapsed", "json_line"]


def elapsed(seconds: float) -> str:
    """``T+01:02:03``: whole seconds since the first record shown."""
    whole = int(max(seconds, 0.0))
    return f"T+{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class TextLines:
    """Formats records as ``index time elapsed KIND HOTLINE actor: what``."""

    def __init__(self) -> None:
        self._second = -1
        self._time = ""
        self._whole = -1
        self._elapsed = ""
        self._kinds: dict[int, str] = {}
        self._hotlines: dict[int, str] = {}

    def __call__(self, played: Played) -> str:
        record = played.record
        if record is None:
            return f"{played.index:>8} (not a log record: the stored bytes were altered)"
        stamp = record.recorded_at
        if stamp.seconds != self._second:
            self._second = stamp.seconds
            self._time = render.record_time(stamp)[:-5]
        whole = int(played.elapsed) if played.elapsed > 0 else 0
        if whole != self._whole:
            self._whole = whole
            self._elapsed = elapsed(whole)
        kind = self._kinds.get(record.kind)
        if kind is None:
            kind = self._kinds[record.kind] = (
                f"{render.name(log_pb2.RecordKind, record.kind, 'RECORD_KIND_'):<20}"
            )
        hotline = self._hotlines.get(record.hotline)
        if hotline is None:
            shown = render.hotline(record.hotline) if record.hotline else "-"
            hotline = self._hotlines[record.hotline] = f"{shown:<18}"
        summary = render.describe_record(record)
        return (
            f"{played.index:>8} {self._time}.{stamp.nanos // 1_000_000:03d}Z {self._elapsed} "
            f"{kind} {hotline} {record.actor}{': ' + summary if summary else ''}"
        )


def json_line(played: Played) -> str:
    """The record as one JSON object: the protobuf JSON mapping of the log record, as
    ``audit show --json`` and the MQTT bridge write it (see ``record_object``)."""
    record = played.record
    if record is None:
        document: dict[str, Any] = {"index": str(played.index), "unreadable": True}
    else:
        document = record_object(record)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)
