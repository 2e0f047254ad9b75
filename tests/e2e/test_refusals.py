"""Bad input and spoofing get a precise status; everybody else keeps being served."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from hotline.cli import main
from hotline.client import HotlineClient, Refused, envelope
from hotline.contract import timestamp
from hotline.testing.harness import AIR, GENERALS, Harness
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    log_pb2,
    messages_pb2,
    positions_pb2,
    services_pb2,
    zones_pb2,
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


async def test_a_station_cannot_say_which_seat_answered(server: Harness) -> None:
    # The seat is the server's to record, from the credential the answer came with.
    async with HotlineClient(server.address, server.token("RED", AIR)) as red:
        ack = acknowledgments_pb2.Acknowledgment(
            message_id="any", kind=acknowledgments_pb2.ACK_KIND_WILCO
        )
        ack.operator = common_pb2.OPERATOR_STANDBY
        error = await refused(red, envelope(common_pb2.StationRef(party="RED", hotline=AIR), ack))
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "operator are set by the server" in error.detail


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


# ---------------------------------------------------------------- values out of range

SESSION = "/hotline.v1.StationService/Session"
SEND = "/hotline.v1.StationService/Send"
#: A nanosecond count past a second, a negative one, and seconds past 9999-12-31.
BAD_STAMPS = (
    (0, 1_000_000_000, "nanos: 1000000000 is outside [0, 999999999]"),
    (0, -1, "nanos: -1 is outside [0, 999999999]"),
    (253_402_300_800, 0, "seconds: 253402300800 is outside"),
)


def circle() -> zones_pb2.Geometry:
    center = common_pb2.LatLon(latitude=35.3, longitude=40.1)
    return zones_pb2.Geometry(circle=zones_pb2.Circle(center=center, radius_m=5000))


def bad_window_bodies(seconds: int, nanos: int) -> list[tuple[envelope_pb2.Envelope, str]]:
    """Zone windows and activity notice windows with the stamp given, and the field."""
    bad = Timestamp(seconds=seconds, nanos=nanos)
    zone = zones_pb2.Zone(
        zone_id="ROZ-1", kind=zones_pb2.ZONE_KIND_RESTRICTED_OPERATIONS_ZONE, geometry=circle()
    )
    starting = zones_pb2.Zone()
    starting.CopyFrom(zone)
    starting.effective_from.CopyFrom(bad)
    ending = zones_pb2.Zone()
    ending.CopyFrom(zone)
    ending.effective_from.GetCurrentTime()
    ending.effective_until.CopyFrom(bad)
    notice = messages_pb2.ActivityNotice(
        activity=messages_pb2.ACTIVITY_TYPE_STRIKE, area=circle(), window_end=timestamp()
    )
    notice.window_start.CopyFrom(bad)
    return [
        (
            envelope(BLUE_AIR, zones_pb2.ZoneProposal(zone=starting)),
            "zone_proposal.zone.effective_from",
        ),
        (envelope(BLUE_AIR, zones_pb2.ZoneUpdate(zone=ending)), "zone_update.zone.effective_until"),
        (envelope(BLUE_AIR, notice), "activity_notice.window_start"),
    ]


@contextlib.asynccontextmanager
async def raw_session(
    server: Harness, request: services_pb2.SessionRequest | bytes | None = None
) -> AsyncIterator[Any]:
    """BLUE/AIR_OPERATIONS' session through a bare stub (bytes in, bytes out), opened
    with ``request``."""
    async with grpc.aio.insecure_channel(server.address) as channel:
        session: Any = channel.stream_stream(SESSION)
        call = session(metadata=(("authorization", f"Bearer {server.token('BLUE', AIR)}"),))
        opening = services_pb2.SessionRequest(open=services_pb2.SessionOpen())
        first = request if request is not None else opening
        await call.write(first if isinstance(first, bytes) else first.SerializeToString())
        yield call
        call.cancel()


async def results_of(call: Any, count: int) -> list[services_pb2.SendResult]:
    results: list[services_pb2.SendResult] = []
    async with asyncio.timeout(10):
        while len(results) < count:
            response = services_pb2.SessionResponse.FromString(await call.read())
            results += response.results.results
    return results


@pytest.mark.parametrize(("seconds", "nanos", "names"), BAD_STAMPS)
async def test_windows_out_of_range_are_refused_and_the_session_goes_on(
    server: Harness, seconds: int, nanos: int, names: str
) -> None:
    async with raw_session(server) as call:
        opened = services_pb2.SessionResponse.FromString(await call.read())
        assert opened.WhichOneof("response") == "opened"
        for bad, field in bad_window_bodies(seconds, nanos):
            good = text_envelope("after the bad one")
            batch = services_pb2.EnvelopeBatch(envelopes=[bad, good])
            await call.write(services_pb2.SessionRequest(envelopes=batch).SerializeToString())
            refused_one, accepted = await results_of(call, 2)
            assert refused_one.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
            assert refused_one.error.startswith(f"{field}.{names}")
            assert accepted.message_id == good.message_id
            assert accepted.sequence > 0
            assert not accepted.code


def with_stamp(seconds: int, nanos: int) -> list[tuple[envelope_pb2.Envelope, str]]:
    """sent_at, occurred_at and observed_at set to the stamp given, and the field."""
    bad = Timestamp(seconds=seconds, nanos=nanos)
    sent = text_envelope()
    sent.sent_at.CopyFrom(bad)
    incident = messages_pb2.IncidentReport(description="shots fired", occurred_at=bad)
    unit = positions_pb2.UnitPosition(
        unit_id="U1", domain=common_pb2.DOMAIN_GROUND, latitude=35.3, longitude=40.1
    )
    unit.observed_at.CopyFrom(bad)
    return [
        (sent, "sent_at"),
        (envelope(BLUE_AIR, incident), "incident_report.occurred_at"),
        (
            envelope(BLUE_AIR, positions_pb2.PositionReport(positions=[unit])),
            "position_report.positions[0].observed_at",
        ),
    ]


@pytest.mark.parametrize(("seconds", "nanos", "names"), BAD_STAMPS)
async def test_times_out_of_range_are_refused_and_never_recorded(
    server: Harness, seconds: int, nanos: int, names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = with_stamp(seconds, nanos)
    async with HotlineClient(server.address, server.token("BLUE", AIR)) as blue:
        for bad, field in cases:
            error = await refused(blue, bad)
            assert error.code == grpc.StatusCode.INVALID_ARGUMENT
            assert error.detail.startswith(f"{field}.{names}")
        await blue.send(text_envelope("a good one"))
    async with server.control() as control:
        await refusals_logged(control, len(cases))
    # The log reads back in full: every record shown, as JSON.
    with pytest.raises(SystemExit) as shown:
        await asyncio.to_thread(
            main, ["audit", "show", str(server.data_dir / "hotline.sqlite"), "--json"]
        )
    assert shown.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    kinds = [json.loads(line)["kind"] for line in lines]
    assert kinds.count("RECORD_KIND_REQUEST_REFUSED") == len(cases)
    assert kinds.count("RECORD_KIND_ENVELOPE") == 1


@pytest.mark.parametrize("sequence", [2**63, 2**64 - 1])
async def test_a_resume_past_any_sequence_is_refused(server: Harness, sequence: int) -> None:
    opening = services_pb2.SessionRequest(
        open=services_pb2.SessionOpen(resume_after_sequence=sequence)
    )
    async with raw_session(server, opening) as call:
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await call.read()
    assert ended.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (ended.value.details() or "").startswith(f"open.resume_after_sequence: {sequence}")


async def test_a_watch_resumed_past_any_index_is_refused(server: Harness) -> None:
    async with server.control() as control:
        with pytest.raises(Refused) as caught:
            async for _ in control.watch(resume_after_index=2**64 - 1):
                pass
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.detail.startswith("resume_after_index: 18446744073709551615")


# ---------------------------------------------------------------- undecodable requests

GARBAGE = b"\xff\xff\xff\xff"


async def test_undecodable_sends_are_invalid_and_recorded(server: Harness) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        send: Any = channel.unary_unary(SEND)
        metadata = (("authorization", f"Bearer {server.token('BLUE', AIR)}"),)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await send(GARBAGE, metadata=metadata)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a hotline.v1.SendRequest" in (caught.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await send(GARBAGE)
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    async with server.control() as control:
        station, unknown = await refusals_logged(control, 2)
    assert station.refused_request.code == "INVALID_ARGUMENT"
    assert station.refused_request.method == "Send"
    assert station.actor == "BLUE/AIR_OPERATIONS"
    assert unknown.refused_request.code == "UNAUTHENTICATED"
    assert unknown.actor == "anonymous"


@pytest.mark.parametrize("opened_first", [False, True])
async def test_an_undecodable_session_message_ends_the_session_precisely(
    server: Harness, opened_first: bool
) -> None:
    async with raw_session(server, None if opened_first else GARBAGE) as call:
        if opened_first:
            opened = services_pb2.SessionResponse.FromString(await call.read())
            assert opened.WhichOneof("response") == "opened"
            await call.write(GARBAGE)
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await call.read()
    assert ended.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a hotline.v1.SessionRequest" in (ended.value.details() or "")
    async with server.control() as control:
        (logged,) = await refusals_logged(control, 1)
    assert logged.refused_request.method == "Session"
    assert logged.actor == "BLUE/AIR_OPERATIONS"
    # The station itself is served as before.
    async with server.station("BLUE", AIR) as blue:
        assert (await blue.send(messages_pb2.TextMessage(text="back"))).sequence > 0


SUPPRESSED = re.compile(r"(\d+) more refusals? of .* not recorded one by one")


async def test_a_flood_of_garbage_is_recorded_in_bounded_form(server: Harness) -> None:
    """Every refusal is answered; the log holds some one by one and counts the rest."""
    flood = 200
    async with grpc.aio.insecure_channel(server.address) as channel:
        send: Any = channel.unary_unary(SEND)
        metadata = (("authorization", f"Bearer {server.token('BLUE', AIR)}"),)

        async def one() -> grpc.StatusCode:
            try:
                await send(GARBAGE, metadata=metadata)
            except grpc.aio.AioRpcError as error:
                return error.code()
            return grpc.StatusCode.OK

        codes = await asyncio.gather(*(one() for _ in range(flood)))
    assert set(codes) == {grpc.StatusCode.INVALID_ARGUMENT}
    accounted = 0
    records = 0
    async with server.control() as control, asyncio.timeout(20):
        async for record in control.watch(resume_after_index=0):
            if record.kind != log_pb2.RECORD_KIND_REQUEST_REFUSED:
                continue
            records += 1
            more = SUPPRESSED.search(record.refused_request.detail)
            accounted += 1 + (int(more.group(1)) if more else 0)
            if accounted >= flood:
                break
    assert accounted == flood
    assert records < flood
