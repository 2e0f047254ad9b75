"""The hotline protocol, checked on a recorded log: nothing asked was left hanging.

Every message that takes an operator's answer (see :data:`NEEDS_RESPONSE`) must, for
each station it was addressed to, have in the log one of: a response (WILCO, UNABLE or
ROGER) from that station, a missed response or escalation deadline
(``DEADLINE_MISSED``), or an escalated copy. A message whose response deadline had not
passed when the log ends is still open, which is no fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from hotline.server.acknowledgments import NEEDS_RESPONSE, RESPONSES
from hotline.v1 import envelope_pb2, exercise_pb2, log_pb2

__all__ = ["NEEDS_RESPONSE", "OpenMessage", "ProtocolCheck", "check_records"]

_RESPONSES = RESPONSES
_ENDS_CHAIN = frozenset({log_pb2.DEADLINE_KIND_RESPONSE, log_pb2.DEADLINE_KIND_ESCALATION})
# A deadline is recorded by a timer as it falls due; allow for a busy server.
GRACE_S = 5.0


def _seconds(stamp: Timestamp | Duration) -> float:
    return stamp.seconds + stamp.nanos / 1e9


@dataclass(slots=True)
class OpenMessage:
    """A message recorded as record ``index`` that still waits for ``parties``."""

    index: int
    message_id: str
    due: float
    parties: set[str] = field(default_factory=set)


class ProtocolCheck:
    """Feed it every record in log order with :meth:`add`, then call :meth:`unanswered`."""

    def __init__(self) -> None:
        self._open: dict[str, OpenMessage] = {}
        self._exercise: exercise_pb2.Exercise | None = None
        self._last_time = 0.0

    def add(self, record: log_pb2.LogRecord) -> None:
        """Takes one record into account."""
        self._last_time = max(self._last_time, _seconds(record.recorded_at))
        kind = record.kind
        if kind == log_pb2.RECORD_KIND_EXERCISE_STARTED:
            self._exercise = record.exercise
        elif kind == log_pb2.RECORD_KIND_DEADLINE_MISSED:
            missed = record.deadline_missed
            if missed.deadline in _ENDS_CHAIN:
                self._settle(missed.message_id, missed.station.party)
        elif kind == log_pb2.RECORD_KIND_ENVELOPE:
            self._envelope(record.index, record.envelope)

    def _envelope(self, index: int, envelope: envelope_pb2.Envelope) -> None:
        body = envelope.WhichOneof("body")
        if envelope.escalation_of:
            # Escalated to GENERALS: the original's chain went as far as it goes.
            original = self._open.pop(envelope.escalation_of, None)
            if original is not None and len(original.parties) > 1:
                original.parties -= set(envelope.audience)
                if original.parties:
                    self._open[original.message_id] = original
        if body == "acknowledgment":
            ack = envelope.acknowledgment
            if ack.kind in _RESPONSES:
                self._settle(ack.message_id, ack.responder.party)
        elif body in NEEDS_RESPONSE:
            recipients = self._recipients(envelope)
            if recipients:
                due = _seconds(envelope.recorded_at) + self._response_time(envelope)
                message_id = envelope.message_id
                self._open[message_id] = OpenMessage(index, message_id, due, recipients)

    def _recipients(self, envelope: envelope_pb2.Envelope) -> set[str]:
        audience = set(envelope.audience)
        if audience:
            return audience
        if self._exercise is None:
            return set()
        hotline = envelope.hotline
        sender = envelope.sender.party
        return {
            s.ref.party
            for s in self._exercise.stations
            if s.ref.hotline == hotline and s.ref.party != sender
        }

    def _response_time(self, envelope: envelope_pb2.Envelope) -> float:
        priority = envelope.priority
        if self._exercise is not None:
            for policy in self._exercise.policy.deadlines:
                if policy.priority == priority:
                    return _seconds(policy.response)
        return 0.0

    def _settle(self, message_id: str, party: str) -> None:
        message = self._open.get(message_id)
        if message is not None:
            message.parties.discard(party)
            if not message.parties:
                del self._open[message_id]

    def unanswered(self) -> list[OpenMessage]:
        """Messages past their response deadline (by the time of the last record) with a
        recipient that neither answered nor was recorded missing the deadline, in log
        order."""
        cutoff = self._last_time - GRACE_S
        return sorted((m for m in self._open.values() if m.due <= cutoff), key=lambda m: m.index)

    def still_open(self) -> list[OpenMessage]:
        """Messages whose response deadline had not passed when the log ends."""
        cutoff = self._last_time - GRACE_S
        return sorted((m for m in self._open.values() if m.due > cutoff), key=lambda m: m.index)


def check_records(records: Iterable[log_pb2.LogRecord]) -> list[OpenMessage]:
    """The unanswered messages of a whole log (see :meth:`ProtocolCheck.unanswered`)."""
    check = ProtocolCheck()
    for record in records:
        check.add(record)
    return check.unanswered()
