"""Two parties on all three hotlines: recorded, sequenced, delivered, answered."""

from __future__ import annotations

import asyncio

import pytest

from hotline.client import Refused
from hotline.testing.harness import AIR, GENERALS, GROUND, Harness, expect, is_ack
from hotline.v1 import acknowledgments_pb2, common_pb2, messages_pb2, positions_pb2

#: A receiving channel that does not grow its flow-control window.
SMALL_WINDOW = [("grpc.http2.bdp_probe", 0), ("grpc.max_receive_message_length", 1 << 26)]


def text(words: str) -> messages_pb2.TextMessage:
    return messages_pb2.TextMessage(text=words, language="en")


@pytest.mark.parametrize("hotline", [AIR, GROUND, GENERALS])
async def test_a_message_reaches_the_other_party_and_its_answers_come_back(
    server: Harness, hotline: common_pb2.Hotline.ValueType
) -> None:
    async with server.station("BLUE", hotline) as blue, server.station("RED", hotline) as red:
        sent = await blue.send(text("Strike package at 0600Z"), common_pb2.PRIORITY_IMMEDIATE)
        assert sent.sequence >= 1

        delivery = await red.next_delivery(within=10)
        assert delivery.text.text == "Strike package at 0600Z"
        assert delivery.sequence == sent.sequence
        assert delivery.sender.party == "BLUE"
        assert delivery.hotline == hotline
        assert delivery.HasField("recorded_at")

        receipt = await expect(blue, is_ack(sent.message_id, acknowledgments_pb2.ACK_KIND_RECEIPT))
        assert receipt.acknowledgment.responder.party == "RED"

        await red.acknowledge(delivery, acknowledgments_pb2.ACK_KIND_WILCO)
        wilco = await expect(blue, is_ack(sent.message_id, acknowledgments_pb2.ACK_KIND_WILCO))
        assert not wilco.acknowledgment.HasField("lateness")


async def test_hotlines_are_separate(server: Harness) -> None:
    async with (
        server.station("RED", AIR) as red_air,
        server.station("RED", GROUND) as red_ground,
        server.station("BLUE", GROUND) as blue_ground,
        server.station("BLUE", AIR) as blue_air,
    ):
        await blue_ground.send(text("moving east of the river"))
        delivery = await red_ground.next_delivery(within=10)
        assert delivery.text.text == "moving east of the river"
        # Deliveries come in the order recorded: had the GROUND message reached AIR, it
        # would come before this later one.
        await blue_air.send(text("holding west of the river"))
        first_on_air = await red_air.next_delivery(within=10)
        assert first_on_air.text.text == "holding west of the river"


async def test_deliveries_arrive_in_the_order_recorded(server: Harness) -> None:
    async with server.station("BLUE", AIR) as blue, server.station("RED", AIR) as red:
        results = await asyncio.gather(*(blue.send(text(f"report {i}")) for i in range(200)))
        sequences = [r.sequence for r in results]
        assert sorted(sequences) == list(range(min(sequences), min(sequences) + 200))
        received = [await red.next_delivery(within=10) for _ in range(200)]
        assert [d.sequence for d in received] == sorted(sequences)
        by_sequence = {r.sequence: r.message_id for r in results}
        assert [d.message_id for d in received] == [by_sequence[s] for s in sorted(sequences)]


async def test_a_retried_send_takes_effect_once(server: Harness) -> None:
    async with server.station("BLUE", AIR) as blue, server.station("RED", AIR) as red:
        first = await blue.send(text("once"), message_id="blue-0001")
        again = await blue.send(text("once"), message_id="blue-0001")
        assert not first.duplicate
        assert again.duplicate
        assert again.sequence == first.sequence
        assert (await red.next_delivery(within=10)).message_id == "blue-0001"
        await blue.send(text("next"), message_id="blue-0002")
        assert (await red.next_delivery(within=10)).message_id == "blue-0002"

        # Another station may not reuse the id for a different message.
        with pytest.raises(Refused) as refused:
            await red.send(text("mine"), message_id="blue-0001")
        assert refused.value.code.name == "ALREADY_EXISTS"


async def test_position_reports_need_only_a_receipt(server: Harness) -> None:
    async with server.station("BLUE", AIR) as blue, server.station("RED", AIR) as red:
        unit = positions_pb2.UnitPosition(
            unit_id="VIPER11",
            callsign="VIPER 11",
            domain=common_pb2.DOMAIN_AIR,
            latitude=35.336,
            longitude=40.141,
            altitude_m=6000,
            course_deg=90,
            speed_mps=220,
        )
        unit.observed_at.GetCurrentTime()
        sent = await blue.send(positions_pb2.PositionReport(positions=[unit]))
        delivery = await red.next_delivery(within=10)
        assert delivery.position_report.positions[0].unit_id == "VIPER11"
        with pytest.raises(Refused) as refused:
            await red.acknowledge(delivery, acknowledgments_pb2.ACK_KIND_WILCO)
        assert refused.value.code.name == "FAILED_PRECONDITION"
        assert "only a RECEIPT" in refused.value.detail
        await expect(blue, is_ack(sent.message_id, acknowledgments_pb2.ACK_KIND_RECEIPT))


async def test_primary_and_standby_both_see_it_and_the_first_answer_counts(
    server: Harness,
) -> None:
    async with (
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as primary,
        server.station("RED", AIR, standby=True) as standby,
    ):
        sent = await blue.send(text("confirm deconfliction line"))
        on_primary = await primary.next_delivery(within=10)
        on_standby = await standby.next_delivery(within=10)
        assert on_primary.message_id == on_standby.message_id == sent.message_id

        await standby.acknowledge(on_standby, acknowledgments_pb2.ACK_KIND_ROGER)
        with pytest.raises(Refused) as refused:
            await primary.acknowledge(on_primary, acknowledgments_pb2.ACK_KIND_WILCO)
        assert refused.value.code.name == "FAILED_PRECONDITION"
        assert "first answer counts" in refused.value.detail
        roger = await expect(blue, is_ack(sent.message_id, acknowledgments_pb2.ACK_KIND_ROGER))
        assert roger.acknowledgment.responder.party == "RED"


async def test_flash_overtakes_queued_routine_traffic(server: Harness) -> None:
    # RED's console takes deliveries only as fast as its operator reads them, so while
    # the operator is busy the backlog builds up on the server.
    async with (
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR, max_queued=2, channel_options=SMALL_WINDOW) as red,
    ):
        # More than the transport buffers between the two (several MB on loopback).
        bulk = "x" * 7000
        count = 600
        routine = [asyncio.create_task(blue.send(text(f"{i} {bulk}"))) for i in range(count)]
        await asyncio.gather(*routine)
        stop = await blue.send(messages_pb2.StopRequest(reason="you are hitting our people"))
        received = [await red.next_delivery(within=30) for _ in range(count + 1)]
        position = [d.message_id for d in received].index(stop.message_id)
        assert received[position].stop_request.reason == "you are hitting our people"
        # It was recorded last, yet it did not wait behind the queued routine traffic.
        assert stop.sequence == max(d.sequence for d in received)
        assert position < count
