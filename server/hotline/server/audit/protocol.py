"""The hotline protocol, checked on a recorded log: nothing asked was left hanging.

Every message that takes an operator's answer must, for each station it was addressed
to, have in the log one of: a response (WILCO, UNABLE or ROGER) from that station or to
any copy of it (an answer closes the whole chain), a missed response or escalation
deadline (``DEADLINE_MISSED``), or an escalated copy. The chains are followed by
:class:`~hotline.server.escalation.Chains`, the rules the server itself applies, so a
log the server wrote correctly always passes. A message whose response deadline had not
passed when the log ends (or whose line was suspended then) is still open, which is no
fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hotline.contract import seconds
from hotline.server.escalation import Chains, Rules
from hotline.server.exercise import default_exercise
from hotline.v1 import log_pb2

__all__ = ["GRACE_S", "OpenMessage", "ProtocolCheck"]

# A deadline is recorded by a timer as it falls due; allow for a busy server.
GRACE_S = 5.0


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
        self._chains = Chains(Rules.of(default_exercise()))
        self._indices: dict[str, int] = {}
        self._last_time = 0.0

    def add(self, record: log_pb2.LogRecord) -> None:
        """Takes one record into account."""
        at = seconds(record.recorded_at)
        self._last_time = max(self._last_time, at)
        kind = record.kind
        chains = self._chains
        if kind == log_pb2.RECORD_KIND_EXERCISE_STARTED:
            # A restart may change the policy; what is tracked stays tracked.
            chains.rules = Rules.recorded(record.exercise)
        elif kind == log_pb2.RECORD_KIND_DEADLINE_MISSED:
            chains.missed(record.deadline_missed)
        elif kind == log_pb2.RECORD_KIND_HOTLINE_SUSPENDED:
            chains.suspend(record.hotline, at)
        elif kind == log_pb2.RECORD_KIND_HOTLINE_RESUMED:
            chains.resume(record.hotline, at)
        elif kind == log_pb2.RECORD_KIND_ENVELOPE:
            envelope = record.envelope
            changes = chains.envelope(envelope, seconds(envelope.recorded_at))
            if changes.arm:
                self._indices[envelope.message_id] = record.index
            for message_id in changes.settled:
                self._indices.pop(message_id, None)

    def unanswered(self) -> list[OpenMessage]:
        """Messages past their response deadline (by the time of the last record) with a
        recipient that neither answered nor was recorded missing the deadline, in log
        order."""
        found = [
            OpenMessage(
                self._indices.get(message.message_id, -1),
                message.message_id,
                min(message.obligations[p].response_due or 0.0 for p in parties),
                set(parties),
            )
            for message, parties in self._chains.unanswered(self._last_time - GRACE_S)
        ]
        return sorted(found, key=lambda m: m.index)
