"""What a console has seen: the messages on its hotline by short reference, and what
its station still owes an answer to, with the time left.

A message is referred to as the console shows it: ``#12`` (or ``12``), its sequence
number on the hotline, or the start of its message id (``3f0c12ab``, at least four hex
digits and matching one message only); a whole message id is taken as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hotline.contract import needs_response, seconds
from hotline.v1 import envelope_pb2, exercise_pb2

Envelope = envelope_pb2.Envelope

#: Digits of a message id shown: enough to tell apart the messages of an exercise.
SHORT_ID = 8
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")
_PREFIX = re.compile(r"^[0-9a-f]{4,}$")
_SEQUENCE = re.compile(r"^#?(\d+)$")


class UnknownReference(ValueError):
    """A reference that names no message this console has seen, or more than one."""


def short_id(message_id: str) -> str:
    """The first digits of a generated (32 hex digit) message id; any other id whole."""
    return message_id[:SHORT_ID] if _HEX_ID.match(message_id) else message_id


def is_zone_change(envelope: Envelope) -> bool:
    """A proposal or update of a zone: answered by accept, reject or counter."""
    return envelope.WhichOneof("body") in ("zone_proposal", "zone_update")


@dataclass
class Owed:
    """A message this station must still answer, and when its answer falls due (UNIX
    seconds; None when the console does not know the exercise's deadlines)."""

    envelope: Envelope
    due: float | None


class Book:
    """The messages on this console's hotline, delivered or sent, by reference."""

    def __init__(self, party: str, policy: exercise_pb2.Policy | None = None) -> None:
        self.party = party
        self._response: dict[int, float] = {}
        if policy is not None:
            for deadlines in policy.deadlines:
                self._response[deadlines.priority] = seconds(deadlines.response)
        self._by_id: dict[str, Envelope] = {}
        self._by_sequence: dict[int, str] = {}
        self._owed: dict[str, Owed] = {}

    def note(self, envelope: Envelope) -> None:
        """Remembers a message, delivered or sent (with its sequence number)."""
        self._by_id[envelope.message_id] = envelope
        if envelope.sequence:
            self._by_sequence[envelope.sequence] = envelope.message_id
        if self.owes_answer(envelope) and envelope.message_id not in self._owed:
            self._owed[envelope.message_id] = Owed(envelope, self._due(envelope))

    def owes_answer(self, envelope: Envelope) -> bool:
        """Whether this station must answer ``envelope`` (another party sent it and it
        takes an operator's answer)."""
        party = envelope.sender.party
        return needs_response(envelope) and bool(party) and party != self.party

    def answered(self, message_id: str) -> None:
        """This station's answer to ``message_id`` is recorded: it owes it no more."""
        self._owed.pop(message_id, None)

    def owed(self) -> list[Owed]:
        """What this station still owes, the earliest due first."""
        return sorted(self._owed.values(), key=lambda owed: owed.due or float("inf"))

    def find(self, message_id: str) -> Envelope | None:
        return self._by_id.get(message_id)

    def reference(self, message_id: str) -> str:
        """``#12`` for a message this console has seen, else its short id."""
        known = self._by_id.get(message_id)
        if known is not None and known.sequence:
            return f"#{known.sequence}"
        return short_id(message_id)

    def resolve(self, reference: str) -> Envelope | str:
        """The message ``reference`` names (see the module's docstring); a whole message
        id the console has not seen is returned as it is, for the server to judge.
        Raises :class:`UnknownReference` saying what was wrong."""
        reference = reference.strip()
        if not reference:
            raise UnknownReference("which message? give its #N or the start of its id")
        sequence = _SEQUENCE.match(reference)
        if sequence is not None:
            found = self._by_sequence.get(int(sequence.group(1)))
            if found is None:
                raise UnknownReference(f"no message #{sequence.group(1)} on this console")
            return self._by_id[found]
        if reference in self._by_id:
            return self._by_id[reference]
        if _HEX_ID.match(reference) or not _PREFIX.match(reference.lower()):
            return reference
        matches = [e for i, e in self._by_id.items() if i.startswith(reference.lower())]
        if not matches:
            raise UnknownReference(f"no message with an id starting {reference} on this console")
        if len(matches) > 1:
            named = ", ".join(f"#{m.sequence}" for m in matches)
            raise UnknownReference(f"{reference} starts the ids of {named}: give more digits")
        return matches[0]

    def awaiting_references(self) -> list[str]:
        """``#N`` of every message this station owes an answer to, for completion."""
        return [f"#{owed.envelope.sequence}" for owed in self.owed()]

    def _due(self, envelope: Envelope) -> float | None:
        response = self._response.get(envelope.priority)
        if response is None or not envelope.HasField("recorded_at"):
            return None
        recorded = envelope.recorded_at.seconds + envelope.recorded_at.nanos / 1e9
        due = recorded + response
        if envelope.WhichOneof("body") == "activity_notice":
            # A notice must be answered before its window opens.
            start = envelope.activity_notice.window_start
            due = min(due, start.seconds + start.nanos / 1e9)
        return due


def countdown(due: float | None, now: float) -> str:
    """``4m 32s left``, ``overdue by 12s``, or ``no deadline known``."""
    if due is None:
        return "no deadline known"
    left = due - now
    text = _span(abs(left))
    return f"{text} left" if left >= 0 else f"overdue by {text}"


def _span(span: float) -> str:
    whole = int(span)
    if whole >= 3600:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    if whole >= 60:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole}s"


__all__ = [
    "Book",
    "Owed",
    "UnknownReference",
    "countdown",
    "is_zone_change",
    "short_id",
]
