"""Bad input and spoofing get a precise status; everybody else keeps being served."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from harness import AIR, GENERALS, Harness

from hotline.client.control import HotlineClient
from hotline.client.envelopes import envelope
from hotline.client.errors import Refused
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    log_pb2,
    messages_pb2,
    positions_pb2,
)

BLUE_AIR = common_pb2.StationRef(party="BLUE", hotline=AIR)


def text_envelope(
    words: str = "hello", station: common_pb2.StationRef = BLUE_AIR
) -> envelope_pb2.Envelope:
    return envelope(station, messages_pb2.TextMessage(text=words))


async def refused(client: HotlineClient, message: envelope_pb2.Envelope) -> Refused:
    with pytest.raises(Refused) as caught:
        await client.send(message)
    return caught.value


async def refusals_logged(control: HotlineClient, count: int) -> list[log_pb2.LogRecord]:
    found: list[log_pb2.LogRecord] = []
    async with asyncio.timeout(10):
        async for record in control.watch(resume_after_index=0):
            if record.kind == log_pb2.RECORD_KIND_REQUEST_REFUSED:
                found.append(record)
                if len(found) == count:
                    return found
    return found


async def test_a_station_cannot_speak_for_another_party_or_line(server: Harness) -> None:
    async with HotlineClient(server.address, server.token("BLUE", AIR)) as blue:
        as_red = text_envelope(station=common_pb2.StationRef(party="RED", hotline=AIR))
        error = await refused(blue, as_red)
        assert error.code == grpc.StatusCode.PERMISSION_DENIED
        assert "cannot send as RED" in error.detail

        on_generals = text_envelope(station=common_pb2.StationRef(party="BLUE", hotline=GENERALS))
        error = await refused(blue, on_generals)
        assert error.code == grpc.StatusCode.PERMISSION_DENIED
        assert "GENERALS" in error.detail

        alert = text_envelope()
        alert.alert.kind = acknowledgments_pb2.ALERT_KIND_ZONE_INCURSION
        error = await refused(blue, alert)
        assert error.code == grpc.StatusCode.PERMISSION_DENIED
        assert "server only" in error.detail

    async with server.control() as control:
        logged = await refusals_logged(control, 3)
        assert [r.refused_request.code for r in logged] == ["PERMISSION_DENIED"] * 3
        assert all(r.actor == "BLUE/AIR_OPERATIONS" for r in logged)


async def test_no_or_forged_credential_is_unauthenticated(server: Harness) -> None:
    for token in ("", "not-a-token", server.token("BLUE", AIR)[:-4] + "AAAA"):
        async with HotlineClient(server.address, token) as client:
            with pytest.raises(Refused) as caught:
                await client.status()
            assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("mutate", "code", "names"),
    [
        (lambda e: setattr(e, "message_id", ""), "INVALID_ARGUMENT", "message_id"),
        (lambda e: setattr(e, "priority", 17), "INVALID_ARGUMENT", "priority: unknown value 17"),
        (lambda e: e.ClearField("sent_at"), "INVALID_ARGUMENT", "sent_at"),
        (lambda e: e.ClearField("text"), "INVALID_ARGUMENT", "body"),
        (lambda e: setattr(e, "sequence", 5), "INVALID_ARGUMENT", "set by the server"),
        (lambda e: setattr(e.text, "text", "x" * 9000), "INVALID_ARGUMENT", "text.text"),
        (lambda e: setattr(e.text, "translation", "y" * 70000), "RESOURCE_EXHAUSTED", "limit"),
    ],
)
async def test_malformed_envelopes_are_refused_naming_the_field(
    server: Harness, mutate: object, code: str, names: str
) -> None:
    async with HotlineClient(server.address, server.token("BLUE", AIR)) as blue:
        message = text_envelope()
        mutate(message)  # type: ignore[operator]
        error = await refused(blue, message)
        assert error.code.name == code
        assert names in error.detail


@pytest.mark.parametrize(
    ("latitude", "longitude", "names"),
    [
        (95.0, 40.0, "latitude: 95.0 is outside [-90, 90]"),
        (35.0, 181.0, "longitude: 181.0 is outside [-180, 180]"),
        (float("nan"), 40.0, "latitude: must be a finite number"),
    ],
)
async def test_positions_out_of_range_are_refused(
    server: Harness, latitude: float, longitude: float, names: str
) -> None:
    unit = positions_pb2.UnitPosition(
        unit_id="U1", domain=common_pb2.DOMAIN_GROUND, latitude=latitude, longitude=longitude
    )
    unit.observed_at.GetCurrentTime()
    async with HotlineClient(server.address, server.token("BLUE", AIR)) as blue:
        message = envelope(BLUE_AIR, positions_pb2.PositionReport(positions=[unit]))
        error = await refused(blue, message)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert f"position_report.positions[0].{names}" in error.detail


async def test_acknowledging_an_unknown_message_is_not_found(server: Harness) -> None:
    async with HotlineClient(server.address, server.token("RED", AIR)) as red:
        ack = acknowledgments_pb2.Acknowledgment(
            message_id="no-such-message", kind=acknowledgments_pb2.ACK_KIND_WILCO
        )
        message = envelope(common_pb2.StationRef(party="RED", hotline=AIR), ack)
        error = await refused(red, message)
        assert error.code == grpc.StatusCode.NOT_FOUND
        assert "acknowledgment.message_id" in error.detail


async def test_an_oversize_stream_message_is_refused_by_the_transport(server: Harness) -> None:
    async with HotlineClient(server.address, server.token("BLUE", AIR)) as blue:
        huge = text_envelope()
        huge.text.translation = "z" * (17 * 1024 * 1024)
        error = await refused(blue, huge)
        assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_bad_input_does_not_disturb_the_other_stations(server: Harness) -> None:
    async with (
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as red,
        HotlineClient(server.address, server.token("RED", AIR)) as rogue,
    ):
        for _ in range(20):
            bad = envelope(
                common_pb2.StationRef(party="RED", hotline=AIR),
                messages_pb2.TextMessage(text=""),
            )
            await refused(rogue, bad)
        # The session stream of a station that sends garbage stays open, too.
        with pytest.raises(Refused):
            await red.send(messages_pb2.TextMessage(text=""))
        sent = await blue.send(messages_pb2.TextMessage(text="still there?"))
        delivery = await red.next_delivery(within=10)
        assert delivery.message_id == sent.message_id
        reply = await red.send(messages_pb2.TextMessage(text="yes"))
        assert reply.sequence > sent.sequence
