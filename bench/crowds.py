"""Many clients of one server, held by a process of their own: the observers' Watch
streams of the fan-out phase, and the idle stations of the many-stations phase.

An operations room of observers, or hundreds of stations, is not the machine of the
stations being timed: reading their streams in the timing process's event loop would
delay the station whose latency is measured. ``routing.py`` starts this module as a
child process (``python bench/crowds.py watch|stations ADDRESS``) and talks to it over
its stdin and stdout, one line at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from testbed import CHANNEL_OPTIONS, GROUND, WATCH, BenchError, sent_at

from hotline.client import StationClient
from hotline.v1 import log_pb2, services_pb2

HERE = Path(__file__).resolve()


async def _stdin() -> asyncio.StreamReader:
    # A request may name hundreds of stations' tokens on one line.
    reader = asyncio.StreamReader(limit=1 << 24)
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


@contextlib.asynccontextmanager
async def _child(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _line(process: asyncio.subprocess.Process, limit: float) -> bytes:
    assert process.stdout is not None
    return await asyncio.wait_for(process.stdout.readline(), limit)


# ---------------------------------------------------------------------- watchers


class Watcher:
    """One observer's ``ExerciseService.Watch`` stream on a hotline."""

    def __init__(
        self, channel: grpc.aio.Channel, token: str, hotline: int, *, sample: bool
    ) -> None:
        # Watchers share a few connections, as the consoles of one operations room would.
        self._channel = channel
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._request = services_pb2.WatchRequest(hotlines=[hotline]).SerializeToString()  # type: ignore[list-item]  # the enum's int is what the field holds
        self.sample = sample
        self.records = 0
        self.messages = 0
        self.latencies: list[float] = []
        #: Latencies count for envelopes sent from this time on.
        self.measure_from = float("inf")
        self.ended: str | None = None
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        watch: Any = self._channel.unary_stream(WATCH)
        call = watch(self._request, metadata=self._metadata)
        try:
            async for data in call:
                self.messages += 1
                if not self.sample:
                    # Only the sampled watchers parse what they get: the load generator
                    # must not be what limits the measurement.
                    continue
                now = time.time()
                response = services_pb2.WatchResponse.FromString(data)
                self.records += len(response.records)
                for record in response.records:
                    if record.kind == log_pb2.RECORD_KIND_ENVELOPE and record.envelope.HasField(
                        "position_report"
                    ):
                        stamp = sent_at(record.envelope)
                        if stamp >= self.measure_from:
                            self.latencies.append(now - stamp)
            self.ended = "the stream ended"
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                self.ended = f"{error.code().name}: {error.details()}"

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class Observers:
    """The watchers of the fan-out phase, in their child process.

    Protocol: the child prints ``observing`` once its streams are open; a line on its
    stdin gives the time from which latencies count; end of input ends the watch, and the
    child prints what it saw as one JSON object.
    """

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.pid = process.pid

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, address: str, token: str, count: int) -> AsyncIterator[Observers]:
        async with _child("watch", address, "--watchers", str(count)) as process:
            assert process.stdin is not None
            process.stdin.write(f"{token}\n".encode())
            line = await _line(process, 60.0)
            if line.strip() != b"observing":
                raise BenchError(f"the observers did not start: {line!r}")
            yield cls(process)

    def measure_from(self, moment: float) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(f"{moment}\n".encode())

    async def result(self) -> dict[str, Any]:
        process = self._process
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.close()
        out = await asyncio.wait_for(process.stdout.read(), 60.0)
        await process.wait()
        result: dict[str, Any] = json.loads(out)
        return result


async def observe(address: str, count: int) -> None:
    """The ``watch`` child: ``count`` Watch streams on the ground commanders' hotline over
    10 connections; every 20th parses and times what it gets."""
    reader = await _stdin()
    token = (await reader.readline()).decode().strip()
    channels = [grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) for _ in range(10)]
    watchers = [
        Watcher(channels[i % len(channels)], token, GROUND, sample=i % 20 == 0)
        for i in range(count)
    ]
    await asyncio.sleep(2.0)
    gc.freeze()
    print("observing", flush=True)
    moment = float((await reader.readline()).decode())
    started = time.perf_counter()
    for watcher in watchers:
        watcher.measure_from = moment
    await reader.read()
    seconds = time.perf_counter() - started
    for watcher in watchers:
        await watcher.close()
    for channel in channels:
        await channel.close()
    sampled = [w for w in watchers if w.sample]
    result = {
        "sampled": len(sampled),
        "latencies": [lat for w in sampled for lat in w.latencies],
        # Every watcher gets the same records; the sampled ones count them.
        "records": sum(w.records for w in sampled) * count / max(len(sampled), 1),
        "messages": sum(w.messages for w in watchers),
        "seconds": seconds,
        "ended": [w.ended for w in watchers if w.ended],
    }
    print(json.dumps(result), flush=True)


# ---------------------------------------------------------------------- idle stations


class Crowd:
    """Idle stations in their child process: each a :class:`StationClient` as a console
    runs it (its own connection, a heartbeat every 10 s when nothing else goes).

    Protocol: the first line on the child's stdin is the JSON list of their credentials;
    each further line is how many to hold connected, and the child answers with one JSON
    line once they are; end of input closes them all.
    """

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.pid = process.pid

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, address: str, tokens: list[str]) -> AsyncIterator[Crowd]:
        async with _child("stations", address) as process:
            assert process.stdin is not None
            process.stdin.write(f"{json.dumps(tokens)}\n".encode())
            crowd = cls(process)
            try:
                yield crowd
            finally:
                process.stdin.close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 60.0)

    async def hold(self, count: int) -> float:
        """Holds ``count`` stations connected; the seconds it took to connect the new ones."""
        assert self._process.stdin is not None
        self._process.stdin.write(f"{count}\n".encode())
        line = await _line(self._process, 120.0)
        if not line:
            raise BenchError("the idle stations' process ended")
        answer = json.loads(line)
        if answer["connected"] != count:
            raise BenchError(f"{answer['connected']} of {count} idle stations connected")
        return float(answer["seconds"])


async def hold_stations(address: str) -> None:
    """The ``stations`` child: connects the stations it is asked for, drains whatever
    they are sent (nothing, in the benchmark), closes them at the end of its input."""
    reader = await _stdin()
    tokens: list[str] = json.loads(await reader.readline())
    clients: list[StationClient] = []
    drains: list[asyncio.Task[None]] = []

    async def drain(client: StationClient) -> None:
        while True:
            await client.next_delivery()

    async def connect(token: str) -> StationClient:
        client = StationClient(address, token)
        await client.__aenter__()
        return client

    while line := await reader.readline():
        wanted = min(int(line), len(tokens))
        start = time.perf_counter()
        while len(clients) < wanted:
            # A few at a time, as consoles coming up at the start of an exercise.
            group = tokens[len(clients) : min(wanted, len(clients) + 25)]
            for client in await asyncio.gather(*(connect(t) for t in group)):
                clients.append(client)
                drains.append(asyncio.create_task(drain(client)))
        seconds = time.perf_counter() - start
        gc.freeze()
        print(json.dumps({"connected": len(clients), "seconds": seconds}), flush=True)
    for task in drains:
        task.cancel()
    for client in clients:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("crowd", choices=("watch", "stations"))
    parser.add_argument("address")
    parser.add_argument("--watchers", type=int, default=200)
    args = parser.parse_args()
    if args.crowd == "watch":
        asyncio.run(observe(args.address, args.watchers))
    else:
        asyncio.run(hold_stations(args.address))


if __name__ == "__main__":
    main()
