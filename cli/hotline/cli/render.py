"""One readable line per delivery, for the console and the one-shot commands."""

from __future__ import annotations

import functools
import time

from google.protobuf.timestamp_pb2 import Timestamp

from hotline.server.describe import envelope_body, name

__all__ = ["describe", "describe_record", "hotline", "name", "priority", "record_time"]
from hotline.v1 import common_pb2, envelope_pb2, log_pb2


def hotline(value: int) -> str:
    return name(common_pb2.Hotline, value, "HOTLINE_")


def priority(value: int) -> str:
    return name(common_pb2.Priority, value, "PRIORITY_")


def describe(envelope: envelope_pb2.Envelope) -> str:
    """``#12 FLASH RED/AIR_OPERATIONS stop request: ...``"""
    sender = envelope.sender.party or "SERVER"
    head = f"#{envelope.sequence} {priority(envelope.priority)} {sender}"
    body = envelope.WhichOneof("body")
    if envelope.escalation_of:
        head += f" (escalated from {envelope.escalation_of})"
    return f"{head} [{envelope.message_id}] {envelope_body(envelope, body or '')}"


def record_time(stamp: Timestamp) -> str:
    """UTC ISO 8601 to the millisecond, e.g. ``2026-11-21T06:00:00.000Z``."""
    return f"{_utc_second(stamp.seconds)}.{stamp.nanos // 1_000_000:03d}Z"


@functools.lru_cache(maxsize=64)
def _utc_second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def describe_record(record: log_pb2.LogRecord) -> str:
    """One readable line for any log record."""
    payload = record.WhichOneof("payload")
    if payload == "envelope":
        return describe(record.envelope)
    if payload == "deadline_missed":
        missed = record.deadline_missed
        stage = name(log_pb2.DeadlineKind, missed.deadline, "DEADLINE_KIND_")
        online = "online" if missed.station_online else "offline"
        return (
            f"{stage} deadline of {missed.message_id} missed by {missed.station.party} ({online})"
        )
    if payload == "station_session":
        session = record.station_session
        return f"{session.station.party} session {session.session_id} {session.reason}".strip()
    if payload == "refused_request":
        refused = record.refused_request
        return f"{refused.method} refused: {refused.code}: {refused.detail}"
    if payload == "annotation":
        note = record.annotation
        about = f" about record {note.about_index}" if note.HasField("about_index") else ""
        if note.HasField("about_time"):
            about += f" about {record_time(note.about_time)}"
        mark = f" [bookmark {note.bookmark}]" if note.bookmark else ""
        return f"{note.author}{about}{mark}: {note.text}"
    if payload == "exercise":
        return f"exercise {record.exercise.exercise_id} ({record.exercise.name})"
    return ""
