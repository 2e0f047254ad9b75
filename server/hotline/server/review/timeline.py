"""The timeline: the exercise's messages, acknowledgments, missed deadlines,
escalations, alerts, zone changes, station sessions and trainer notes, in log order.

Position reports are drawn on the map rather than listed, and the RECEIPT of a message
that takes no operator response (a position report, a zone decision, a line test) is a
machine answer whose latency is in the figures; both are counted, not listed. The first
``limit`` entries are kept; the rest are counted by category, so a long log gives a
report of bounded size with a clear note of what was left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from hotline.server.describe import envelope_body
from hotline.server.describe import name as _name
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    log_pb2,
)

__all__ = ["Entry", "Timeline", "category", "describe", "describe_envelope"]

A = acknowledgments_pb2
_SESSIONS = {
    log_pb2.RECORD_KIND_STATION_CONNECTED: "connected",
    log_pb2.RECORD_KIND_STATION_DISCONNECTED: "disconnected",
}
_CONTROL = {
    log_pb2.RECORD_KIND_HOTLINE_SUSPENDED: "hotline suspended",
    log_pb2.RECORD_KIND_HOTLINE_RESUMED: "hotline resumed",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the timeline; ``text`` is plain text (escaped when rendered).

    ``category`` is one of ``message``, ``acknowledgment``, ``deadline``,
    ``escalation``, ``alert``, ``zone``, ``annotation``, ``station``, ``control``,
    ``refusal``, ``exercise``."""

    index: int
    at: float
    hotline: int
    category: str
    actor: str
    text: str


def describe_envelope(envelope: envelope_pb2.Envelope, body: str) -> str:
    """One line for an envelope: ``#3 IMMEDIATE [id] text: ...``; acknowledgments,
    alerts and zone notices without the header."""
    if body in ("acknowledgment", "alert", "zone_status"):
        return envelope_body(envelope, body)
    priority = _name(common_pb2.Priority, envelope.priority, "PRIORITY_")
    head = f"#{envelope.sequence} {priority} [{envelope.message_id}]"
    if envelope.escalation_of:
        head += f" escalated from {envelope.escalation_of}"
    return f"{head} {envelope_body(envelope, body, units=False)}"


def describe(record: log_pb2.LogRecord, payload: str, body: str) -> tuple[str, str]:
    """``(category, text)`` of any record."""
    kind = record.kind
    if payload == "envelope":
        if body == "acknowledgment":
            return "acknowledgment", describe_envelope(record.envelope, body)
        if body == "alert":
            escalated = record.envelope.alert.kind == A.ALERT_KIND_ESCALATED
            return ("escalation" if escalated else "alert"), describe_envelope(
                record.envelope, body
            )
        if body == "zone_status":
            return "zone", describe_envelope(record.envelope, body)
        if record.envelope.escalation_of:
            return "escalation", describe_envelope(record.envelope, body)
        return "message", describe_envelope(record.envelope, body)
    if payload == "deadline_missed":
        missed = record.deadline_missed
        stage = _name(log_pb2.DeadlineKind, missed.deadline, "DEADLINE_KIND_")
        online = "online" if missed.station_online else "offline"
        return "deadline", (
            f"{stage} deadline of {missed.message_id} missed by {missed.station.party} "
            f"(station {online})"
        )
    if kind == log_pb2.RECORD_KIND_REDELIVERED:
        party = record.station_session.station.party
        return "deadline", f"{record.correlation_id} re-delivered to {party}"
    if kind in _SESSIONS:
        session = record.station_session
        operator = _name(common_pb2.Operator, session.operator, "OPERATOR_").lower()
        reason = f": {session.reason}" if session.reason else ""
        return "station", f"{session.station.party} {operator} console {_SESSIONS[kind]}{reason}"
    if kind in _CONTROL:
        reason = record.annotation.text or "no reason given"
        return "control", f"{_CONTROL[kind]} by {record.annotation.author}: {reason}"
    if payload == "annotation":
        note = record.annotation
        about = ""
        if note.HasField("about_index"):
            about = f" (about record {note.about_index})"
        bookmark = f" [{note.bookmark}]" if note.bookmark else ""
        return "annotation", f"{note.author}{bookmark}: {note.text}{about}"
    if payload == "refused_request":
        refused = record.refused_request
        return "refusal", f"{refused.method} refused: {refused.code}: {refused.detail}"
    if payload == "exercise":
        exercise = record.exercise
        return "exercise", f"exercise started: {exercise.name} ({exercise.exercise_id})"
    if kind == log_pb2.RECORD_KIND_SERVER_STOPPED:
        return "exercise", "server stopped"
    return "exercise", _name(log_pb2.RecordKind, kind, "RECORD_KIND_").lower()


def category(record: log_pb2.LogRecord, payload: str, body: str) -> str:
    """The category :func:`describe` gives, without building the text."""
    if payload == "envelope":
        if body == "alert":
            escalated = record.envelope.alert.kind == A.ALERT_KIND_ESCALATED
            return "escalation" if escalated else "alert"
        if body in ("acknowledgment", "zone_status"):
            return "acknowledgment" if body == "acknowledgment" else "zone"
        return "escalation" if record.envelope.escalation_of else "message"
    if payload == "deadline_missed" or record.kind == log_pb2.RECORD_KIND_REDELIVERED:
        return "deadline"
    if record.kind in _SESSIONS:
        return "station"
    if record.kind in _CONTROL:
        return "control"
    if payload == "annotation":
        return "annotation"
    if payload == "refused_request":
        return "refusal"
    return "exercise"


class Timeline:
    """Takes every record; keeps the first ``limit`` entries worth listing.

    ``lists_receipt(message_id)`` says whether the RECEIPT of that message is listed
    (those of messages that wait for an operator response are)."""

    def __init__(self, lists_receipt: Callable[[str], bool], limit: int = 400) -> None:
        self._lists_receipt = lists_receipt
        self._limit = limit
        self.entries: list[Entry] = []
        #: Entries past the limit, by category.
        self.hidden: Counter[str] = Counter()
        self.position_reports = 0
        self.routine_receipts = 0

    def add(
        self, index: int, record: log_pb2.LogRecord, at: float, payload: str, body: str
    ) -> None:
        """Takes in one record (``payload`` and ``body`` are its ``WhichOneof`` names)."""
        if body == "position_report":
            self.position_reports += 1
            return
        if body == "acknowledgment":
            ack = record.envelope.acknowledgment
            if ack.kind == A.ACK_KIND_RECEIPT and not self._lists_receipt(ack.message_id):
                self.routine_receipts += 1
                return
        if len(self.entries) >= self._limit:
            self.hidden[category(record, payload, body)] += 1
            return
        kind, text = describe(record, payload, body)
        self.entries.append(Entry(index, at, record.hotline, kind, record.actor, text))
