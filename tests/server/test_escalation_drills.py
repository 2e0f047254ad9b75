"""Escalation under real drills, in process with a fake clock (:mod:`hotline.testing.drill`).

Policy: RECEIPT within 1 s, operator response within 2 s. A FLASH sent at t=0 to a
station that says nothing: RECEIPT missed at 1 s (re-delivered), response missed at 2 s
(ACK_OVERDUE, the standby paged), escalation deadline at 4 s (ESCALATED, the copy re-sent
on GENERALS).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.testing.drill import AIR, GENERALS, A, Drill, alerts, envelopes
from hotline.v1 import common_pb2, log_pb2


def alert_summary(records: list[log_pb2.LogRecord]) -> list[tuple[str, str, int]]:
    """Every deadline alert: its kind, the message it is about, the station's hotline."""
    return sorted(
        (A.AlertKind.Name(a.kind), a.message_id, a.station.hotline)
        for kind in (A.ALERT_KIND_ACK_OVERDUE, A.ALERT_KIND_ESCALATED)
        for a in alerts(records, kind)
    )


async def test_a_late_answer_to_the_original_after_escalation_closes_the_chain_and_the_log_verifies(
    tmp_path: Path,
) -> None:
    async with Drill(tmp_path) as drill:
        await drill.connect("BLUE", AIR)
        red = await drill.connect("RED", AIR)
        red_generals = await drill.connect("RED", GENERALS)
        sent = await drill.text("BLUE", AIR)
        await drill.advance(4.5)
        copies = red_generals.received(lambda e: e.escalation_of == sent.message_id)
        assert len(copies) == 1
        # RED's duty officer comes back and answers the original, 3 s past its deadline,
        # before the generals' own deadline on the copy.
        await drill.advance(0.5)
        result = await drill.answer("RED", AIR, sent.message_id, A.ACK_KIND_WILCO)
        assert result.code == 0, result.error
        answered = len(await drill.records())
        await drill.advance(600)
        assert red.received(lambda e: e.message_id == sent.message_id)
        records = await drill.records()
    # Nothing fired after the answer: the copy on GENERALS is closed with the original.
    after = [r for r in records[answered:] if r.kind != log_pb2.RECORD_KIND_SERVER_STOPPED]
    assert after == []
    report = drill.verify()
    assert report.problems == (), [p.message for p in report.problems]


@pytest.mark.parametrize("kind", [A.ACK_KIND_WILCO, A.ACK_KIND_ROGER])
async def test_an_answer_to_the_copy_on_generals_closes_the_original_and_the_log_verifies(
    tmp_path: Path, kind: A.AckKind.ValueType
) -> None:
    async with Drill(tmp_path) as drill:
        blue = await drill.connect("BLUE", AIR)
        await drill.connect("RED", AIR)
        red_generals = await drill.connect("RED", GENERALS)
        sent = await drill.text("BLUE", AIR)
        await drill.advance(4.5)
        (copy,) = red_generals.received(lambda e: e.escalation_of == sent.message_id)
        result = await drill.answer("RED", GENERALS, copy.message_id, kind)
        assert result.code == 0, result.error
        answered = len(await drill.records())
        await drill.advance(600)
        records = await drill.records()
        # The original sender hears the answer on its own hotline.
        assert blue.received(
            lambda e: (
                e.acknowledgment.message_id == sent.message_id and e.acknowledgment.kind == kind
            )
        )
    # Nothing falls due for the chain after the answer: no second escalation, no alert.
    after = [r for r in records[answered:] if r.kind != log_pb2.RECORD_KIND_SERVER_STOPPED]
    assert after == []
    assert drill.verify().problems == ()


async def test_an_answer_in_time_raises_nothing(tmp_path: Path) -> None:
    async with Drill(tmp_path) as drill:
        blue = await drill.connect("BLUE", AIR)
        await drill.connect("RED", AIR)
        sent = await drill.text("BLUE", AIR, priority=common_pb2.PRIORITY_ROUTINE)
        await drill.advance(0.5)
        await drill.answer("RED", AIR, sent.message_id, A.ACK_KIND_RECEIPT)
        await drill.advance(0.5)
        result = await drill.answer("RED", AIR, sent.message_id, A.ACK_KIND_ROGER)
        assert result.code == 0, result.error
        answered = len(await drill.records())
        await drill.advance(600)
        records = await drill.records()
        assert not blue.received(lambda e: e.WhichOneof("body") == "alert")
    assert [r for r in records[answered:] if r.kind != log_pb2.RECORD_KIND_SERVER_STOPPED] == []


@pytest.mark.parametrize("restarts", [1, 3])
async def test_restarts_do_not_re_fire_a_finished_escalation_chain(
    tmp_path: Path, restarts: int
) -> None:
    async with Drill(tmp_path) as drill:
        await drill.connect("BLUE", AIR)
        await drill.connect("RED", AIR)
        await drill.connect("RED", GENERALS)
        sent = await drill.text("BLUE", AIR)
        await drill.advance(10)
        before = await drill.records()
        for _ in range(restarts):
            await drill.restart()
            await drill.advance(10)
        after = await drill.records()
    copy_id = f"srv:escalation:RED:{sent.message_id}"
    assert len(envelopes(before, lambda e: e.message_id == copy_id)) == 1
    assert alert_summary(after) == alert_summary(before)
    missed = [r for r in after if r.kind == log_pb2.RECORD_KIND_DEADLINE_MISSED]
    assert len(missed) == len([r for r in before if r.kind == log_pb2.RECORD_KIND_DEADLINE_MISSED])
    ids = [r.envelope.message_id for r in after if r.kind == log_pb2.RECORD_KIND_ENVELOPE]
    assert len(ids) == len(set(ids))
    assert drill.verify().problems == ()


async def test_what_fell_due_while_a_killed_server_was_down_fires_at_once_at_restart(
    tmp_path: Path,
) -> None:
    async with Drill(tmp_path / "server") as drill:
        await drill.connect("BLUE", AIR)
        await drill.connect("RED", AIR)
        sent = await drill.text("BLUE", AIR, priority=common_pb2.PRIORITY_ROUTINE)
        await drill.advance(0.5)  # nothing due yet
        killed = drill.copy(tmp_path / "killed")  # ``kill -9`` now: no clean stop
    killed.clock.now += 30  # down for half a minute: every deadline of the chain passes
    back = killed.clock.now
    async with killed:
        await killed.advance(0)  # the moment it is back
        records = await killed.records()
    missed = [
        r
        for r in records
        if r.kind == log_pb2.RECORD_KIND_DEADLINE_MISSED and r.correlation_id == sent.message_id
    ]
    assert [m.deadline_missed.deadline for m in missed] == [
        log_pb2.DEADLINE_KIND_RECEIPT,
        log_pb2.DEADLINE_KIND_RESPONSE,
        log_pb2.DEADLINE_KIND_ESCALATION,
    ]
    # All at the moment it came back, none later.
    assert {m.recorded_at.ToSeconds() for m in missed} == {int(back)}
    assert alert_summary(records) == [
        ("ALERT_KIND_ACK_OVERDUE", sent.message_id, AIR),
        ("ALERT_KIND_ESCALATED", sent.message_id, AIR),
    ]


async def test_what_fell_due_while_the_server_was_down_fires_once_at_restart(
    tmp_path: Path,
) -> None:
    async with Drill(tmp_path) as drill:
        await drill.connect("BLUE", AIR)
        await drill.connect("RED", AIR)
        await drill.connect("RED", GENERALS)
        sent = await drill.text("BLUE", AIR, priority=common_pb2.PRIORITY_IMMEDIATE)
        await drill.advance(1.5)  # the RECEIPT missed; the response not yet due
        await drill.stop()
        drill.clock.now += 30  # down for half a minute
        await drill.start()
        await drill.advance(0)
        await drill.restart()
        await drill.advance(30)
        records = await drill.records()
    assert alert_summary(records) == sorted(
        [
            ("ALERT_KIND_ACK_OVERDUE", sent.message_id, AIR),
            ("ALERT_KIND_ESCALATED", sent.message_id, AIR),
            # The copy on GENERALS went unanswered too: exercise control is alerted.
            ("ALERT_KIND_ACK_OVERDUE", f"srv:escalation:RED:{sent.message_id}", GENERALS),
            ("ALERT_KIND_ESCALATED", sent.message_id, GENERALS),
        ]
    )


async def test_a_station_that_never_sends_its_receipt_gets_a_message_three_times(
    tmp_path: Path,
) -> None:
    async with Drill(tmp_path) as drill:
        await drill.connect("BLUE", AIR)
        red = await drill.connect("RED", AIR)
        sent = await drill.text("BLUE", AIR, priority=common_pb2.PRIORITY_ROUTINE)
        await drill.advance(30)
        records = await drill.records()
        assert len(red.received(lambda e: e.message_id == sent.message_id)) == 3
    redelivered = [r for r in records if r.kind == log_pb2.RECORD_KIND_REDELIVERED]
    assert len(redelivered) == 2


async def test_the_standby_is_paged_with_the_message_and_its_answer_names_its_seat(
    tmp_path: Path,
) -> None:
    async with Drill(tmp_path) as drill:
        await drill.connect("BLUE", AIR)
        red = await drill.connect("RED", AIR)
        standby = await drill.connect("RED", AIR, standby=True)
        sent = await drill.text("BLUE", AIR)
        receipt = await drill.answer("RED", AIR, sent.message_id, A.ACK_KIND_RECEIPT)
        assert receipt.code == 0, receipt.error
        red.take()
        standby.take()
        await drill.advance(2.5)  # the response deadline passes: ACK_OVERDUE
        page = standby.take()
        assert [e.message_id for e in page if e.WhichOneof("body") == "text"] == [sent.message_id]
        overdue = [e for e in page if e.WhichOneof("body") == "alert"]
        assert [e.alert.paged_operator for e in overdue] == [common_pb2.OPERATOR_STANDBY]
        # The primary is not sent the message again: it has it.
        assert [e for e in red.take() if e.message_id == sent.message_id] == []
        result = await drill.answer("RED", AIR, sent.message_id, A.ACK_KIND_WILCO, standby=True)
        assert result.code == 0, result.error
        records = await drill.records()
    (answer,) = envelopes(
        records,
        lambda e: (
            e.acknowledgment.message_id == sent.message_id
            and e.acknowledgment.kind == A.ACK_KIND_WILCO
        ),
    )
    assert answer.acknowledgment.operator == common_pb2.OPERATOR_STANDBY
    assert answer.acknowledgment.responder.party == "RED"
    (receipt_record,) = envelopes(records, lambda e: e.acknowledgment.kind == A.ACK_KIND_RECEIPT)
    assert receipt_record.acknowledgment.operator == common_pb2.OPERATOR_PRIMARY


def answered_by(drill: Drill) -> dict[tuple[str, int], tuple[int, int]]:
    """What the exercise status says of each station that answered: (primary, standby)."""
    return {
        (s.station.ref.party, s.station.ref.hotline): (s.answered_by_primary, s.answered_by_standby)
        for s in drill.switchboard.station_statuses()
        if s.answered_by_primary or s.answered_by_standby
    }


@pytest.mark.parametrize("from_snapshot", [True, False])
async def test_the_status_says_which_seat_answered_and_a_restart_keeps_it(
    tmp_path: Path, from_snapshot: bool
) -> None:
    async with Drill(tmp_path) as drill:
        await drill.connect("BLUE", AIR)
        await drill.connect("RED", AIR)
        await drill.connect("RED", AIR, standby=True)
        red_generals = await drill.connect("RED", GENERALS)
        by_primary = await drill.text("BLUE", AIR)
        by_standby = await drill.text("BLUE", AIR)
        escalated = await drill.text("BLUE", AIR)
        for sent in (by_primary, by_standby, escalated):
            await drill.answer("RED", AIR, sent.message_id, A.ACK_KIND_RECEIPT)
        await drill.answer("RED", AIR, by_primary.message_id, A.ACK_KIND_WILCO)
        await drill.answer("RED", AIR, by_standby.message_id, A.ACK_KIND_ROGER, standby=True)
        await drill.advance(4.5)
        (copy,) = red_generals.received(lambda e: e.escalation_of == escalated.message_id)
        await drill.answer("RED", GENERALS, copy.message_id, A.ACK_KIND_ROGER)
        # A RECEIPT is not an answer; the answer to the copy closed the original too.
        expected = {("RED", AIR): (1, 1), ("RED", GENERALS): (1, 0)}
        assert answered_by(drill) == expected
        await drill.stop()
        if not from_snapshot:
            drill.forget_snapshots()
        await drill.start()
        assert answered_by(drill) == expected


async def test_a_retry_with_the_same_id_and_other_content_is_refused_and_recorded(
    tmp_path: Path,
) -> None:
    async with Drill(tmp_path) as drill:
        await drill.connect("RED", AIR)
        first = drill.envelope("BLUE", AIR, message_id="blue-strike-1")
        first.text.text = "Strike at 0600Z"
        assert (await drill.submit(first)).code == 0
        retry = drill.envelope("BLUE", AIR, message_id="blue-strike-1")
        retry.text.text = "Strike at 0600Z"
        drill.clock.now += 5  # sent again later: the same message
        again = await drill.submit(retry)
        assert (again.code, again.duplicate, again.sequence) == (0, True, 1)
        for _ in range(2):  # and after a restart, which rebuilds what it knows
            changed = drill.envelope("BLUE", AIR, message_id="blue-strike-1")
            changed.text.text = "Strike at 0700Z"
            refused = await drill.submit(changed)
            assert refused.code == 6  # ALREADY_EXISTS
            assert "'blue-strike-1'" in refused.error
            assert "other content" in refused.error
            await drill.restart()
        records = await drill.records()
    refusals = [r for r in records if r.kind == log_pb2.RECORD_KIND_REQUEST_REFUSED]
    assert [r.refused_request.code for r in refusals] == ["ALREADY_EXISTS"] * 2
    assert all(r.refused_request.message_id == "blue-strike-1" for r in refusals)
    texts = envelopes(records, lambda e: e.message_id == "blue-strike-1")
    assert [e.text.text for e in texts] == ["Strike at 0600Z"]
