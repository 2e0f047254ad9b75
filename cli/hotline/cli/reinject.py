"""Re-injection: recorded traffic played into a live sandbox exercise as new messages.

    async with HotlineClient(sandbox_address, control_token) as sandbox:
        async for outcome in reinject(Player(records, speed=10), sandbox):
            print(outcome)

Only what stations sent is re-injected: the sandbox raises its own alerts, zone status
notices, deadlines and escalations. Each message goes in through exercise control as the
station that sent it, marked ``replay_of`` the original, with an id derived from the
original's (:func:`replay_message_id`), so re-injecting the same log again takes effect
once. Its times (sent, observed, zone and notice windows) keep their distance from the
moment it was recorded, counted from the moment it is re-injected; answers are turned to
the re-injected ids. The log itself is only read.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from hotline.client import HotlineClient, Refused
from hotline.contract import (
    ACKNOWLEDGMENT_SERVER_FIELDS,
    SERVER_BODIES,
    SERVER_FIELDS,
    SERVER_ID_PREFIX,
    escalated_from,
    escalation_id,
)
from hotline.server.replay import Played
from hotline.v1 import common_pb2, envelope_pb2, log_pb2

__all__ = ["Reinjected", "reinject", "reinjected_envelope", "replay_message_id"]

REPLAY_ID_PREFIX = "replay:"
_MAX_ID = 128
#: Refusals after which no later message would get through either (a transport failure
#: stops the re-injection too).
_STOP = frozenset({grpc.StatusCode.UNAUTHENTICATED})
_TIMESTAMP = Timestamp.DESCRIPTOR.full_name


@dataclass(frozen=True, slots=True)
class Reinjected:
    """What became of one recorded station message.

    ``message_id`` and ``sequence`` are the sandbox's (``sequence`` 0 unless it was
    recorded there); ``duplicate`` says the sandbox already had it (an earlier run);
    ``refused`` is the sandbox's reason for refusing it, ``skipped`` why it was not sent.
    """

    index: int
    original_id: str
    sender: str
    body: str
    """What the message carries: ``text``, ``position_report``, ``acknowledgment`` ..."""
    message_id: str = ""
    sequence: int = 0
    duplicate: bool = False
    refused: str = ""
    skipped: str = ""


def replay_message_id(original: str) -> str:
    """The id of the re-injected copy of message ``original``: ``replay:`` and the
    original's id, or, when that would be over 128 characters, ``replay:`` and a digest
    of it. The same original always gives the same id."""
    candidate = REPLAY_ID_PREFIX + original
    if len(candidate) <= _MAX_ID:
        return candidate
    return REPLAY_ID_PREFIX + hashlib.sha256(original.encode()).hexdigest()


def _answered_id(original: str) -> str | None:
    """The sandbox's id of a message a recorded answer refers to, or None for one the
    sandbox numbers by its own log (a line test, a relayed answer)."""
    escalated = escalated_from(original)
    if escalated is not None:
        # The sandbox escalates the re-injected message under the same rule.
        party, escalated_id = escalated
        return escalation_id(party, replay_message_id(escalated_id))
    if original.startswith(SERVER_ID_PREFIX):
        return None
    return replay_message_id(original)


def is_station_message(envelope: envelope_pb2.Envelope) -> bool:
    """Whether a recorded envelope was sent by a station (not made by the server)."""
    return (
        bool(envelope.sender.party)
        and not envelope.message_id.startswith(SERVER_ID_PREFIX)
        and envelope.WhichOneof("body") not in SERVER_BODIES
        and not envelope.escalation_of
    )


def _shift_times(message: Message, nanoseconds: int) -> None:
    """Moves every timestamp set in ``message`` (at any depth) by ``nanoseconds``."""
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        values = value if descriptor.is_repeated else [value]
        if descriptor.message_type.full_name == _TIMESTAMP:
            for stamp in values:
                stamp.FromNanoseconds(stamp.ToNanoseconds() + nanoseconds)
        elif not (descriptor.message_type.GetOptions().map_entry):
            for item in values:
                _shift_times(item, nanoseconds)


def reinjected_envelope(
    envelope: envelope_pb2.Envelope, now: float
) -> envelope_pb2.Envelope | None:
    """The envelope that re-injects recorded station envelope ``envelope`` at time
    ``now``; None for an answer to a message the sandbox numbers itself.

    Fields the server sets are cleared; every time in the envelope moves by ``now``
    less the original's recorded time."""
    copy = envelope_pb2.Envelope()
    copy.CopyFrom(envelope)
    for name in SERVER_FIELDS:
        copy.ClearField(name)
    copy.message_id = replay_message_id(envelope.message_id)
    copy.replay_of = envelope.message_id
    if copy.WhichOneof("body") == "acknowledgment":
        answered = _answered_id(copy.acknowledgment.message_id)
        if answered is None:
            return None
        copy.acknowledgment.message_id = answered
        for ack_field in ACKNOWLEDGMENT_SERVER_FIELDS:
            copy.acknowledgment.ClearField(ack_field)
    recorded = envelope.recorded_at.ToNanoseconds()
    _shift_times(copy, round(now * 1e9) - recorded)
    return copy


async def reinject(
    played: AsyncIterable[Played],
    sandbox: HotlineClient,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[Reinjected]:
    """Sends each recorded station message of ``played`` (in its order and at its pace)
    into ``sandbox``, whose credential must be exercise control's, and yields what
    became of it. Other records are passed over.

    A message the sandbox refuses is reported and the rest go on — except an answer to
    a message this replay did not send (one a filter or window left out), which the
    sandbox does not know: that is reported skipped. Raises
    :class:`~hotline.client.TransportError` when the sandbox cannot be reached,
    :class:`~hotline.client.Refused` when it does not accept the credential
    (running it again resumes: what got in is recognised).
    """
    sent: set[str] = set()  # originals of the messages sent (or found there) so far
    async for item in played:
        record = item.record
        if record is None or record.kind != log_pb2.RECORD_KIND_ENVELOPE:
            continue
        original = record.envelope
        if not is_station_message(original):
            continue
        hotline = common_pb2.Hotline.Name(original.hotline).removeprefix("HOTLINE_")
        sender = f"{original.sender.party}/{hotline}"
        body = original.WhichOneof("body") or ""
        copy = reinjected_envelope(original, clock())
        if copy is None:
            answered = original.acknowledgment.message_id
            yield Reinjected(
                item.index,
                original.message_id,
                sender,
                body,
                skipped=f"answers {answered}, which the sandbox numbers itself",
            )
            continue
        try:
            result = await sandbox.send(copy)
        except Refused as error:
            if error.code in _STOP:
                raise
            answered = original.acknowledgment.message_id
            unknown = error.code == grpc.StatusCode.NOT_FOUND and body == "acknowledgment"
            if unknown and answered not in sent:
                yield Reinjected(
                    item.index,
                    original.message_id,
                    sender,
                    body,
                    skipped=f"answers {answered}, which this replay did not re-inject",
                )
                continue
            yield Reinjected(
                item.index,
                original.message_id,
                sender,
                body,
                copy.message_id,
                refused=str(error),
            )
            continue
        sent.add(original.message_id)
        yield Reinjected(
            item.index,
            original.message_id,
            sender,
            body,
            result.message_id,
            result.sequence,
            result.duplicate,
        )
