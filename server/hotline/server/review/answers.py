"""Who answered which message, and when: the acknowledgment history of every message
a station sent, followed in one pass over the log.

The server's rules (``DOMAIN.md`` §2, "Acknowledgment and escalation", and
:mod:`hotline.server.acknowledgments`) decide what each recipient station owes: a
RECEIPT for everything a station sends, and an operator response (WILCO, UNABLE or
ROGER) for text, zone proposals, updates and withdrawals, activity notices, stop
requests and incident reports. This module reads what the server recorded about it —
acknowledgments, missed deadlines, re-deliveries, ACK_OVERDUE and ESCALATED alerts, the
copy re-sent on GENERALS and the answer relayed from there — and hands every message
over as a :class:`MessageOutcome` once nothing more can happen to it: when every
recipient has answered, or at the end of the log.

Only what is still open is held, so memory follows the number of unanswered messages,
not the length of the log. Messages the server itself sends (line tests, alerts, zone
notices) are not station traffic and are not followed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from hotline.contract import NEEDS_RESPONSE, RESPONSES, SERVER_ID_PREFIX, UNACKNOWLEDGED, seconds
from hotline.server.acknowledgments import COMPLIANCE
from hotline.server.escalation import Rules
from hotline.server.exercise import default_exercise
from hotline.server.review.markup import duration
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, log_pb2

__all__ = [
    "AnswerTracker",
    "MessageOutcome",
    "Obligation",
    "Severity",
    "Step",
]

A = acknowledgments_pb2
_STAGE = {
    log_pb2.DEADLINE_KIND_RECEIPT: "RECEIPT",
    log_pb2.DEADLINE_KIND_RESPONSE: "response",
    log_pb2.DEADLINE_KIND_ESCALATION: "escalation",
}


class Severity:
    """How far a message went down the escalation chain (higher is worse)."""

    NONE = 0
    RECEIPT_MISSED = 1
    OVERDUE = 2
    ESCALATED = 3


@dataclass(frozen=True, slots=True)
class Step:
    """One recorded event of a message's history, for its escalation chain.

    ``kind`` is one of ``receipt``, ``missed``, ``redelivered``, ``alert``,
    ``escalated``, ``answer``; ``text`` is plain text (escaped when rendered)."""

    index: int
    at: float
    hotline: int
    kind: str
    text: str


@dataclass(slots=True)
class Obligation:
    """What one recipient station owed one message, and what it did."""

    party: str
    receipt_at: float | None = None
    response: acknowledgments_pb2.AckKind.ValueType = A.ACK_KIND_UNSPECIFIED
    response_at: float | None = None
    #: How late the response was, as the server recorded it (0 when in time).
    lateness: float = 0.0
    #: The response deadline, known once the server recorded it as missed.
    response_due: float | None = None
    #: Whether the response came through the copy escalated to GENERALS.
    via_generals: bool = False


@dataclass(slots=True)
class MessageOutcome:
    """One message a station sent, with everything its recipients did about it."""

    index: int
    message_id: str
    at: float
    hotline: int
    sender: str
    priority: int
    body: str
    envelope: envelope_pb2.Envelope
    needs_response: bool
    obligations: dict[str, Obligation]
    steps: list[Step] = field(default_factory=list)
    severity: int = Severity.NONE
    #: First WILCO or ROGER from any recipient: ``(time, party)``.
    first_compliance: tuple[float, str] | None = None
    #: The end of the log, for a message still owed something when the log ended.
    open_at: float | None = None

    @property
    def complete(self) -> bool:
        """Whether every recipient has given everything the message takes."""
        if self.needs_response:
            return all(o.response for o in self.obligations.values())
        return all(o.receipt_at is not None for o in self.obligations.values())

    def time_lost(self) -> float | None:
        """From the message's record to the first WILCO or ROGER (``DOMAIN.md`` §2.6).

        For a message with no WILCO or ROGER when the log ended, the time to the end of
        the log (see :attr:`answered`); ``None`` for a message that takes no response,
        or whose recipients all answered UNABLE."""
        if not self.needs_response:
            return None
        if self.first_compliance is not None:
            return self.first_compliance[0] - self.at
        if self.open_at is not None:
            return self.open_at - self.at
        return None

    @property
    def answered(self) -> bool:
        """Whether a WILCO or ROGER ended the time lost on the message."""
        return self.first_compliance is not None

    def past_deadline(self) -> float:
        """How long past its response deadline the slowest answer came, or, for an answer
        still missing when the log ended, how long past the deadline the log ran on."""
        return max((self.party_past_deadline(o) for o in self.obligations.values()), default=0.0)

    def party_past_deadline(self, obligation: Obligation) -> float:
        if obligation.response:
            return obligation.lateness
        if obligation.response_due is not None and self.open_at is not None:
            return max(0.0, self.open_at - obligation.response_due)
        return 0.0

    def party_time_lost(self, obligation: Obligation) -> float | None:
        """Time lost waiting on one recipient: to its WILCO or ROGER, or to the end of
        the log when it never answered; ``None`` for an UNABLE."""
        if obligation.response_at is not None:
            if obligation.response in COMPLIANCE:
                return obligation.response_at - self.at
            return None
        if self.open_at is not None:
            return self.open_at - self.at
        return None


def _seat(operator: common_pb2.Operator.ValueType) -> str:
    """Which duty officer answered, where the log says (older logs do not)."""
    if operator == common_pb2.OPERATOR_UNSPECIFIED:
        return ""
    return f" ({common_pb2.Operator.Name(operator).removeprefix('OPERATOR_').lower()})"


class AnswerTracker:
    """Follows every station message to its answers; ``on_outcome`` gets each message
    once, when nothing more can happen to it (see :meth:`finish` for the rest)."""

    def __init__(self, on_outcome: Callable[[MessageOutcome], None]) -> None:
        self._on_outcome = on_outcome
        self._open: dict[str, MessageOutcome] = {}
        # Message id of a copy escalated to GENERALS -> id of the original.
        self._copies: dict[str, str] = {}
        # Who each message is for, by the server's own rules.
        self._rules = Rules.of(default_exercise())
        #: Missed deadlines recorded, by ``DeadlineKind`` (every message, line tests too).
        self.missed: Counter[int] = Counter()
        #: ACK_OVERDUE and ESCALATED alerts raised.
        self.overdue_alerts = 0
        self.escalated_alerts = 0

    def needs_response(self, message_id: str) -> bool:
        """Whether an open message waits for an operator response (for callers that
        list RECEIPTs of such messages only)."""
        outcome = self._open.get(message_id)
        return outcome is not None and outcome.needs_response

    def add(
        self, index: int, record: log_pb2.LogRecord, at: float, payload: str, body: str
    ) -> None:
        """Takes in one record (``payload`` and ``body`` are its ``WhichOneof`` names)."""
        if payload == "envelope":
            self._envelope(index, record.envelope, at, body)
        elif payload == "deadline_missed":
            self._missed(index, record, at)
        elif payload == "exercise":
            self._rules = Rules.recorded(record.exercise)
        elif record.kind == log_pb2.RECORD_KIND_REDELIVERED:
            party = record.station_session.station.party
            self._step(
                record.correlation_id,
                Step(index, at, record.hotline, "redelivered", f"re-delivered to {party}"),
            )

    def finish(self, end_at: float) -> None:
        """Hands over every message still owed something when the log ended at
        ``end_at``, in log order."""
        for outcome in self._open.values():
            outcome.open_at = end_at
            self._on_outcome(outcome)
        self._open.clear()

    # ------------------------------------------------------------------ records

    def _envelope(self, index: int, envelope: envelope_pb2.Envelope, at: float, body: str) -> None:
        if body == "acknowledgment":
            self._acknowledgment(index, envelope, at)
        elif body == "alert":
            self._alert(index, envelope, at)
        elif body in UNACKNOWLEDGED:
            return
        elif envelope.escalation_of:
            self._copies[envelope.message_id] = envelope.escalation_of
            to = ", ".join(envelope.audience) or "the other side"
            self._step(
                envelope.escalation_of,
                Step(
                    index,
                    at,
                    envelope.hotline,
                    "escalated",
                    f"re-sent on GENERALS to {to} as {envelope.message_id}",
                ),
            )
        elif envelope.sender.party:
            self._track(index, envelope, at, body)

    def _track(self, index: int, envelope: envelope_pb2.Envelope, at: float, body: str) -> None:
        on_line = self._rules.parties_on.get(envelope.hotline, frozenset())
        recipients = sorted(self._rules.audience(envelope) & on_line)
        if not recipients:
            return
        self._open[envelope.message_id] = MessageOutcome(
            index=index,
            message_id=envelope.message_id,
            at=at,
            hotline=envelope.hotline,
            sender=envelope.sender.party,
            priority=envelope.priority,
            body=body,
            envelope=envelope,
            needs_response=body in NEEDS_RESPONSE,
            obligations={p: Obligation(p) for p in recipients},
        )

    def _acknowledgment(self, index: int, envelope: envelope_pb2.Envelope, at: float) -> None:
        ack = envelope.acknowledgment
        party = ack.responder.party
        kind = A.AckKind.Name(ack.kind).removeprefix("ACK_KIND_")
        original = self._copies.get(ack.message_id)
        if original is not None:
            outcome = self._open.get(original)
            if outcome is not None:
                step = "receipt" if ack.kind == A.ACK_KIND_RECEIPT else "answer"
                text = f"{kind} from {party}{_seat(ack.operator)} on GENERALS"
                outcome.steps.append(Step(index, at, envelope.hotline, step, text))
            return
        outcome = self._open.get(ack.message_id)
        if outcome is None:
            return
        obligation = outcome.obligations.get(party)
        if obligation is None:
            return
        if ack.kind == A.ACK_KIND_RECEIPT:
            if obligation.receipt_at is None:
                obligation.receipt_at = at
                if outcome.needs_response:
                    outcome.steps.append(
                        Step(index, at, envelope.hotline, "receipt", f"RECEIPT from {party}")
                    )
        elif ack.kind in RESPONSES and not obligation.response:
            obligation.response = ack.kind
            obligation.response_at = at
            if obligation.receipt_at is None:
                # An answer proves the message reached the station.
                obligation.receipt_at = at
            if ack.HasField("lateness"):
                obligation.lateness = seconds(ack.lateness)
            obligation.via_generals = envelope.message_id.startswith(SERVER_ID_PREFIX)
            text = f"{kind} from {party}{_seat(ack.operator)}"
            if obligation.via_generals:
                text += " (relayed from GENERALS)"
            if obligation.lateness > 0:
                text += f", {duration(obligation.lateness)} past the deadline"
            if ack.reason:
                text += f": {ack.reason}"
            outcome.steps.append(Step(index, at, envelope.hotline, "answer", text))
            if ack.kind in COMPLIANCE and outcome.first_compliance is None:
                outcome.first_compliance = (at, party)
        if outcome.complete:
            del self._open[outcome.message_id]
            self._on_outcome(outcome)

    def _alert(self, index: int, envelope: envelope_pb2.Envelope, at: float) -> None:
        alert = envelope.alert
        if alert.kind == A.ALERT_KIND_ACK_OVERDUE:
            self.overdue_alerts += 1
            severity = Severity.OVERDUE
            paged = ": standby paged" if alert.paged_operator == common_pb2.OPERATOR_STANDBY else ""
            text = f"ACK_OVERDUE for {alert.station.party}{paged}"
        elif alert.kind == A.ALERT_KIND_ESCALATED:
            self.escalated_alerts += 1
            severity = Severity.ESCALATED
            text = f"ESCALATED: {alert.summary}"
        elif alert.kind == A.ALERT_KIND_RECEIPT_MISSED:
            severity = Severity.RECEIPT_MISSED
            text = f"RECEIPT_MISSED: {alert.summary}"
        else:
            return
        kind = "escalated" if severity == Severity.ESCALATED else "alert"
        self._step(alert.message_id, Step(index, at, envelope.hotline, kind, text), severity)

    def _missed(self, index: int, record: log_pb2.LogRecord, at: float) -> None:
        missed = record.deadline_missed
        self.missed[missed.deadline] += 1
        original = self._copies.get(missed.message_id)
        outcome = self._open.get(original or missed.message_id)
        if outcome is None:
            return
        party = missed.station.party
        obligation = outcome.obligations.get(party)
        responding = missed.deadline == log_pb2.DEADLINE_KIND_RESPONSE
        if original is None and obligation is not None and responding:
            obligation.response_due = seconds(missed.due_at)
        severity = {
            log_pb2.DEADLINE_KIND_RECEIPT: Severity.RECEIPT_MISSED,
            log_pb2.DEADLINE_KIND_RESPONSE: Severity.OVERDUE,
            log_pb2.DEADLINE_KIND_ESCALATION: Severity.ESCALATED,
        }.get(missed.deadline, Severity.NONE)
        where = " on GENERALS" if original is not None else ""
        online = "online" if missed.station_online else "offline"
        stage = _STAGE.get(missed.deadline, "unknown")
        text = f"{stage} deadline missed by {party}{where} (station {online})"
        self._step(outcome.message_id, Step(index, at, record.hotline, "missed", text), severity)

    def _step(self, message_id: str, step: Step, severity: int = Severity.NONE) -> None:
        outcome = self._open.get(self._copies.get(message_id, message_id))
        if outcome is None:
            return
        outcome.steps.append(step)
        outcome.severity = max(outcome.severity, severity)
