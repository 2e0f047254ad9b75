"""What the station client puts on the wire: each RECEIPT at once when the line is quiet,
the RECEIPTs of a burst together; each send at once while the server keeps up, the
sends made while it has not confirmed the last one together.

A scripted StationService stands in for the server, so that the stream messages the
client writes can be counted and the confirmations held back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from hotline.client import StationClient, envelope
from hotline.client import _station as station_module
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    exercise_pb2,
    messages_pb2,
    services_pb2,
    services_pb2_grpc,
)

RED = common_pb2.StationRef(party="RED", hotline=common_pb2.HOTLINE_AIR_OPERATIONS)
BLUE = common_pb2.StationRef(party="BLUE", hotline=common_pb2.HOTLINE_AIR_OPERATIONS)


@dataclass
class ScriptedStationService(services_pb2_grpc.StationServiceServicer):
    """Opens the session, then writes what the test pushes; keeps every batch of
    envelopes the client wrote, and confirms them at once only if ``confirming``."""

    confirming: bool = True
    batches: list[list[envelope_pb2.Envelope]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    outgoing: asyncio.Queue[services_pb2.SessionResponse] = field(default_factory=asyncio.Queue)

    async def Session(
        self, request_iterator: Any, context: Any
    ) -> AsyncIterator[services_pb2.SessionResponse]:
        await context.read()
        station = exercise_pb2.Station(ref=RED, name="RED air operations")
        yield services_pb2.SessionResponse(opened=services_pb2.SessionOpened(station=station))
        reading = asyncio.create_task(self._read(context))
        try:
            while True:
                yield await self.outgoing.get()
        finally:
            reading.cancel()

    async def Send(self, request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "sessions only")

    async def _read(self, context: Any) -> None:
        while isinstance(request := await context.read(), services_pb2.SessionRequest):
            if request.WhichOneof("request") != "envelopes":
                continue
            batch = list(request.envelopes.envelopes)
            self.batches.append(batch)
            self.arrived.set()
            if self.confirming:
                self.confirm(batch)

    def confirm(self, batch: list[envelope_pb2.Envelope]) -> None:
        results = [services_pb2.SendResult(message_id=e.message_id, sequence=1) for e in batch]
        response = services_pb2.SessionResponse(results=services_pb2.SendResults(results=results))
        self.outgoing.put_nowait(response)

    def deliver(self, *sequences: int) -> None:
        envelopes = [
            envelope(BLUE, messages_pb2.TextMessage(text=f"message {n}"), message_id=f"m{n}")
            for n in sequences
        ]
        for message, sequence in zip(envelopes, sequences, strict=True):
            message.sequence = sequence
        batch = services_pb2.EnvelopeBatch(envelopes=envelopes)
        self.outgoing.put_nowait(services_pb2.SessionResponse(deliveries=batch))

    async def until(self, batches: int) -> list[list[envelope_pb2.Envelope]]:
        async with asyncio.timeout(10):
            while len(self.batches) < batches:
                self.arrived.clear()
                await self.arrived.wait()
        return self.batches


@contextlib.asynccontextmanager
async def connected(service: ScriptedStationService) -> AsyncIterator[StationClient]:
    server = grpc.aio.server()
    services_pb2_grpc.add_StationServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with StationClient(f"127.0.0.1:{port}", "token") as client:
            yield client
    finally:
        await server.stop(None)


def receipts_for(batch: list[envelope_pb2.Envelope]) -> list[str]:
    assert all(e.acknowledgment.kind == acknowledgments_pb2.ACK_KIND_RECEIPT for e in batch)
    return [e.acknowledgment.message_id for e in batch]


async def test_a_receipt_goes_at_once_and_those_of_a_burst_go_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(station_module, "RECEIPT_GATHER_S", 0.5)
    service = ScriptedStationService()
    async with connected(service) as client:
        service.deliver(1)
        await client.next_delivery(within=5)
        # The line was quiet: the RECEIPT goes at once, alone.
        assert [receipts_for(b) for b in await service.until(1)] == [["m1"]]
        service.deliver(*range(2, 12))
        for _ in range(10):
            await client.next_delivery(within=5)
        # Within the gathering time of the last write: the ten go in one message.
        batches = await service.until(2)
        assert [receipts_for(b) for b in batches] == [["m1"], [f"m{n}" for n in range(2, 12)]]


async def test_sends_wait_for_the_confirmation_of_what_went_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Longer than the test may take: sends that go early can only have been confirmed.
    monkeypatch.setattr(station_module, "SEND_GATHER_S", 30.0)
    service = ScriptedStationService(confirming=False)
    async with connected(service) as client:
        first = asyncio.create_task(client.send(messages_pb2.TextMessage(text="first")))
        (alone,) = await service.until(1)
        later = [
            asyncio.create_task(client.send(messages_pb2.TextMessage(text=f"later {n}")))
            for n in range(5)
        ]
        await asyncio.sleep(0.1)
        assert len(service.batches) == 1
        service.confirm(alone)
        await first
        batches = await service.until(2)
        assert [e.text.text for e in batches[1]] == [f"later {n}" for n in range(5)]
        service.confirm(batches[1])
        results = [await task for task in later]
        assert [r.message_id for r in results] == [e.message_id for e in batches[1]]


async def test_while_the_server_keeps_up_each_send_goes_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(station_module, "SEND_GATHER_S", 30.0)
    service = ScriptedStationService()
    async with connected(service) as client:
        for n in range(5):
            await client.send(messages_pb2.TextMessage(text=f"one by one {n}"))
        assert [len(b) for b in service.batches] == [1] * 5
