"""One readable line for what an envelope carries, shared by the console, the replay
and the after-action report, so that a message reads the same everywhere."""

from __future__ import annotations

import functools

from hotline.contract import seconds
from hotline.v1 import acknowledgments_pb2, envelope_pb2, messages_pb2, zones_pb2

__all__ = ["envelope_body", "name"]


@functools.cache
def name(enum: object, value: int, prefix: str) -> str:
    """An enum value's name without its prefix (``FLASH``), or the number for a value
    the contract does not name (a log written by a newer server); cached, since a
    replay asks for the same few names a million times."""
    try:
        return str(enum.Name(value)).removeprefix(prefix)  # type: ignore[attr-defined]
    except ValueError:
        return str(value)


def envelope_body(envelope: envelope_pb2.Envelope, body: str, *, units: bool = True) -> str:
    """``text: ...``, ``WILCO for m-1 from RED, 2.0 s late``, ``ALERT ...``.

    ``body`` is ``envelope.WhichOneof("body")``. ``units=False`` counts the units of a
    position report instead of listing them (for a timeline)."""
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
            late = f", {seconds(ack.lateness):.1f} s late"
        reason = f": {ack.reason}" if ack.reason else ""
        return f"{kind} for {ack.message_id} from {ack.responder.party}{late}{reason}"
    if body == "alert":
        alert = envelope.alert
        kind = name(acknowledgments_pb2.AlertKind, alert.kind, "ALERT_KIND_")
        return f"ALERT {kind}: {alert.summary}"
    if body == "position_report":
        positions = envelope.position_report.positions
        if not units:
            return f"positions of {len(positions)} unit(s)"
        listed = ", ".join(
            [
                f"{u.callsign or u.unit_id} {u.latitude:.4f},{u.longitude:.4f} {u.altitude_m:.0f} m"
                for u in positions
            ]
        )
        return f"positions: {listed}"
    if body == "zone_status":
        zone = envelope.zone_status.zone
        state = name(zones_pb2.ZoneState, zone.state, "ZONE_STATE_")
        return f"zone {zone.zone_id} v{zone.version} {state} ({zone.name})"
    if body in ("zone_proposal", "zone_update"):
        zone = getattr(envelope, body).zone
        return f"{body.replace('_', ' ')} {zone.zone_id}: {zone.name}"
    if body == "zone_withdrawal":
        withdrawal = envelope.zone_withdrawal
        return f"zone withdrawal {withdrawal.zone_id}: {withdrawal.reason}"
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
