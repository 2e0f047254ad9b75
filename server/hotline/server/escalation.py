"""The escalation rules, stated once: what a recorded fact means for who owes what.

``DOMAIN.md`` §2, "Acknowledgment and escalation", as the server applies it:

- *What needs an answer.* Every envelope a station sends takes a RECEIPT from every other
  party on its hotline (its audience); text, zone proposals, updates and withdrawals,
  activity notices, stop requests and incident reports also take an operator response
  (:data:`hotline.contract.NEEDS_RESPONSE`). A LINE TEST takes a RECEIPT
  within the policy's line-test deadline. An activity notice must be answered before its
  window opens: its response deadline is cut to the window's start.
- *What a missed deadline leads to* (:class:`Consequence`): a missed RECEIPT re-delivers
  to a connected station, twice at most (three deliveries in all), after which — or at
  once when the station is offline — the sender is told the station has not received
  it; a missed LINE TEST RECEIPT puts the line down; a missed response raises ACK_OVERDUE
  to the sender and pages the recipient's standby; one response deadline later the
  message is ESCALATED, re-sent on GENERALS (on GENERALS itself, or where the party has
  no GENERALS station, exercise control is alerted instead).
- *What closes a chain.* A response (WILCO, UNABLE or ROGER) to the original or to any
  escalated copy of it closes the whole chain for that party: no deadline of the
  original or of a copy fires after it. A late response is accepted with its lateness.
- *Suspension.* While exercise control has a hotline suspended no deadline on it runs;
  when it resumes, each deadline runs on with the time it had left. A FLASH or IMMEDIATE
  message still owed an answer when its line is suspended is re-sent on GENERALS at once
  (:meth:`Chains.suspend` names them).

:class:`Chains` applies recorded facts — an envelope, a missed deadline, a suspension —
in log order and says which deadlines to arm and cancel. It does no I/O and has no clock:
the switchboard owns the timer and turns a due deadline into records; the audit's
protocol check (``hotline audit verify``) and the after-action report read a log through
the same class, so the three agree on every chain.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hotline.contract import NEEDS_RESPONSE, RESPONSES, UNACKNOWLEDGED, seconds
from hotline.server.acknowledgments import (
    MAX_REDELIVERIES,
    AckTracker,
    DeadlineKey,
    Obligation,
    Stage,
    TrackedMessage,
)
from hotline.server.exercise import (
    HOTLINES,
    Deadlines,
    Exercise,
    Hotline,
    Policy,
    Priority,
)
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, exercise_pb2, log_pb2

__all__ = [
    "Chains",
    "Consequence",
    "Rules",
    "TimerChanges",
]

#: Priorities re-sent on GENERALS at once when their line is suspended.
REROUTED_WHEN_SUSPENDED = frozenset({common_pb2.PRIORITY_FLASH, common_pb2.PRIORITY_IMMEDIATE})
STAGE_KIND = {
    Stage.RECEIPT: log_pb2.DEADLINE_KIND_RECEIPT,
    Stage.RESPONSE: log_pb2.DEADLINE_KIND_RESPONSE,
    Stage.ESCALATION: log_pb2.DEADLINE_KIND_ESCALATION,
}
KIND_STAGE = {kind: stage for stage, kind in STAGE_KIND.items()}


class Consequence(enum.Enum):
    """What the server does about a deadline that fell due."""

    #: Deliver the message again to the connected station.
    REDELIVER = "redeliver"
    #: Tell the sender the station has not received the message (RECEIPT_MISSED).
    TELL_SENDER = "tell the sender"
    #: The station did not answer a LINE TEST: LINE_DOWN.
    LINE_DOWN = "line down"
    #: ACK_OVERDUE to the sender; the recipient's standby is paged.
    ACK_OVERDUE = "ack overdue"
    #: Re-send the message on GENERALS.
    ESCALATE = "escalate"
    #: Nothing higher to re-send it on: alert exercise control.
    ALERT_CONTROL = "alert exercise control"
    #: Nothing more to do (a line test on a line already down).
    NOTHING = "nothing"


@dataclass(slots=True)
class TimerChanges:
    """What applying one fact means for the timer, and which messages nobody owes
    anything any more (their stored envelope is no longer needed)."""

    arm: list[tuple[DeadlineKey, float]] = field(default_factory=list)
    cancel: list[DeadlineKey] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Rules:
    """What an exercise's policy and stations say about deadlines and recipients."""

    policy: Policy
    parties_on: Mapping[Hotline, frozenset[str]]
    # Everybody on a hotline but one party, as worked out for each (hotline, party).
    _others: dict[tuple[Hotline, str], frozenset[str]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def of(cls, exercise: Exercise) -> Rules:
        return cls(
            exercise.policy,
            {h: frozenset(s.party for s in exercise.stations_on(h)) for h in HOTLINES},
        )

    @classmethod
    def recorded(cls, exercise: exercise_pb2.Exercise) -> Rules:
        """The rules of an exercise as its ``EXERCISE_STARTED`` record states it."""
        deadlines: dict[Priority, Deadlines] = {
            d.priority: Deadlines(seconds(d.receipt), seconds(d.response))
            for d in exercise.policy.deadlines
        }
        policy = Policy(
            deadlines=deadlines,
            line_test_interval=seconds(exercise.policy.line_test_interval),
            line_test_receipt=seconds(exercise.policy.line_test_receipt),
        )
        parties_on: dict[Hotline, frozenset[str]] = {
            h: frozenset(s.ref.party for s in exercise.stations if s.ref.hotline == h)
            for h in HOTLINES
        }
        return cls(policy, parties_on)

    def audience(self, envelope: envelope_pb2.Envelope) -> frozenset[str]:
        """The parties an envelope is for: its audience, or everybody on its hotline but
        the sender."""
        if envelope.audience:
            return frozenset(envelope.audience)
        key = (envelope.hotline, envelope.sender.party)
        others = self._others.get(key)
        if others is None:
            on_hotline = self.parties_on.get(key[0], frozenset())
            others = self._others[key] = on_hotline - {key[1]}
        return others

    def deadlines(self, envelope: envelope_pb2.Envelope, body: str, at: float) -> Deadlines:
        if is_line_test(envelope, body):
            return Deadlines(receipt=self.policy.line_test_receipt, response=0.0)
        deadlines = self.policy.deadlines.get(envelope.priority)
        if deadlines is None:
            # A log recorded under a policy without this priority: nothing to wait for.
            return Deadlines(0.0, 0.0)
        if body == "activity_notice":
            # A notice must be answered before its window opens.
            opens = seconds(envelope.activity_notice.window_start) - at
            response = max(min(deadlines.response, opens), deadlines.receipt)
            return Deadlines(deadlines.receipt, response)
        return deadlines


def is_line_test(envelope: envelope_pb2.Envelope, body: str) -> bool:
    """A LINE TEST the server sent (a station's own ``line_test`` is ordinary traffic)."""
    return body == "line_test" and not envelope.sender.party


@dataclass(slots=True)
class _Paused:
    """A suspended hotline: when it was suspended and what each deadline had left."""

    since: float
    remaining: dict[DeadlineKey, float] = field(default_factory=dict)


class Chains:
    """Every message still owed an answer, driven by recorded facts in log order."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.tracker = AckTracker()
        # Pending deadlines and their due times, as the timer holds them.
        self._due: dict[DeadlineKey, float] = {}
        self._paused: dict[Hotline, _Paused] = {}

    # ------------------------------------------------------------------ facts

    def envelope(self, envelope: envelope_pb2.Envelope, at: float) -> TimerChanges:
        """A recorded envelope: a message to track, or an acknowledgment."""
        body = envelope.WhichOneof("body") or ""
        if body == "acknowledgment":
            return self._acknowledgment(envelope.acknowledgment, at)
        if body in UNACKNOWLEDGED:
            return TimerChanges()
        return self._track(envelope, body, at)

    def missed(self, missed: log_pb2.DeadlineMissed) -> TimerChanges:
        """A deadline recorded as missed: what to arm next."""
        key = (missed.message_id, missed.station.party, KIND_STAGE[missed.deadline])
        changes = TimerChanges(cancel=[key])
        self._due.pop(key, None)
        if self.tracker.get(missed.message_id) is not None:
            arm = self.tracker.missed(key, missed.station_online)
            self._arm(changes, arm)
        return changes

    def suspend(self, hotline: Hotline, at: float) -> TimerChanges:
        """Exercise control suspended ``hotline`` at ``at``: its deadlines stop with the
        time they have left (see :meth:`to_reroute` for what goes to GENERALS)."""
        paused = self._paused.setdefault(hotline, _Paused(at))
        changes = TimerChanges()
        for key, due in list(self._due.items()):
            if self._hotline_of(key) == hotline:
                paused.remaining[key] = max(0.0, due - at)
                del self._due[key]
                changes.cancel.append(key)
        return changes

    def to_reroute(self, hotline: Hotline) -> list[tuple[TrackedMessage, str]]:
        """The messages, and recipient parties, to re-send on GENERALS now that
        ``hotline`` is suspended: FLASH and IMMEDIATE station traffic still owed an
        answer, not yet escalated."""
        out = []
        for message in self.tracker.messages():
            if (
                message.hotline != hotline
                or message.priority not in REROUTED_WHEN_SUSPENDED
                or not message.sender_party
                or message.escalation_of
            ):
                continue
            for party, obligation in message.obligations.items():
                owed = not obligation.received or (
                    message.needs_response and not obligation.response
                )
                if owed and party not in message.escalated_copies:
                    out.append((message, party))
        return out

    def resume(self, hotline: Hotline, at: float) -> TimerChanges:
        """Exercise control resumed ``hotline``: each deadline runs on with what it had
        left (unless an answer closed it meanwhile)."""
        paused = self._paused.pop(hotline, None)
        changes = TimerChanges()
        if paused is None:
            return changes
        for key, remaining in paused.remaining.items():
            message = self.tracker.get(key[0])
            obligation = message.obligations.get(key[1]) if message is not None else None
            if obligation is None or _closed(obligation, key[2]):
                continue
            if key[2] is Stage.RESPONSE:
                # Lateness counts from the deadline as moved by the suspension.
                obligation.response_due = at + remaining
            self._arm(changes, [(key, at + remaining)])
        return changes

    def pending(self) -> list[tuple[DeadlineKey, float]]:
        """Every deadline the timer should hold, for a state restored from a snapshot."""
        return list(self._due.items())

    def is_suspended(self, hotline: Hotline) -> bool:
        return hotline in self._paused

    # ------------------------------------------------------------------ what is due

    def consequence(self, key: DeadlineKey, station_online: bool) -> Consequence:
        """What a deadline falling due now leads to (before it is recorded as missed)."""
        message_id, party, stage = key
        message = self.tracker.get(message_id)
        if message is None:
            return Consequence.NOTHING
        obligation = message.obligations[party]
        if message.is_line_test:
            if self.tracker.is_line_down(party, message.hotline):
                return Consequence.NOTHING
            return Consequence.LINE_DOWN
        if stage is Stage.RECEIPT:
            if station_online and obligation.receipt_misses < MAX_REDELIVERIES:
                return Consequence.REDELIVER
            return Consequence.TELL_SENDER if message.sender_party else Consequence.NOTHING
        if stage is Stage.RESPONSE:
            return Consequence.ACK_OVERDUE
        if party in message.escalated_copies:
            # Already re-sent on GENERALS (its line was suspended): the copy's own chain
            # goes on there.
            return Consequence.NOTHING
        generals = common_pb2.HOTLINE_GENERALS
        if (
            message.hotline == generals
            or party not in self.rules.parties_on.get(generals, frozenset())
            or not message.sender_party
        ):
            return Consequence.ALERT_CONTROL
        return Consequence.ESCALATE

    def unanswered(self, cutoff: float) -> list[tuple[TrackedMessage, list[str]]]:
        """Messages whose response deadline passed by ``cutoff`` with a recipient that
        neither answered, nor was recorded missing that deadline, nor had the message
        re-sent on GENERALS — what a correct server never leaves behind."""
        out = []
        for message in self.tracker.messages():
            if not message.needs_response or self.is_suspended(message.hotline):
                continue
            parties = [
                o.party
                for o in message.obligations.values()
                if not (o.response or o.overdue or o.escalated)
                and o.party not in message.escalated_copies
                and o.response_due is not None
                and o.response_due <= cutoff
            ]
            if parties:
                out.append((message, parties))
        return out

    # ------------------------------------------------------------------ internals

    def _arm(self, changes: TimerChanges, arm: Iterable[tuple[DeadlineKey, float]]) -> None:
        for key, due in arm:
            paused = self._paused.get(self._hotline_of(key))
            if paused is not None:
                # Armed while the line is suspended: it starts running on resumption.
                paused.remaining[key] = max(0.0, due - paused.since)
                continue
            self._due[key] = due
            changes.arm.append((key, due))

    def _hotline_of(self, key: DeadlineKey) -> Hotline:
        message = self.tracker.get(key[0])
        return message.hotline if message is not None else common_pb2.HOTLINE_UNSPECIFIED

    def _cancel(self, changes: TimerChanges, keys: Iterable[DeadlineKey]) -> None:
        for key in keys:
            self._due.pop(key, None)
            if self._paused:
                paused = self._paused.get(self._hotline_of(key))
                if paused is not None:
                    paused.remaining.pop(key, None)
            changes.cancel.append(key)

    def _track(self, envelope: envelope_pb2.Envelope, body: str, at: float) -> TimerChanges:
        message = TrackedMessage(
            message_id=envelope.message_id,
            hotline=envelope.hotline,
            sender_party=envelope.sender.party,
            recorded_at=at,
            deadlines=self.rules.deadlines(envelope, body, at),
            needs_response=body in NEEDS_RESPONSE,
            escalation_of=envelope.escalation_of,
            is_line_test=is_line_test(envelope, body),
            priority=envelope.priority,
        )
        parties_on = self.rules.parties_on.get(envelope.hotline, frozenset())
        recipients = sorted(self.rules.audience(envelope) & parties_on)
        if envelope.escalation_of:
            original = self.tracker.get(envelope.escalation_of)
            if original is not None:
                for party in recipients:
                    original.escalated_copies[party] = envelope.message_id
                paused = self._paused.get(original.hotline)
                if paused is not None:
                    # Re-routed from a suspended line: its chain goes on on GENERALS.
                    for key in [k for k in paused.remaining if k[0] == original.message_id]:
                        if key[1] in recipients:
                            del paused.remaining[key]
        changes = TimerChanges()
        self._arm(changes, self.tracker.track(message, recipients))
        return changes

    def _acknowledgment(self, ack: acknowledgments_pb2.Acknowledgment, at: float) -> TimerChanges:
        changes = TimerChanges()
        party = ack.responder.party
        if self.tracker.get(ack.message_id) is None:
            return changes
        outcome, cancelled = self.tracker.acknowledged(
            ack.message_id, party, ack.kind, at, ack.operator
        )
        self._cancel(changes, cancelled)
        message = outcome.message
        linked: list[str] = []
        if ack.kind in RESPONSES:
            # The chain is one: the original and every copy of it for this party.
            linked = [message.escalation_of] if message.escalation_of else []
            original = self.tracker.get(message.escalation_of) or message
            copy = original.escalated_copies.get(party)
            if copy and copy != message.message_id:
                linked.append(copy)
            for other in linked:
                self._cancel(changes, self.tracker.close_chain(other, party, ack.kind))
        for message_id in (message.message_id, *linked):
            self._settle(changes, message_id)
        return changes

    def _settle(self, changes: TimerChanges, message_id: str) -> None:
        """Forgets a message nobody owes anything any more (its time lost is counted in
        the tracker's statistics already)."""
        message = self.tracker.get(message_id)
        if message is None or not message.complete:
            return
        changes.settled.append(message_id)
        self.tracker.forget(message_id)


def _closed(obligation: Obligation, stage: Stage) -> bool:
    """Whether an answer has made the deadline of ``stage`` pointless."""
    if stage is Stage.RECEIPT:
        return obligation.received
    return bool(obligation.response)
