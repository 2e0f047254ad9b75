"""Line tests, LINE_DOWN / LINE_RESTORED, STATION_OFFLINE, suspension by exercise control."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from hotline.client import HotlineClient, Refused
from hotline.server.exercise import Policy, default_exercise
from hotline.testing.harness import AIR, SHORT, Harness, expect, is_alert, running_server
from hotline.v1 import acknowledgments_pb2, log_pb2, messages_pb2

A = acknowledgments_pb2


@pytest.fixture
async def tested_lines(tmp_path: Path) -> AsyncIterator[Harness]:
    policy = Policy(deadlines=SHORT.deadlines, line_test_interval=0.5, line_test_receipt=0.3)
    async with running_server(tmp_path / "data", default_exercise(policy)) as harness:
        yield harness


async def test_a_station_that_misses_a_line_test_is_down_until_it_answers(
    tested_lines: Harness,
) -> None:
    server = tested_lines
    async with server.station("BLUE", AIR) as blue:
        down = await expect(blue, is_alert(A.ALERT_KIND_LINE_DOWN))
        assert down.alert.station.party == "RED"
        async with server.control() as control:
            status = await control.status()
            red = next(
                s for s in status.stations
                if s.station.ref.party == "RED" and s.station.ref.hotline == AIR
            )  # fmt: skip
            assert not red.line_up

        async with server.station("RED", AIR) as red_station:
            test = await expect(red_station, lambda e: e.WhichOneof("body") == "line_test")
            assert not test.sender.party  # sent by the server
            restored = await expect(blue, is_alert(A.ALERT_KIND_LINE_RESTORED))
            assert restored.alert.station.party == "RED"


async def test_a_station_whose_last_console_drops_is_reported_offline(server: Harness) -> None:
    async with server.station("BLUE", AIR) as blue:
        async with server.station("RED", AIR), server.station("RED", AIR, standby=True):
            pass
        offline = await expect(blue, is_alert(A.ALERT_KIND_STATION_OFFLINE))
        assert offline.alert.station.party == "RED"
    # Only once, when the last of RED's two consoles went: the log up to this alert holds
    # both disconnections and no other STATION_OFFLINE.
    log = await records_until(server, offline.message_id)
    disconnected = [r for r in log if r.kind == log_pb2.RECORD_KIND_STATION_DISCONNECTED]
    assert [r.station_session.station.party for r in disconnected] == ["RED", "RED"]
    assert [r.index for r in log if is_alert(A.ALERT_KIND_STATION_OFFLINE)(r.envelope)] == [
        log[-1].index
    ]


async def records_until(server: Harness, message_id: str) -> list[log_pb2.LogRecord]:
    """The log from its start to the record of the envelope ``message_id``."""
    seen: list[log_pb2.LogRecord] = []
    async with server.control() as control, asyncio.timeout(10):
        async for record in control.watch(resume_after_index=0):
            seen.append(record)
            if record.envelope.message_id == message_id:
                return seen
    raise AssertionError(f"the log ended before {message_id}")


async def test_exercise_control_suspends_and_resumes_a_hotline(server: Harness) -> None:
    async with server.station("BLUE", AIR) as blue, server.control() as control:
        await control.suspend(AIR, "political decision")
        with pytest.raises(Refused) as refused:
            await blue.send(messages_pb2.TextMessage(text="hello?"))
        assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "suspended" in refused.value.detail
        await control.resume(AIR)
        assert (await blue.send(messages_pb2.TextMessage(text="back"))).sequence > 0


async def test_participants_cannot_steer_the_exercise(server: Harness) -> None:
    async with HotlineClient(server.address, server.token("BLUE", AIR)) as participant:
        with pytest.raises(Refused) as refused:
            await participant.suspend(AIR, "no")
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(Refused) as watching:
            await anext(aiter(participant.watch()))
        assert watching.value.code == grpc.StatusCode.PERMISSION_DENIED
