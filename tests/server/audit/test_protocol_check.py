"""The protocol check on a recorded log: every message needing an answer got a response,
a recorded missed deadline, or an escalation."""

from __future__ import annotations

from hotline.server.audit.protocol import GRACE_S, ProtocolCheck
from hotline.server.exercise import default_exercise
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, log_pb2, messages_pb2

AIR = common_pb2.HOTLINE_AIR_OPERATIONS
EXERCISE = default_exercise()
RESPONSE_S = EXERCISE.policy.deadlines_for(common_pb2.PRIORITY_IMMEDIATE).response
T0 = 1_800_000_000


class Log:
    def __init__(self) -> None:
        self.records: list[log_pb2.LogRecord] = []
        self.add(0, log_pb2.RECORD_KIND_EXERCISE_STARTED, exercise=EXERCISE.to_proto())

    def add(self, at: float, kind: log_pb2.RecordKind.ValueType, **payload: object) -> None:
        record = log_pb2.LogRecord(index=len(self.records), kind=kind, **payload)  # type: ignore[arg-type]
        record.recorded_at.FromNanoseconds(int((T0 + at) * 1e9))
        self.records.append(record)

    def envelope(self, at: float, envelope: envelope_pb2.Envelope) -> None:
        envelope.recorded_at.FromNanoseconds(int((T0 + at) * 1e9))
        self.add(at, log_pb2.RECORD_KIND_ENVELOPE, envelope=envelope)

    def message(self, at: float, message_id: str = "m1") -> None:
        envelope = envelope_pb2.Envelope(
            message_id=message_id,
            hotline=AIR,
            priority=common_pb2.PRIORITY_IMMEDIATE,
            text=messages_pb2.TextMessage(text="Strike at grid 37S DV 123 456"),
        )
        envelope.sender.party = "BLUE"
        self.envelope(at, envelope)

    def annotation(self, at: float) -> None:
        self.add(at, log_pb2.RECORD_KIND_ANNOTATION, annotation=log_pb2.Annotation(text="later"))

    def unanswered(self) -> list[str]:
        check = ProtocolCheck()
        for record in self.records:
            check.add(record)
        return [m.message_id for m in check.unanswered()]


def test_a_message_left_hanging_past_its_deadline_is_reported() -> None:
    log = Log()
    log.message(1)
    log.annotation(1 + RESPONSE_S + GRACE_S + 1)
    assert log.unanswered() == ["m1"]


def test_a_message_still_within_its_deadline_when_the_log_ends_is_open() -> None:
    log = Log()
    log.message(1)
    log.annotation(2)
    assert log.unanswered() == []


def test_a_response_a_missed_deadline_or_an_escalation_each_settle_it() -> None:
    later = 1 + RESPONSE_S + GRACE_S + 1
    answered = Log()
    answered.message(1)
    wilco = envelope_pb2.Envelope(
        message_id="a1",
        hotline=AIR,
        acknowledgment=acknowledgments_pb2.Acknowledgment(
            message_id="m1", kind=acknowledgments_pb2.ACK_KIND_UNABLE
        ),
    )
    wilco.acknowledgment.responder.party = "RED"
    answered.envelope(2, wilco)

    timed_out = Log()
    timed_out.message(1)
    missed = log_pb2.DeadlineMissed(message_id="m1", deadline=log_pb2.DEADLINE_KIND_RESPONSE)
    missed.station.party = "RED"
    timed_out.add(1 + RESPONSE_S, log_pb2.RECORD_KIND_DEADLINE_MISSED, deadline_missed=missed)

    escalated = Log()
    escalated.message(1)
    copy = envelope_pb2.Envelope(
        message_id="server:escalation:RED:m1",
        hotline=common_pb2.HOTLINE_GENERALS,
        escalation_of="m1",
        audience=["RED"],
        text=messages_pb2.TextMessage(text="Strike at grid 37S DV 123 456"),
    )
    escalated.envelope(1 + RESPONSE_S, copy)
    missed_copy = log_pb2.DeadlineMissed(
        message_id=copy.message_id, deadline=log_pb2.DEADLINE_KIND_ESCALATION
    )
    missed_copy.station.party = "RED"
    escalated.add(later, log_pb2.RECORD_KIND_DEADLINE_MISSED, deadline_missed=missed_copy)

    for log in (answered, timed_out, escalated):
        log.annotation(later)
        assert log.unanswered() == []
