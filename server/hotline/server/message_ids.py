"""Every message id the exercise has used: how a retried send is recognised.

An exercise that runs for days records millions of messages, and a retry may come at
any time, so the ids cannot all be held in memory. What is held is bounded:

- the :data:`RECENT` ids recorded last, with what a retry needs (sender, hotline,
  sequence number, content digest) — they cover every id not yet durable, and nearly
  every retry, which follows its first send within seconds;
- a filter of 2^23 bits (1 MiB, whatever the exercise's length): one bit set for every
  id's :func:`message_key`, by its top bits, which tells most new ids from used ones at
  once;
- and, for an id that may have been used, the log itself: every envelope's record is
  stored with the id's key in an indexed column, and its record says whether it is that
  id, and what a retry needs.
"""

from __future__ import annotations

import hashlib
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import NamedTuple

from hotline.contract import ACKNOWLEDGMENT_SERVER_FIELDS
from hotline.server.exercise import Hotline
from hotline.v1 import acknowledgments_pb2, envelope_pb2

#: Ids held with everything a retry needs (more while their records are not durable).
RECENT = 65_536
#: Bits of a key that pick a bit of the filter (2^23 bits: 1 MiB, which tells 89 new ids
#: in 100 from used ones at once at a million ids used, 30 in 100 at ten million).
FILTER_BITS = 23
_SIGN = 1 << 63
#: A key's bytes, read as a signed 64-bit integer.
_KEY = struct.Struct(">q")


def content_digest(envelope: envelope_pb2.Envelope) -> int:
    """64 bits that tell whether two envelopes with one message id say the same thing:
    what the sender said (sender, hotline, priority, body), not when it sent it (a retry
    is sent again later) nor what the server added. Stable within one server process
    only (Python's keyed hash of bytes): it is compared, never stored — after a restart
    it is worked out again from the record."""
    if envelope.replay_of:
        # Re-injected traffic is the recorded original again, its times moved to now.
        return hash(envelope.replay_of)
    body = envelope.WhichOneof("body")
    if body is None:
        content = b""
    elif body == "acknowledgment":
        ack = envelope.acknowledgment
        # What the server adds to an answer is not part of what the station said.
        if ack.HasField("responder") or ack.HasField("lateness") or ack.operator:
            said = acknowledgments_pb2.Acknowledgment()
            said.CopyFrom(ack)
            for name in ACKNOWLEDGMENT_SERVER_FIELDS:
                said.ClearField(name)
            ack = said
        content = ack.SerializeToString(deterministic=True)
    else:
        content = getattr(envelope, body).SerializeToString(deterministic=True)
    sender = envelope.sender
    return hash((sender.party, sender.hotline, envelope.hotline, envelope.priority, body, content))


def message_key(message_id: str) -> int:
    """The key an envelope's record is stored under for its id: 64 bits of a hash of
    the id, as a signed integer (what a database's integer column holds)."""
    key: int = _KEY.unpack(hashlib.blake2b(message_id.encode(), digest_size=8).digest())[0]
    return key


class KnownMessage(NamedTuple):
    sender: str
    hotline: Hotline
    sequence: int
    #: :func:`content_digest` of a station's message; 0 for the server's own.
    digest: int
    #: The log index of the record that carries the id.
    record: int


class MessageIds:
    """Message id -> what a retry of it needs, for every id the exercise has used;
    ``find(key, message_id)`` reads what the log says of an id no longer held (see the
    module)."""

    def __init__(self, find: Callable[[int, str], KnownMessage | None] | None = None) -> None:
        self._recent: OrderedDict[str, KnownMessage] = OrderedDict()
        self._filter = bytearray(1 << (FILTER_BITS - 3))
        self._shift = 64 - FILTER_BITS
        self._find = find
        self._count = 0
        # Records before this index are durable: their ids may leave memory.
        self._durable_end = 0

    def __len__(self) -> int:
        return self._count

    @property
    def held(self) -> int:
        """Ids held in memory with what a retry needs."""
        return len(self._recent)

    def __contains__(self, message_id: str) -> bool:
        return self.get(message_id) is not None

    def add(self, message_id: str, known: KnownMessage, key: int | None = None) -> None:
        """Adds ``message_id``, recorded as record ``known.record``; ``key`` is its
        :func:`message_key` if the caller has it already."""
        recent = self._recent
        if message_id not in recent:
            self._count += 1
            self._mark(message_key(message_id) if key is None else key)
        recent[message_id] = known
        if len(recent) > RECENT:
            self._forget()

    def _mark(self, key: int) -> None:
        """Sets the filter's bit for ``key`` (its top bits)."""
        bit = (key + _SIGN) >> self._shift
        self._filter[bit >> 3] |= 1 << (bit & 7)

    def durable(self, end: int) -> None:
        """Records before ``end`` are durable: the log finds their ids from now on."""
        self._durable_end = end
        if len(self._recent) > RECENT:
            self._forget()

    def _forget(self) -> None:
        recent = self._recent
        while len(recent) > RECENT and next(iter(recent.values())).record < self._durable_end:
            recent.popitem(last=False)

    def state(self, *, with_filter: bool = True) -> tuple[bytes, int]:
        """What a snapshot keeps: the filter (unless another snapshot keeps it) and the
        count (the recent ids are in the log, and the log finds every id)."""
        return bytes(self._filter) if with_filter else b"", self._count

    def restore(self, state: tuple[bytes, int], durable_end: int, keys: Iterable[int] = ()) -> None:
        """Takes back a snapshot's :meth:`state`, taken when records before
        ``durable_end`` were all there was, its filter completed with the message
        ``keys`` of the records it did not cover."""
        ids, self._count = state
        self._filter = bytearray(ids)
        self._shift = 64 - ((len(ids) * 8).bit_length() - 1)
        for key in keys:
            self._mark(key)
        self._recent.clear()
        self._durable_end = durable_end

    def get(self, message_id: str, key: int | None = None) -> KnownMessage | None:
        """What was recorded of ``message_id`` (None for an id not used yet); ``key`` is
        its :func:`message_key` if the caller has it already."""
        known = self._recent.get(message_id)
        if known is not None or self._find is None:
            return known
        if key is None:
            key = message_key(message_id)
        bit = (key + _SIGN) >> self._shift
        if not self._filter[bit >> 3] & (1 << (bit & 7)):
            return None
        return self._find(key, message_id)
