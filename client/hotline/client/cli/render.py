"""One readable line per delivery, for the console and the one-shot commands."""

from __future__ import annotations

import functools
import time

from google.protobuf.timestamp_pb2 import Timestamp

from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    log_pb2,
    messages_pb2,
    zones_pb2,
)


@functools.cache
def name(enum: object, value: int, prefix: str) -> str:
    """An enum value's name without its prefix (``FLASH``); cached, since a replay asks
    for the same few names a million times."""
    return str(enum.Name(value)).removeprefix(prefix)  # type: ignore[attr-defined]


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
    return f"{head} [{envelope.message_id}] {_body(envelope, body or '')}"


def _body(envelope: envelope_pb2.Envelope, body: str) -> str:
    if body == "text":
        text = envelope.text
        said = text.text or f"code {text.code_word} {text.code_number}"
        if text.translation:
            said += f" ({text.translation_language or 'translation'}: {text.translation})"
        return f"text: {said}"
    if body == "acknowledgment":
        ack = envelope.acknowledgment
        kind = name(acknowledgments_pb2.AckKind, ack.kind, "ACK_KIND_")
        late = ""
        if ack.HasField("lateness"):
            late = f", {ack.lateness.ToTimedelta().total_seconds():.1f} s late"
        reason = f": {ack.reason}" if ack.reason else ""
        return f"{kind} for {ack.message_id} from {ack.responder.party}{late}{reason}"
    if body == "alert":
        alert = envelope.alert
        kind = name(acknowledgments_pb2.AlertKind, alert.kind, "ALERT_KIND_")
        return f"ALERT {kind}: {alert.summary}"
    if body == "position_report":
        units = ", ".join(
            f"{u.callsign or u.unit_id} {u.latitude:.4f},{u.longitude:.4f} {u.altitude_m:.0f} m"
            for u in envelope.position_report.positions
        )
        return f"positions: {units}"
    if body == "zone_status":
        zone = envelope.zone_status.zone
        return (
            f"zone {zone.zone_id} v{zone.version} "
            f"{name(zones_pb2.ZoneState, zone.state, 'ZONE_STATE_')} ({zone.name})"
        )
    if body == "zone_proposal":
        zone = envelope.zone_proposal.zone
        return f"zone proposal {zone.zone_id}: {zone.name}"
    if body == "zone_decision":
        decision = envelope.zone_decision
        kind = name(zones_pb2.ZoneDecisionKind, decision.decision, "ZONE_DECISION_KIND_")
        return f"zone decision {decision.zone_id} v{decision.version}: {kind} {decision.reason}"
    if body == "activity_notice":
        notice = envelope.activity_notice
        kind = name(messages_pb2.ActivityType, notice.activity, "ACTIVITY_TYPE_")
        return f"activity notice: {kind} {notice.description}"
    if body == "stop_request":
        return f"STOP REQUEST: {envelope.stop_request.reason}"
    if body == "incident_report":
        return f"incident: {envelope.incident_report.description}"
    if body == "line_test":
        return f"line test {envelope.line_test.test_number}"
    return body.replace("_", " ")


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
        about = f" about #{note.about_index}" if note.HasField("about_index") else ""
        if note.HasField("about_time"):
            about += f" about {record_time(note.about_time)}"
        mark = f" [bookmark {note.bookmark}]" if note.bookmark else ""
        return f"{note.author}{about}{mark}: {note.text}"
    if payload == "exercise":
        return f"exercise {record.exercise.exercise_id} ({record.exercise.name})"
    return ""
