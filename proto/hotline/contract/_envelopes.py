"""Envelopes: whose ids are whose, what each body asks of its recipients, and which
fields are the server's. ``DOMAIN.md`` §2 states the acknowledgment rules these follow.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from hotline.v1 import acknowledgments_pb2, envelope_pb2

#: Prefix of the message ids the server makes (alerts, zone notices, escalated copies,
#: relayed answers); a station's message id may not start with it.
SERVER_ID_PREFIX = "srv:"
_ESCALATION_PREFIX = f"{SERVER_ID_PREFIX}escalation:"

#: Bodies a station may send.
STATION_BODIES = frozenset(
    {
        "text",
        "position_report",
        "zone_proposal",
        "zone_update",
        "zone_withdrawal",
        "zone_decision",
        "activity_notice",
        "stop_request",
        "incident_report",
        "line_test",
        "acknowledgment",
    }
)
#: Bodies only the server sends.
SERVER_BODIES = frozenset({"alert", "zone_status"})
#: Bodies nobody acknowledges: an acknowledgment, and what the server raises.
UNACKNOWLEDGED = frozenset({"acknowledgment", *SERVER_BODIES})
#: Bodies that take an operator's response (WILCO, UNABLE or ROGER) after the RECEIPT.
NEEDS_RESPONSE = frozenset(
    {
        "text",
        "zone_proposal",
        "zone_update",
        "zone_withdrawal",
        "activity_notice",
        "stop_request",
        "incident_report",
    }
)
#: Bodies that take a RECEIPT and nothing more.
RECEIPT_ONLY = STATION_BODIES - UNACKNOWLEDGED - NEEDS_RESPONSE
#: Acknowledgment kinds that answer a message; a RECEIPT only says it arrived.
RESPONSES = frozenset(
    {
        acknowledgments_pb2.ACK_KIND_WILCO,
        acknowledgments_pb2.ACK_KIND_UNABLE,
        acknowledgments_pb2.ACK_KIND_ROGER,
    }
)

RecordedField: TypeAlias = Literal["sequence", "recorded_at", "audience"]
ServerField: TypeAlias = Literal[RecordedField, "escalation_of", "replay_of"]
AcknowledgmentServerField: TypeAlias = Literal["lateness", "responder", "operator"]

#: Envelope fields the server sets on every envelope it records.
RECORDED_FIELDS: tuple[RecordedField, ...] = ("sequence", "recorded_at", "audience")
#: Envelope fields a station leaves empty: the server sets them (``replay_of`` is set by
#: exercise control when it re-injects recorded traffic). A station that sets one is
#: refused with INVALID_ARGUMENT.
SERVER_FIELDS: tuple[ServerField, ...] = (*RECORDED_FIELDS, "escalation_of", "replay_of")
#: Acknowledgment fields the server sets when it records an answer; a station that sets
#: one is refused with INVALID_ARGUMENT.
ACKNOWLEDGMENT_SERVER_FIELDS: tuple[AcknowledgmentServerField, ...] = (
    "lateness",
    "responder",
    "operator",
)


def needs_receipt(envelope: envelope_pb2.Envelope) -> bool:
    """Whether each recipient station owes ``envelope`` a RECEIPT."""
    return envelope.WhichOneof("body") not in UNACKNOWLEDGED


def needs_response(envelope: envelope_pb2.Envelope) -> bool:
    """Whether each recipient station owes ``envelope`` an operator's response."""
    return envelope.WhichOneof("body") in NEEDS_RESPONSE


def escalation_id(party: str, message_id: str) -> str:
    """The message id of the copy of ``message_id`` the server escalates to ``party``'s
    station on GENERALS: ``srv:escalation:<party>:<message id>``."""
    return f"{_ESCALATION_PREFIX}{party}:{message_id}"


def escalated_from(message_id: str) -> tuple[str, str] | None:
    """The party and the original message id of an escalated copy's id (see
    :func:`escalation_id`); None for any other id."""
    if not message_id.startswith(_ESCALATION_PREFIX):
        return None
    party, _, original = message_id.removeprefix(_ESCALATION_PREFIX).partition(":")
    return party, original
