"""Every message id the exercise has used: how a retried send is recognised.

A whole exercise records hundreds of thousands of messages and the server keeps every id,
so the table is built to be cheap to keep: one int per id, the sender, hotline and
sequence number packed into it. A dict of strings to ints is less than half the memory of
one to tuples, and it holds nothing the garbage collector must visit; a dict holding
tuples is walked entry by entry by every full collection (about 25 ms per 500,000 ids,
during which nothing is delivered).
"""

from __future__ import annotations

from hotline.server.exercise import Hotline

_SEQUENCE_BITS = 40
_HOTLINE_BITS = 8


class MessageIds:
    """Message id -> (sender party, hotline, sequence number)."""

    def __init__(self) -> None:
        self._packed: dict[str, int] = {}
        self._senders: list[str] = []
        self._sender_numbers: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._packed)

    def __contains__(self, message_id: str) -> bool:
        return message_id in self._packed

    def add(self, message_id: str, sender: str, hotline: Hotline, sequence: int) -> None:
        number = self._sender_numbers.get(sender)
        if number is None:
            number = self._sender_numbers[sender] = len(self._senders)
            self._senders.append(sender)
        self._packed[message_id] = (
            (number << _HOTLINE_BITS | hotline) << _SEQUENCE_BITS
        ) | sequence

    def get(self, message_id: str) -> tuple[str, Hotline, int] | None:
        packed = self._packed.get(message_id)
        if packed is None:
            return None
        sequence = packed & ((1 << _SEQUENCE_BITS) - 1)
        rest = packed >> _SEQUENCE_BITS
        hotline = Hotline(rest & ((1 << _HOTLINE_BITS) - 1))
        return self._senders[rest >> _HOTLINE_BITS], hotline, sequence
