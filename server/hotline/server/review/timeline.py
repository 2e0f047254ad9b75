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

from hotline.server.review.markup import duration
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    log_pb2,
    messages_pb2,
    zones_pb2,
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


def _name(enum: object, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value)).removeprefix(prefix)  # type: ignore[attr-defined]
    except ValueError:
        return str(value)


def describe_envelope(envelope: envelope_pb2.Envelope, body: str) -> str:
    """One line for an envelope: ``#3 IMMEDIATE [id] text: ...``."""
    priority = _name(common_pb2.Priority, envelope.priority, "PRIORITY_")
    head = f"#{envelope.sequence} {priority} [{envelope.message_id}]"
    if envelope.escalation_of:
        head += f" escalated from {envelope.escalation_of}"
    if body == "text":
        text = envelope.text
        said = text.text or f"code {text.code_word} {text.code_number}"
        if text.translation:
            said += f" ({text.translation_language or 'translation'}: {text.translation})"
        return f"{head} text: {said}"
    if body == "acknowledgment":
        ack = envelope.acknowledgment
        kind = _name(A.AckKind, ack.kind, "ACK_KIND_")
        late = ""
        if ack.HasField("lateness"):
            seconds = ack.lateness.seconds + ack.lateness.nanos / 1e9
            late = f", {duration(seconds)} past the deadline"
        reason = f": {ack.reason}" if ack.reason else ""
        return f"{kind} for {ack.message_id} from {ack.responder.party}{late}{reason}"
    if body == "alert":
        alert = envelope.alert
        return f"{_name(A.AlertKind, alert.kind, 'ALERT_KIND_')}: {alert.summary}"
    if body == "zone_status":
        zone = envelope.zone_status.zone
        state = _name(zones_pb2.ZoneState, zone.state, "ZONE_STATE_")
        return f"zone {zone.zone_id} v{zone.version} {state} ({zone.name}, {zone.owner_party})"
    if body in ("zone_proposal", "zone_update"):
        zone = getattr(envelope, body).zone
        return f"{head} {body.replace('_', ' ')} {zone.zone_id}: {zone.name}"
    if body == "zone_withdrawal":
        withdrawal = envelope.zone_withdrawal
        return f"{head} zone withdrawal {withdrawal.zone_id}: {withdrawal.reason}"
    if body == "zone_decision":
        decision = envelope.zone_decision
        kind = _name(zones_pb2.ZoneDecisionKind, decision.decision, "ZONE_DECISION_KIND_")
        reason = f": {decision.reason}" if decision.reason else ""
        return f"{head} zone decision {decision.zone_id} v{decision.version} {kind}{reason}"
    if body == "activity_notice":
        notice = envelope.activity_notice
        kind = _name(messages_pb2.ActivityType, notice.activity, "ACTIVITY_TYPE_")
        return f"{head} activity notice {kind}: {notice.description}"
    if body == "stop_request":
        return f"{head} STOP REQUEST: {envelope.stop_request.reason}"
    if body == "incident_report":
        return f"{head} incident report: {envelope.incident_report.description}"
    if body == "line_test":
        return f"{head} line test {envelope.line_test.test_number}"
    if body == "position_report":
        return f"{head} position report ({len(envelope.position_report.positions)} units)"
    return f"{head} {body.replace('_', ' ')}"


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
