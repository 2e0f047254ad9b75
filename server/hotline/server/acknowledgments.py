"""Who still owes an answer to which message: the per-message state of the chains.

Pure domain state, driven only by recorded facts so that replaying the log rebuilds it
exactly: a message recorded (:meth:`AckTracker.track`), an acknowledgment recorded
(:meth:`AckTracker.acknowledged`), a deadline recorded as missed
(:meth:`AckTracker.missed`). Each returns the deadlines to (re)arm or cancel. The rules
these follow are stated, and applied to records, in :mod:`hotline.server.escalation`.
"""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import TypeAlias, TypeVar

from hotline.contract import RESPONSES
from hotline.server.errors import FailedPrecondition, NotFound
from hotline.server.exercise import Deadlines, Hotline, hotline_name
from hotline.v1 import acknowledgments_pb2, common_pb2

AckKind: TypeAlias = acknowledgments_pb2.AckKind.ValueType
Operator: TypeAlias = common_pb2.Operator.ValueType


class Stage(enum.StrEnum):
    """Which deadline is next for one recipient of one message. (A ``StrEnum``: it is
    part of every deadline's key, and hashes as its string does, in C.)"""

    RECEIPT = "receipt"
    RESPONSE = "response"
    ESCALATION = "escalation"


#: Re-deliveries to a connected station that does not send its RECEIPT (after the first
#: delivery: three deliveries in all).
MAX_REDELIVERIES = 2

#: A pending deadline: (message id, recipient party, stage).
DeadlineKey = tuple[str, str, Stage]

#: Responses that end the time lost on a message.
COMPLIANCE = frozenset({acknowledgments_pb2.ACK_KIND_WILCO, acknowledgments_pb2.ACK_KIND_ROGER})


_Class = TypeVar("_Class", bound=type)


def _pickled_by_fields(cls: _Class) -> _Class:
    """Pickles ``cls`` (a dataclass) as its constructor and its fields' values, read in
    one C call: every snapshot pickles one of these for every message still open, and a
    slotted dataclass's own ``__getstate__`` (Python, field by field) costs twice as
    much."""
    values = operator.attrgetter(*(f.name for f in fields(cls)))

    def reduce(self: object) -> tuple[type, tuple[object, ...]]:
        return cls, values(self)

    cls.__reduce__ = reduce  # type: ignore[method-assign,assignment]
    return cls


@_pickled_by_fields
@dataclass(slots=True)
class Obligation:
    """What one recipient station owes one message."""

    party: str
    received: bool = False
    response: AckKind = acknowledgments_pb2.ACK_KIND_UNSPECIFIED
    response_due: float | None = None
    overdue: bool = False
    escalated: bool = False
    receipt_misses: int = 0


@_pickled_by_fields
@dataclass(slots=True)
class TrackedMessage:
    message_id: str
    hotline: Hotline
    sender_party: str
    recorded_at: float
    deadlines: Deadlines
    needs_response: bool
    # The original message, for an escalated copy.
    escalation_of: str = ""
    is_line_test: bool = False
    priority: int = common_pb2.PRIORITY_UNSPECIFIED
    obligations: dict[str, Obligation] = field(default_factory=dict)
    # Recipient party -> message id of the copy escalated to GENERALS.
    escalated_copies: dict[str, str] = field(default_factory=dict)
    answered_at: float | None = None

    @property
    def complete(self) -> bool:
        return all(
            o.received and (o.response or not self.needs_response)
            for o in self.obligations.values()
        )


#: Buckets of :class:`TimeLost` per factor e of time: each 1 % wider than the last.
_BUCKETS_PER_E = 100
#: Times lost under a millisecond share the lowest bucket.
_SMALLEST_S = 0.001


@dataclass(slots=True)
class TimeLost:
    """The time lost on every answered message of a hotline, in memory that does not
    grow with their number: the count, the worst, and a histogram whose buckets are
    1 % apart (a few thousand at most, from a millisecond to a month) from which the
    median is read to within 1 %. The after-action report computes exact figures from
    the log."""

    count: int = 0
    worst: float = 0.0
    buckets: dict[int, int] = field(default_factory=dict)

    def add(self, seconds: float) -> None:
        self.count += 1
        self.worst = max(self.worst, seconds)
        bucket = (
            0
            if seconds < _SMALLEST_S
            else 1 + int(math.log(seconds / _SMALLEST_S) * _BUCKETS_PER_E)
        )
        self.buckets[bucket] = self.buckets.get(bucket, 0) + 1

    def median(self) -> float:
        """The middle time lost (of the two middle ones, the lower), within 1 %."""
        middle = (self.count + 1) // 2
        seen = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= middle:
                if bucket == 0:
                    return 0.0
                # The bucket's centre, on the log scale.
                centre = _SMALLEST_S * math.exp((bucket - 0.5) / _BUCKETS_PER_E)
                return min(centre, self.worst)
        return self.worst


@dataclass(slots=True)
class LineStats:
    """What one hotline's answers came to so far: the time lost on answered messages,
    how many recipients let a response deadline pass and how many messages went to
    GENERALS. Kept apart from the messages, which are forgotten once answered, so
    memory follows what is open, not the exercise's length."""

    time_lost: TimeLost = field(default_factory=TimeLost)
    overdue: int = 0
    escalated: int = 0


@dataclass(slots=True)
class SeatAnswers:
    """How many responses (WILCO, UNABLE, ROGER) one station gave from each seat."""

    primary: int = 0
    standby: int = 0

    def count(self, seat: Operator) -> None:
        if seat == common_pb2.OPERATOR_STANDBY:
            self.standby += 1
        else:
            # Older logs do not say; the primary seat is the one that answers by default.
            self.primary += 1


@dataclass(frozen=True, slots=True)
class AckOutcome:
    """What recording an acknowledgment means."""

    message: TrackedMessage
    # False when it repeats what was already recorded (a second console's RECEIPT).
    new: bool
    lateness: float = 0.0
    # Line test answered by a station whose line was down.
    line_restored: bool = False


class AckTracker:
    """Messages that wait for answers, and their deadlines."""

    def __init__(self) -> None:
        self._messages: dict[str, TrackedMessage] = {}
        self._line_down: set[tuple[str, Hotline]] = set()
        # Station -> ids of messages it still owes something, oldest first.
        self._open: dict[tuple[str, Hotline], dict[str, None]] = {}
        self.stats: dict[Hotline, LineStats] = {}
        #: Station -> the responses it gave, by seat.
        self.seats: dict[tuple[str, Hotline], SeatAnswers] = {}

    def get(self, message_id: str) -> TrackedMessage | None:
        return self._messages.get(message_id)

    def messages(self) -> Iterable[TrackedMessage]:
        return self._messages.values()

    def is_line_down(self, party: str, hotline: Hotline) -> bool:
        return (party, hotline) in self._line_down

    def track(
        self, message: TrackedMessage, recipients: Iterable[str]
    ) -> list[tuple[DeadlineKey, float]]:
        """Starts the deadlines of a recorded message for each recipient party."""
        self._messages[message.message_id] = message
        armed: list[tuple[DeadlineKey, float]] = []
        for party in recipients:
            obligation = Obligation(party)
            message.obligations[party] = obligation
            self._open.setdefault((party, message.hotline), {})[message.message_id] = None
            armed.append(
                (
                    (message.message_id, party, Stage.RECEIPT),
                    message.recorded_at + message.deadlines.receipt,
                )
            )
            if message.needs_response:
                obligation.response_due = message.recorded_at + message.deadlines.response
                armed.append(((message.message_id, party, Stage.RESPONSE), obligation.response_due))
        return armed

    def check_acknowledgment(
        self, message_id: str, party: str, hotline: Hotline, kind: AckKind
    ) -> TrackedMessage:
        """The message a station may acknowledge, or the precise reason it may not."""
        message = self._messages.get(message_id)
        if message is None:
            raise NotFound(f"acknowledgment.message_id: no message {message_id!r} awaits answers")
        if message.hotline != hotline:
            raise FailedPrecondition(
                f"acknowledgment.message_id: message {message_id!r} travels on "
                f"{hotline_name(message.hotline)}, not on {hotline_name(hotline)}"
            )
        if party == message.sender_party:
            raise FailedPrecondition(
                f"acknowledgment.message_id: {message_id!r} is {party}'s own message"
            )
        obligation = message.obligations.get(party)
        if obligation is None:
            raise FailedPrecondition(
                f"acknowledgment.message_id: message {message_id!r} is not addressed to {party}"
            )
        if kind in RESPONSES:
            if not message.needs_response:
                raise FailedPrecondition(
                    f"acknowledgment.kind: message {message_id!r} takes only a RECEIPT"
                )
            if obligation.response:
                answered = acknowledgments_pb2.AckKind.Name(obligation.response)
                raise FailedPrecondition(
                    f"acknowledgment: message {message_id!r} was already answered "
                    f"({answered.removeprefix('ACK_KIND_')}); the first answer counts"
                )
        return message

    def acknowledged(
        self,
        message_id: str,
        party: str,
        kind: AckKind,
        at: float,
        seat: Operator = common_pb2.OPERATOR_UNSPECIFIED,
    ) -> tuple[AckOutcome, list[DeadlineKey]]:
        """Records an acknowledgment from ``party``'s ``seat``; returns its meaning and
        the deadlines it cancels."""
        message = self._messages[message_id]
        obligation = message.obligations[party]
        cancelled: list[DeadlineKey] = []
        new = False
        line_restored = False
        if not obligation.received:
            obligation.received = True
            new = True
            cancelled.append((message_id, party, Stage.RECEIPT))
            if message.is_line_test and (party, message.hotline) in self._line_down:
                self._line_down.discard((party, message.hotline))
                line_restored = True
        lateness = 0.0
        if kind in RESPONSES and not obligation.response:
            new = True
            obligation.response = kind
            self.seats.setdefault((party, message.hotline), SeatAnswers()).count(seat)
            cancelled += [
                (message_id, party, Stage.RESPONSE),
                (message_id, party, Stage.ESCALATION),
            ]
            if obligation.response_due is not None:
                lateness = max(0.0, at - obligation.response_due)
            if kind in COMPLIANCE:
                self._answered(message, at)
        self._settle(message, obligation)
        return AckOutcome(message, new, lateness, line_restored), cancelled

    def _settle(self, message: TrackedMessage, obligation: Obligation) -> None:
        if obligation.received and (obligation.response or not message.needs_response):
            self._open.get((obligation.party, message.hotline), {}).pop(message.message_id, None)

    def owed_by(self, party: str, hotline: Hotline) -> list[TrackedMessage]:
        """Messages the station still owes a RECEIPT or a response, oldest first."""
        return [self._messages[m] for m in self._open.get((party, hotline), {})]

    def lateness(self, message_id: str, party: str, at: float) -> float:
        """How late a response from ``party`` at ``at`` would be."""
        due = self._messages[message_id].obligations[party].response_due
        return max(0.0, at - due) if due is not None else 0.0

    def _answered(self, message: TrackedMessage, at: float) -> None:
        original = self._messages.get(message.escalation_of) if message.escalation_of else None
        for answered in (message, original):
            if answered is not None and answered.answered_at is None:
                answered.answered_at = at
                if not answered.escalation_of:
                    self._stats(answered).time_lost.add(at - answered.recorded_at)

    def _stats(self, message: TrackedMessage) -> LineStats:
        stats = self.stats.get(message.hotline)
        if stats is None:
            stats = self.stats[message.hotline] = LineStats()
        return stats

    def close_chain(self, message_id: str, party: str, kind: AckKind) -> list[DeadlineKey]:
        """A response on an escalated copy (or its original) ends the other's chain too."""
        message = self._messages.get(message_id)
        if message is None:
            return []
        obligation = message.obligations.get(party)
        if obligation is None or obligation.response:
            return []
        obligation.received = True
        obligation.response = kind
        self._settle(message, obligation)
        return [(message_id, party, s) for s in Stage]

    def missed(self, key: DeadlineKey, station_online: bool) -> list[tuple[DeadlineKey, float]]:
        """Records a missed deadline; returns what to arm next."""
        message_id, party, stage = key
        message = self._messages[message_id]
        obligation = message.obligations[party]
        if stage is Stage.RECEIPT:
            if message.is_line_test:
                self._line_down.add((party, message.hotline))
                return []
            obligation.receipt_misses += 1
            if station_online and obligation.receipt_misses <= MAX_REDELIVERIES:
                due = (
                    message.recorded_at
                    + (obligation.receipt_misses + 1) * message.deadlines.receipt
                )
                return [((message_id, party, Stage.RECEIPT), due)]
            return []
        if stage is Stage.RESPONSE:
            obligation.overdue = True
            if not message.escalation_of:
                self._stats(message).overdue += 1
            assert obligation.response_due is not None
            return [
                (
                    (message_id, party, Stage.ESCALATION),
                    obligation.response_due + message.deadlines.response,
                )
            ]
        obligation.escalated = True
        if not message.escalation_of:
            self._stats(message).escalated += 1
        return []

    def forget(self, message_id: str) -> None:
        """Drops a message nobody owes anything any more."""
        message = self._messages.pop(message_id, None)
        if message is not None:
            for party in message.obligations:
                self._open.get((party, message.hotline), {}).pop(message_id, None)
