"""Who owes which answer: the escalation chain as pure state, without a network."""

from __future__ import annotations

import pickle

import pytest

from hotline.server.acknowledgments import AckTracker, Stage, TrackedMessage
from hotline.server.errors import FailedPrecondition, NotFound
from hotline.server.exercise import Deadlines
from hotline.v1 import acknowledgments_pb2, common_pb2

AIR = common_pb2.HOTLINE_AIR_OPERATIONS
A = acknowledgments_pb2


def message(message_id: str = "m1", needs_response: bool = True) -> TrackedMessage:
    return TrackedMessage(
        message_id=message_id,
        hotline=AIR,
        sender_party="BLUE",
        recorded_at=1000.0,
        deadlines=Deadlines(receipt=10, response=300),
        needs_response=needs_response,
    )


def test_a_message_arms_a_receipt_and_a_response_deadline_per_recipient() -> None:
    tracker = AckTracker()
    armed = tracker.track(message(), ["RED", "GREEN"])
    assert set(armed) == {
        (("m1", "GREEN", Stage.RECEIPT), 1010.0),
        (("m1", "GREEN", Stage.RESPONSE), 1300.0),
        (("m1", "RED", Stage.RECEIPT), 1010.0),
        (("m1", "RED", Stage.RESPONSE), 1300.0),
    }
    assert [m.message_id for m in tracker.owed_by("RED", AIR)] == ["m1"]


def test_a_missed_response_arms_the_escalation_one_response_deadline_later() -> None:
    tracker = AckTracker()
    tracker.track(message(), ["RED"])
    armed = tracker.missed(("m1", "RED", Stage.RESPONSE), station_online=True)
    assert armed == [(("m1", "RED", Stage.ESCALATION), 1600.0)]
    assert tracker.get("m1").obligations["RED"].overdue  # type: ignore[union-attr]


def test_receipts_are_re_armed_for_a_connected_station_a_few_times_only() -> None:
    tracker = AckTracker()
    tracker.track(message(), ["RED"])
    dues = []
    for _ in range(5):
        armed = tracker.missed(("m1", "RED", Stage.RECEIPT), station_online=True)
        dues += [due for _, due in armed]
    # Two re-deliveries after the first delivery: three deliveries in all.
    assert dues == [1020.0, 1030.0]
    assert tracker.missed(("m1", "RED", Stage.RECEIPT), station_online=False) == []


def test_a_late_response_records_its_lateness_and_cancels_what_is_pending() -> None:
    tracker = AckTracker()
    tracker.track(message(), ["RED"])
    assert tracker.lateness("m1", "RED", 1450.0) == 150.0
    outcome, cancelled = tracker.acknowledged("m1", "RED", A.ACK_KIND_WILCO, 1450.0)
    assert outcome.new
    assert set(cancelled) == {
        ("m1", "RED", Stage.RECEIPT),
        ("m1", "RED", Stage.RESPONSE),
        ("m1", "RED", Stage.ESCALATION),
    }
    assert outcome.message.answered_at == 1450.0
    assert tracker.owed_by("RED", AIR) == []


def test_unable_ends_the_chain_but_is_not_compliance() -> None:
    tracker = AckTracker()
    tracker.track(message(), ["RED"])
    outcome, _ = tracker.acknowledged("m1", "RED", A.ACK_KIND_UNABLE, 1100.0)
    assert outcome.message.answered_at is None
    assert outcome.message.complete


def test_refusals_name_what_is_wrong() -> None:
    tracker = AckTracker()
    tracker.track(message(), ["RED"])
    tracker.track(message("p1", needs_response=False), ["RED"])
    with pytest.raises(NotFound):
        tracker.check_acknowledgment("nope", "RED", AIR, A.ACK_KIND_RECEIPT)
    with pytest.raises(FailedPrecondition, match="own message"):
        tracker.check_acknowledgment("m1", "BLUE", AIR, A.ACK_KIND_ROGER)
    with pytest.raises(FailedPrecondition, match="not addressed to GREEN"):
        tracker.check_acknowledgment("m1", "GREEN", AIR, A.ACK_KIND_ROGER)
    with pytest.raises(FailedPrecondition, match="only a RECEIPT"):
        tracker.check_acknowledgment("p1", "RED", AIR, A.ACK_KIND_WILCO)
    with pytest.raises(FailedPrecondition, match="travels on AIR_OPERATIONS"):
        tracker.check_acknowledgment("m1", "RED", common_pb2.HOTLINE_GENERALS, A.ACK_KIND_ROGER)
    tracker.acknowledged("m1", "RED", A.ACK_KIND_ROGER, 1100.0)
    with pytest.raises(FailedPrecondition, match="first answer counts"):
        tracker.check_acknowledgment("m1", "RED", AIR, A.ACK_KIND_WILCO)


def test_a_missed_line_test_puts_the_line_down_until_a_receipt() -> None:
    tracker = AckTracker()
    test = message("t1", needs_response=False)
    test.is_line_test = True
    tracker.track(test, ["RED"])
    assert tracker.missed(("t1", "RED", Stage.RECEIPT), station_online=True) == []
    assert tracker.is_line_down("RED", AIR)
    outcome, _ = tracker.acknowledged("t1", "RED", A.ACK_KIND_RECEIPT, 1020.0)
    assert outcome.line_restored
    assert not tracker.is_line_down("RED", AIR)


def test_an_open_message_comes_back_whole_from_a_snapshot() -> None:
    tracker = AckTracker()
    message = TrackedMessage(
        message_id="m1",
        hotline=common_pb2.HOTLINE_AIR_OPERATIONS,
        sender_party="BLUE",
        recorded_at=100.0,
        deadlines=Deadlines(10.0, 60.0),
        needs_response=True,
        priority=common_pb2.PRIORITY_FLASH,
    )
    tracker.track(message, ["RED", "GREEN"])
    tracker.acknowledged("m1", "RED", acknowledgments_pb2.ACK_KIND_RECEIPT, 101.0)
    back = pickle.loads(pickle.dumps(tracker.get("m1"), protocol=pickle.HIGHEST_PROTOCOL))
    assert back == tracker.get("m1")
    assert back.obligations["RED"].received
    assert not back.obligations["GREEN"].received
