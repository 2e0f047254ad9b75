"""Every message id the exercise has used: how a retried send is recognised.

A whole exercise records hundreds of thousands of messages and the server keeps every id,
so the table is built to be cheap to keep: one int per id, the sender, hotline and
sequence number packed into it. A dict of strings to ints is less than half the memory of
one to tuples, and it holds nothing the garbage collector must visit; a dict holding
tuples is walked entry by entry by every full collection (about 25 ms per 500,000 ids,
during which nothing is delivered).
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from hotline.server.exercise import Hotline
from hotline.v1 import envelope_pb2

_SEQUENCE_BITS = 40
_HOTLINE_BITS = 8
_SENDER_BITS = 24
_DIGEST_SHIFT = _SEQUENCE_BITS + _HOTLINE_BITS + _SENDER_BITS
#: Fields the server sets on what a station sent: not part of what it sent.


def content_digest(envelope: envelope_pb2.Envelope) -> int:
    """64 bits that tell whether two envelopes with one message id say the same thing:
    what the sender said (hotline, priority, body), not when it sent it (a retry is sent
    again later) nor what the server added."""
    if envelope.replay_of:
        # Re-injected traffic is the recorded original again, its times moved to now.
        return _digest(envelope.replay_of.encode())
    ack = envelope.acknowledgment if envelope.HasField("acknowledgment") else None
    if (
        envelope.HasField("sent_at")
        or envelope.sequence
        or envelope.HasField("recorded_at")
        or envelope.audience
        or (ack is not None and any(ack.HasField(f) for f in ("responder", "lateness")))
        or (ack is not None and ack.operator)
    ):
        content = envelope_pb2.Envelope()
        content.CopyFrom(envelope)
        # What the server sets on what a station sent is not part of what it sent.
        content.ClearField("sent_at")
        content.ClearField("sequence")
        content.ClearField("recorded_at")
        content.ClearField("audience")
        if ack is not None:
            content.acknowledgment.ClearField("responder")
            content.acknowledgment.ClearField("lateness")
            content.acknowledgment.ClearField("operator")
        envelope = content
    return _digest(envelope.SerializeToString(deterministic=True))


def _digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class KnownMessage(NamedTuple):
    sender: str
    hotline: Hotline
    sequence: int
    #: :func:`content_digest` of a station's message; 0 for the server's own.
    digest: int


class MessageIds:
    """Message id -> (sender party, hotline, sequence number, content digest)."""

    def __init__(self) -> None:
        self._packed: dict[str, int] = {}
        self._senders: list[str] = []
        self._sender_numbers: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._packed)

    def __contains__(self, message_id: str) -> bool:
        return message_id in self._packed

    def add(
        self, message_id: str, sender: str, hotline: Hotline, sequence: int, digest: int = 0
    ) -> None:
        number = self._sender_numbers.get(sender)
        if number is None:
            number = self._sender_numbers[sender] = len(self._senders)
            self._senders.append(sender)
        self._packed[message_id] = (
            digest << _DIGEST_SHIFT
            | (number << _HOTLINE_BITS | hotline) << _SEQUENCE_BITS
            | sequence
        )

    def get(self, message_id: str) -> KnownMessage | None:
        packed = self._packed.get(message_id)
        if packed is None:
            return None
        sequence = packed & ((1 << _SEQUENCE_BITS) - 1)
        rest = packed >> _SEQUENCE_BITS
        hotline = Hotline(rest & ((1 << _HOTLINE_BITS) - 1))
        sender = (rest >> _HOTLINE_BITS) & ((1 << _SENDER_BITS) - 1)
        return KnownMessage(self._senders[sender], hotline, sequence, packed >> _DIGEST_SHIFT)
