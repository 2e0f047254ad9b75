"""A hotline suspended by exercise control, in process with a fake clock.

Policy (:mod:`hotline.testing.drill`): RECEIPT within 1 s, operator response within 2 s.
"""

from __future__ import annotations

from pathlib import Path

from hotline.testing.drill import AIR, GENERALS, A, Drill, alerts, envelopes
from hotline.v1 import common_pb2, envelope_pb2, log_pb2


async def suspend(drill: Drill, suspended: bool = True) -> None:
    drill.switchboard.set_suspended(drill.control_credential(), AIR, "political reasons", suspended)
    await drill.switchboard.flush()


async def test_no_deadline_counts_against_a_station_while_its_line_is_suspended(
    tmp_path: Path,
) -> None:
    async with Drill(tmp_path) as drill:
        await drill.connect("BLUE", AIR)
        await drill.connect("RED", AIR)
        sent = await drill.text("BLUE", AIR, priority=common_pb2.PRIORITY_ROUTINE)
        await drill.advance(0.5)
        await suspend(drill)
        await drill.advance(600)  # ten minutes suspended: nothing falls due
        quiet = await drill.records()
        assert [r for r in quiet if r.kind == log_pb2.RECORD_KIND_DEADLINE_MISSED] == []
        await suspend(drill, suspended=False)
        resumed_at = drill.clock.now
        # The RECEIPT had 0.5 s left, the response 1.5 s: they run on from the resumption.
        await drill.advance(0.4)
        assert [
            r for r in await drill.records() if r.kind == log_pb2.RECORD_KIND_DEADLINE_MISSED
        ] == []
        await drill.advance(10)
        records = await drill.records()
    missed = [r.deadline_missed for r in records if r.kind == log_pb2.RECORD_KIND_DEADLINE_MISSED]
    first = {m.deadline: m.due_at.ToNanoseconds() / 1e9 for m in reversed(missed)}
    assert first[log_pb2.DEADLINE_KIND_RECEIPT] == resumed_at + 0.5
    assert first[log_pb2.DEADLINE_KIND_RESPONSE] == resumed_at + 1.5
    # ROUTINE traffic waits for the line: it was not re-routed.
    assert envelopes(records, lambda e: e.escalation_of == sent.message_id)[
        0
    ].escalation_reason == (envelope_pb2.ESCALATION_REASON_UNANSWERED)
    assert drill.verify().problems == ()


async def test_urgent_traffic_goes_to_generals_at_once_when_its_line_is_suspended(
    tmp_path: Path,
) -> None:
    async with Drill(tmp_path) as drill:
        blue = await drill.connect("BLUE", AIR)
        await drill.connect("RED", AIR)
        red_generals = await drill.connect("RED", GENERALS)
        flash = await drill.text("BLUE", AIR, "Cease fire at grid 37S DV 123 456")
        immediate = await drill.text("BLUE", AIR, priority=common_pb2.PRIORITY_IMMEDIATE)
        routine = await drill.text("BLUE", AIR, priority=common_pb2.PRIORITY_ROUTINE)
        await suspend(drill)
        copies = red_generals.take()
        assert {c.escalation_of for c in copies} == {flash.message_id, immediate.message_id}
        assert {c.escalation_reason for c in copies} == {
            envelope_pb2.ESCALATION_REASON_LINE_SUSPENDED
        }
        told = [e.alert for e in blue.take() if e.WhichOneof("body") == "alert"]
        assert {a.message_id for a in told if a.kind == A.ALERT_KIND_ESCALATED} == {
            flash.message_id,
            immediate.message_id,
        }
        # The generals answer the FLASH: that closes it; the others wait.
        (flash_copy,) = [c for c in copies if c.escalation_of == flash.message_id]
        result = await drill.answer("RED", GENERALS, flash_copy.message_id, A.ACK_KIND_WILCO)
        assert result.code == 0, result.error
        await drill.advance(60)
        await suspend(drill, suspended=False)
        await drill.advance(60)
        records = await drill.records()
    # Nothing more about the FLASH; the ROUTINE message ran its chain after resumption.
    overdue = {a.message_id for a in alerts(records, A.ALERT_KIND_ACK_OVERDUE)}
    assert flash.message_id not in overdue
    assert routine.message_id in overdue
    copy_ids = [e.message_id for e in envelopes(records, lambda e: bool(e.escalation_of))]
    assert len(copy_ids) == len(set(copy_ids))
    assert drill.verify().problems == ()


async def test_a_suspension_survives_a_restart(tmp_path: Path) -> None:
    async with Drill(tmp_path) as drill:
        await drill.connect("BLUE", AIR)
        await drill.connect("RED", AIR)
        await drill.text("BLUE", AIR, priority=common_pb2.PRIORITY_ROUTINE)
        await suspend(drill)
        await drill.restart()
        await drill.advance(600)
        records = await drill.records()
    assert [r for r in records if r.kind == log_pb2.RECORD_KIND_DEADLINE_MISSED] == []
