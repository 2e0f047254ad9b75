"""``ReplayService`` end to end: a real server records an exercise through the real API,
exercise control leaves bookmarks (live, about a record, about a moment), then replays
the server's own log over gRPC and steers it while it plays.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from hotline.client import (
    CHANNEL_OPTIONS,
    HotlineClient,
    Refused,
    ReplayEvent,
    ReplaySession,
    StationClient,
)
from hotline.server.replay import recorded_at
from hotline.testing.harness import AIR, Harness, expect
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    log_pb2,
    messages_pb2,
    services_pb2,
    services_pb2_grpc,
)

PATIENCE_S = 15.0


def is_message(message_id: str) -> Callable[[envelope_pb2.Envelope], bool]:
    return lambda envelope: envelope.message_id == message_id


def answers(message_id: str) -> Callable[[envelope_pb2.Envelope], bool]:
    return lambda envelope: envelope.acknowledgment.message_id == message_id


@dataclass
class Recorded:
    """What the exercise left in the log."""

    size: int
    live_note: int  # the "first-strike" bookmark, set live: marks its own record
    marker: int  # a plain note; the "marker" bookmark is about it (about_index)
    moment: float  # just before the second strike; the "second-strike" bookmark's moment


async def record_exercise(server: Harness) -> Recorded:
    """BLUE pre-notifies two strikes to RED, who answers; exercise control bookmarks.
    Returns once the stations' disconnections are recorded: the log is then still."""
    async with server.control() as control:
        async with server.station("BLUE", AIR) as blue, server.station("RED", AIR) as red:
            marks = await _exchange(blue, red, control)
        async with asyncio.timeout(PATIENCE_S):
            status = await control.status()
            while any(station.online for station in status.stations):
                await asyncio.sleep(0.05)
                status = await control.status()
    return Recorded(status.log_size, *marks)


async def _exchange(
    blue: StationClient, red: StationClient, control: HotlineClient
) -> tuple[int, int, float]:
    sent = await blue.send(
        messages_pb2.TextMessage(text="Strike at grid 37S DV 1"), common_pb2.PRIORITY_IMMEDIATE
    )
    delivery = await expect(red, is_message(sent.message_id))
    await red.acknowledge(delivery, acknowledgments_pb2.ACK_KIND_WILCO)
    await expect(blue, answers(sent.message_id))
    live_note = await control.annotate("first strike answered", bookmark="first-strike")
    marker = await control.annotate("before the second strike")
    moment = Timestamp()
    moment.GetCurrentTime()
    sent = await blue.send(messages_pb2.TextMessage(text="Strike at grid 37S DV 2"))
    await expect(red, is_message(sent.message_id))
    # Written after the fact, about what happened.
    await control.annotate("", bookmark="marker", about_index=marker)
    await control.annotate("", bookmark="second-strike", about_time=moment)
    return live_note, marker, moment.seconds + moment.nanos / 1e9


@pytest.fixture
async def recorded(server: Harness) -> Recorded:
    return await record_exercise(server)


class Stream:
    """The events of a replay, read one at a time with a deadline."""

    def __init__(self, session: ReplaySession) -> None:
        self._events: AsyncIterator[ReplayEvent] = aiter(session)

    async def next(self) -> ReplayEvent:
        async with asyncio.timeout(PATIENCE_S):
            return await anext(self._events)

    async def state(self) -> services_pb2.ReplayState:
        event = await self.next()
        assert isinstance(event, services_pb2.ReplayState), event
        return event

    async def until_finished(self) -> tuple[list[log_pb2.LogRecord], int]:
        """The records played until the end, and the count ReplayFinished gave."""
        played: list[log_pb2.LogRecord] = []
        while True:
            event = await self.next()
            if isinstance(event, services_pb2.ReplayFinished):
                with pytest.raises(StopAsyncIteration):
                    await self.next()
                return played, event.records
            if isinstance(event, services_pb2.ReplayedRecord):
                played.append(event.record)

    async def after_control(self, records: int) -> tuple[services_pb2.ReplayState, list[int]]:
        """The state a control was answered with and the ``records`` it played (the
        two come from different tasks, in either order)."""
        state: services_pb2.ReplayState | None = None
        played: list[int] = []
        while state is None or len(played) < records:
            event = await self.next()
            if isinstance(event, services_pb2.ReplayState):
                assert state is None, f"a second state before {records} records: {event}"
                state = event
            elif isinstance(event, services_pb2.ReplayedRecord):
                played.append(event.record.index)
            else:
                pytest.fail(f"unexpected {event}")
        return state, played


async def everything(control: HotlineClient) -> list[log_pb2.LogRecord]:
    async with control.replay(services_pb2.ReplayStart(speed=0)) as session:
        records, _ = await Stream(session).until_finished()
    return records


async def test_the_whole_log_is_replayed_in_order_with_its_bookmarks(
    server: Harness, recorded: Recorded
) -> None:
    async with server.control() as control:
        session = control.replay(services_pb2.ReplayStart(speed=0))
        async with session:
            stream = Stream(session)
            state = await stream.state()
            assert (state.paused, state.speed, state.next_index) == (False, 0.0, 0)
            records, count = await stream.until_finished()
    assert [r.index for r in records] == list(range(recorded.size))
    assert count == recorded.size
    assert records[0].kind == log_pb2.RECORD_KIND_EXERCISE_STARTED
    texts = [r.envelope.text.text for r in records if r.envelope.HasField("text")]
    assert texts == ["Strike at grid 37S DV 1", "Strike at grid 37S DV 2"]
    # The second strike's bookmark marks the first record at or after its moment.
    second = next(r.index for r in records if recorded_at(r) >= recorded.moment)
    assert dict(state.bookmarks) == {
        "first-strike": recorded.live_note,
        "marker": recorded.marker,
        "second-strike": second,
    }
    assert session.finished is not None
    assert session.finished.records == recorded.size


async def test_pause_step_speed_jump_and_seek_steer_the_replay_while_it_plays(
    server: Harness, recorded: Recorded
) -> None:
    async with server.control() as control:
        log = await everything(control)
        async with control.replay(services_pb2.ReplayStart(speed=1, paused=True)) as session:
            stream = Stream(session)
            state = await stream.state()
            assert (state.paused, state.speed, state.next_index) == (True, 1.0, 0)

            await session.step()
            state, played = await stream.after_control(records=1)
            assert played == [0]
            assert state.paused

            await session.faster()
            assert (await stream.state()).speed == 2.0
            await session.slower()
            await session.slower()
            assert (await stream.state()).speed == 1.0
            assert (await stream.state()).speed == 0.5

            await session.jump("marker")
            state, _ = await stream.after_control(records=0)
            assert (state.paused, state.next_index) == (True, recorded.marker)
            await session.step()
            _, played = await stream.after_control(records=1)
            assert played == [recorded.marker]
            assert log[recorded.marker].annotation.text == "before the second strike"

            # Backwards, to the bookmark set live, then a step past it.
            await session.jump("first-strike")
            await stream.after_control(records=0)
            await session.step()
            _, played = await stream.after_control(records=1)
            assert played == [recorded.live_note]

            await session.seek(2)
            state, _ = await stream.after_control(records=0)
            assert state.next_index == 2
            await session.set_speed(0)
            assert (await stream.state()).speed == 0.0
            await session.resume()
            _, first = await stream.after_control(records=0)
            records, count = await stream.until_finished()
    assert [*first, *(r.index for r in records)] == list(range(2, recorded.size))
    assert count == 3 + recorded.size - 2


async def test_a_station_may_not_replay_but_an_observer_may(
    server: Harness, recorded: Recorded
) -> None:
    async with HotlineClient(server.address, server.token("BLUE", AIR)) as station:
        with pytest.raises(Refused) as refused:
            async with station.replay() as session:
                await Stream(session).next()
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "replaying the exercise is for exercise control and observers" in refused.value.detail

    observer = server.role_token(common_pb2.ROLE_OBSERVER)
    async with HotlineClient(server.address, observer) as client:
        assert len(await everything(client)) >= recorded.size


@pytest.mark.parametrize(
    ("control", "code", "words"),
    [
        (
            services_pb2.ReplayControl(jump_to_bookmark="no-such-mark"),
            grpc.StatusCode.NOT_FOUND,
            ["jump_to_bookmark", "no-such-mark", "first-strike"],
        ),
        (
            services_pb2.ReplayControl(seek_to_index=1_000_000),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["control.seek_to_index:", "1000000"],
        ),
        (
            services_pb2.ReplayControl(command=services_pb2.REPLAY_COMMAND_UNSPECIFIED),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["control.command:"],
        ),
    ],
    ids=["unknown-bookmark", "seek-past-end", "no-command"],
)
async def test_a_control_that_cannot_be_applied_is_refused_and_the_replay_goes_on(
    server: Harness,
    recorded: Recorded,
    control: services_pb2.ReplayControl,
    code: grpc.StatusCode,
    words: list[str],
) -> None:
    async with (
        server.control() as client,
        client.replay(services_pb2.ReplayStart(paused=True)) as session,
    ):
        stream = Stream(session)
        assert not (await stream.state()).HasField("refused")
        await session.seek(3)
        await stream.state()
        await session.send(control)
        state = await stream.state()
        assert state.refused.code == code.value[0]
        for word in words:
            assert word in state.refused.message
        assert (state.paused, state.next_index) == (True, 3)
        # The replay goes on from where it stood.
        await session.step()
        after, played = await stream.after_control(1)
        assert played == [3]
        assert not after.HasField("refused")


async def refusal(server: Harness, *requests: services_pb2.ReplayRequest) -> grpc.aio.AioRpcError:
    """The status a replay ends with after ``requests``, sent on a bare stub."""
    token = server.role_token(common_pb2.ROLE_EXERCISE_CONTROL)
    async with grpc.aio.insecure_channel(server.address, options=CHANNEL_OPTIONS) as channel:
        call = services_pb2_grpc.ReplayServiceStub(channel).Replay(
            metadata=(("authorization", f"Bearer {token}"),)
        )
        for request in requests:
            await call.write(request)
        await call.done_writing()
        async with asyncio.timeout(PATIENCE_S):
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await _drain(call)
    return failed.value


async def _drain(call: AsyncIterable[services_pb2.ReplayResponse]) -> None:
    async for _ in call:
        pass


@pytest.mark.parametrize(
    ("requests", "field"),
    [
        (
            [services_pb2.ReplayRequest(control=services_pb2.ReplayControl(seek_to_index=1))],
            "start:",
        ),
        ([], "start:"),
        ([services_pb2.ReplayRequest(start=services_pb2.ReplayStart(speed=-1))], "start.speed:"),
        (
            [services_pb2.ReplayRequest(start=services_pb2.ReplayStart(hotlines=[99]))],  # type: ignore[list-item]
            "start.hotlines[0]:",
        ),
    ],
    ids=["control-first", "nothing", "negative-speed", "unknown-hotline"],
)
async def test_a_replay_without_a_valid_start_is_refused_naming_the_field(
    server: Harness, requests: list[services_pb2.ReplayRequest], field: str
) -> None:
    failed = await refusal(server, *requests)
    assert failed.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (failed.details() or "").startswith(field)
