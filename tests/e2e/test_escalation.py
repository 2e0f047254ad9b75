"""Acknowledgment deadlines and the escalation chain, with deadlines of a second or so.

The policy (harness.SHORT): RECEIPT within 0.5 s, operator response within 1.5 s, for
every priority.
"""

from __future__ import annotations

import asyncio

from hotline.client import HotlineClient
from hotline.testing.harness import AIR, GENERALS, Harness, expect, is_ack, is_alert
from hotline.v1 import acknowledgments_pb2, common_pb2, log_pb2, messages_pb2

A = acknowledgments_pb2


async def records_until(
    control: HotlineClient, predicate: object, within: float = 15.0
) -> list[log_pb2.LogRecord]:
    seen: list[log_pb2.LogRecord] = []
    async with asyncio.timeout(within):
        async for record in control.watch(resume_after_index=0):
            seen.append(record)
            if predicate(record):  # type: ignore[operator]
                return seen
    raise AssertionError("watch ended")


async def test_unanswered_message_walks_the_whole_chain_and_a_late_wilco_ends_it(
    short_server: Harness,
) -> None:
    server = short_server
    async with (
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as red,
        server.station("RED", AIR, standby=True) as red_standby,
        server.station("RED", GENERALS) as red_generals,
        server.station("BLUE", GENERALS) as blue_generals,
        server.control() as control,
    ):
        # RED's consoles are connected but nobody takes the call (no RECEIPT either).
        sent = await blue.send(
            messages_pb2.TextMessage(text="Strike at grid 37S DV 123 456 in 10 min"),
            common_pb2.PRIORITY_IMMEDIATE,
        )

        # 1. No RECEIPT in time: recorded as missed and re-delivered to the connected station.
        def redelivered(r: log_pb2.LogRecord) -> bool:
            return r.kind == log_pb2.RECORD_KIND_REDELIVERED and r.correlation_id == sent.message_id

        log = await records_until(control, redelivered)
        missed = [r for r in log if r.kind == log_pb2.RECORD_KIND_DEADLINE_MISSED]
        assert missed[0].deadline_missed.deadline == log_pb2.DEADLINE_KIND_RECEIPT
        assert missed[0].deadline_missed.station.party == "RED"
        assert missed[0].deadline_missed.station_online

        # 2. No response in time: ACK_OVERDUE to the sender, and RED's standby is paged.
        overdue = await expect(blue, is_alert(A.ALERT_KIND_ACK_OVERDUE))
        assert overdue.alert.message_id == sent.message_id
        assert overdue.alert.station.party == "RED"
        page = await expect(red_standby, is_alert(A.ALERT_KIND_ACK_OVERDUE))
        assert page.alert.paged_operator == common_pb2.OPERATOR_STANDBY

        # 3. Still nothing one response deadline later: ESCALATED, re-sent on GENERALS.
        escalated = await expect(blue, is_alert(A.ALERT_KIND_ESCALATED))
        assert escalated.alert.message_id == sent.message_id
        copy = await expect(red_generals, lambda e: e.escalation_of == sent.message_id)
        assert copy.hotline == GENERALS
        assert copy.text.text == "Strike at grid 37S DV 123 456 in 10 min"

        # 4. The late WILCO (from the generals' line) is accepted with its lateness and
        # ends the chain; the original sender hears it on its own hotline.
        await red_generals.acknowledge(copy, A.ACK_KIND_WILCO)
        await expect(blue_generals, is_ack(copy.message_id, A.ACK_KIND_WILCO))
        relayed = await expect(blue, is_ack(sent.message_id, A.ACK_KIND_WILCO))
        assert relayed.acknowledgment.lateness.ToTimedelta().total_seconds() > 1.5
        assert relayed.acknowledgment.responder.party == "RED"

        status = await control.status()
        air = next(h for h in status.hotlines if h.hotline == AIR)
        assert air.answered == 1
        assert air.overdue == 1
        assert air.escalated == 1
        # Time lost: from the first send to the WILCO, at least both response deadlines.
        # That nothing more falls due for the chain once answered is shown on a fake
        # clock (tests/server/test_escalation_drills.py).
        assert air.worst_time_lost.ToTimedelta().total_seconds() >= 3.0
        del red


async def test_an_answer_in_time_counts_as_answered(short_server: Harness) -> None:
    """That it raises nothing, then or later, is shown on a fake clock
    (tests/server/test_escalation_drills.py)."""
    server = short_server
    async with (
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as red,
        server.control() as control,
    ):
        sent = await blue.send(messages_pb2.TextMessage(text="Are you flying near Tabqa?"))
        delivery = await red.next_delivery(within=5)
        await red.acknowledge(delivery, A.ACK_KIND_ROGER)
        answer = await expect(blue, is_ack(sent.message_id, A.ACK_KIND_ROGER))
        assert not answer.acknowledgment.HasField("lateness")
        status = await control.status()
        air = next(h for h in status.hotlines if h.hotline == AIR)
        assert (air.answered, air.overdue, air.escalated) == (1, 0, 0)


async def test_an_offline_station_is_reported_to_the_sender(short_server: Harness) -> None:
    server = short_server
    async with server.station("BLUE", AIR) as blue:
        sent = await blue.send(messages_pb2.TextMessage(text="anyone there?"))
        missed = await expect(blue, is_alert(A.ALERT_KIND_RECEIPT_MISSED))
        assert missed.alert.message_id == sent.message_id
        assert "offline" in missed.alert.summary


async def test_an_unanswered_message_on_generals_alerts_exercise_control(
    short_server: Harness,
) -> None:
    server = short_server
    async with server.station("BLUE", GENERALS) as blue, server.control() as control:
        sent = await blue.send(messages_pb2.StopRequest(reason="cease fire east of the river"))

        def to_control(record: log_pb2.LogRecord) -> bool:
            return (
                record.envelope.alert.kind == A.ALERT_KIND_ESCALATED
                and record.envelope.alert.message_id == sent.message_id
            )

        log = await records_until(control, to_control)
        alert = log[-1].envelope
        assert list(alert.audience) == ["EXERCISE_CONTROL"]
        # The sender itself hears ACK_OVERDUE but not the exercise-control alert.
        await expect(blue, is_alert(A.ALERT_KIND_ACK_OVERDUE))
