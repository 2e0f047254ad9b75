"""Building envelopes: a body put in the right field, with a fresh id and the time."""

from __future__ import annotations

import uuid
from typing import TypeAlias

from hotline.contract import timestamp
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    messages_pb2,
    positions_pb2,
    zones_pb2,
)

#: What a station can send: one of the bodies of an envelope.
Body: TypeAlias = (
    messages_pb2.TextMessage
    | positions_pb2.PositionReport
    | zones_pb2.ZoneProposal
    | zones_pb2.ZoneUpdate
    | zones_pb2.ZoneWithdrawal
    | zones_pb2.ZoneDecision
    | messages_pb2.ActivityNotice
    | messages_pb2.StopRequest
    | messages_pb2.IncidentReport
    | messages_pb2.LineTest
    | acknowledgments_pb2.Acknowledgment
)

_FIELD: dict[type, str] = {
    messages_pb2.TextMessage: "text",
    positions_pb2.PositionReport: "position_report",
    zones_pb2.ZoneProposal: "zone_proposal",
    zones_pb2.ZoneUpdate: "zone_update",
    zones_pb2.ZoneWithdrawal: "zone_withdrawal",
    zones_pb2.ZoneDecision: "zone_decision",
    messages_pb2.ActivityNotice: "activity_notice",
    messages_pb2.StopRequest: "stop_request",
    messages_pb2.IncidentReport: "incident_report",
    messages_pb2.LineTest: "line_test",
    acknowledgments_pb2.Acknowledgment: "acknowledgment",
}


def new_message_id() -> str:
    """A message id no other sender will choose (a random UUID, 32 hex digits)."""
    return uuid.uuid4().hex


def envelope(
    station: common_pb2.StationRef,
    body: Body,
    priority: common_pb2.Priority.ValueType = common_pb2.PRIORITY_ROUTINE,
    message_id: str | None = None,
) -> envelope_pb2.Envelope:
    """An envelope carrying ``body`` from ``station`` on its hotline, sent now, with
    ``message_id`` or a new one (:func:`new_message_id`). A stop request always goes
    FLASH, whatever ``priority`` says. Raises KeyError if ``body`` is not one of the
    kinds of :data:`Body`; what the server will refuse is only checked when it is sent.
    """
    if isinstance(body, messages_pb2.StopRequest):
        priority = common_pb2.PRIORITY_FLASH
    message = envelope_pb2.Envelope(
        message_id=message_id or new_message_id(),
        sender=station,
        hotline=station.hotline,
        priority=priority,
        sent_at=timestamp(),
    )
    getattr(message, _FIELD[type(body)]).CopyFrom(body)
    return message


def acknowledgment(
    message_id: str, kind: acknowledgments_pb2.AckKind.ValueType, reason: str = ""
) -> acknowledgments_pb2.Acknowledgment:
    """The answer ``kind`` (RECEIPT, WILCO, UNABLE or ROGER) to message ``message_id``;
    an UNABLE needs a ``reason`` (the server refuses one without)."""
    return acknowledgments_pb2.Acknowledgment(message_id=message_id, kind=kind, reason=reason)
