"""A console that drops and comes back gets exactly what it missed: no gap, no duplicate."""

from __future__ import annotations

import asyncio
import socket
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from hotline.client import HotlineClient
from hotline.testing.harness import AIR, Harness, expect, running_server
from hotline.v1 import acknowledgments_pb2, log_pb2, messages_pb2


def text(words: str) -> messages_pb2.TextMessage:
    return messages_pb2.TextMessage(text=words, language="en")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_resuming_after_a_sequence_number_delivers_exactly_what_was_missed(
    server: Harness,
) -> None:
    async with server.station("BLUE", AIR) as blue:
        async with server.station("RED", AIR) as red:
            for i in range(3):
                await blue.send(text(f"before {i}"))
            seen = [await red.next_delivery(within=10) for _ in range(3)]
            last = red.last_sequence
            assert last == seen[-1].sequence

        missed = [await blue.send(text(f"while away {i}")) for i in range(5)]

        async with server.station("RED", AIR, resume_after=last) as red:
            again = [await red.next_delivery(within=10) for _ in range(5)]
            assert [d.message_id for d in again] == [m.message_id for m in missed]
            assert [d.text.text for d in again] == [f"while away {i}" for i in range(5)]
            # Nothing twice: the next text is one sent after the resumption.
            after = await blue.send(text("after"))
            following = await expect(red, lambda e: e.WhichOneof("body") == "text")
            assert following.message_id == after.message_id


async def test_the_client_reconnects_by_itself_across_a_server_restart(tmp_path: Path) -> None:
    listen = f"127.0.0.1:{free_port()}"
    data = tmp_path / "data"
    async with AsyncExitStack() as clients:
        async with running_server(data, listen=listen) as first:
            red = await clients.enter_async_context(first.station("RED", AIR))
            async with first.station("BLUE", AIR) as blue:
                before = [await blue.send(text(f"before {i}")) for i in range(3)]
            got = [await red.next_delivery(within=10) for _ in range(3)]
            assert [d.message_id for d in got] == [m.message_id for m in before]

        # The server is gone; RED's client keeps trying. A new server on the same log:
        async with running_server(data, listen=listen) as second:
            async with second.station("BLUE", AIR) as blue:
                after = [await blue.send(text(f"after {i}")) for i in range(4)]
            # Besides the texts, RED hears each time BLUE's console goes offline.
            texts: list[str] = []
            while len(texts) < 4:
                delivery = await red.next_delivery(within=15)
                if delivery.WhichOneof("body") == "text":
                    texts.append(delivery.message_id)
                else:
                    assert delivery.alert.kind == acknowledgments_pb2.ALERT_KIND_STATION_OFFLINE
            assert texts == [m.message_id for m in after]
            assert red.sessions_opened == 2
            with pytest.raises(TimeoutError):
                await expect(red, lambda e: e.WhichOneof("body") == "text", within=0.5)


async def test_watchers_joining_while_traffic_flows_see_every_record_once_in_order(
    server: Harness,
) -> None:
    texts, joins = 120, (0, 15, 40, 80)
    last_id = f"text-{texts - 1}"
    sent = 0
    reached = {at: asyncio.Event() for at in joins}

    async def watch(control: HotlineClient, join_at: int, after: int) -> list[int]:
        await reached[join_at].wait()
        indices: list[int] = []
        async for record in control.watch(resume_after_index=after):
            indices.append(record.index)
            if (
                record.kind == log_pb2.RECORD_KIND_ENVELOPE
                and record.envelope.message_id == last_id
            ):
                return indices
        raise AssertionError("the watch ended")

    async with (
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR),
        server.control() as control,
        asyncio.timeout(60),
        asyncio.TaskGroup() as tasks,
    ):
        # Some watchers start from the beginning, some from a record of their choice.
        watchers = [
            tasks.create_task(watch(control, at, after=0 if i % 2 else 5))
            for i, at in enumerate(joins)
        ]
        reached[0].set()
        for sent in range(texts):
            await blue.send(text(f"report {sent}"), message_id=f"text-{sent}")
            if sent + 1 in reached:
                reached[sent + 1].set()

    for i, task in enumerate(watchers):
        indices = task.result()
        first = 1 if i % 2 else 6
        assert indices == list(range(first, first + len(indices))), f"watcher {i}"
