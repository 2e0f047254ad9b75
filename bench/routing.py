"""Core routing: what the service sustains end to end, beside a bare gRPC echo.

Runs the real ``hotline serve`` in its own process (SQLite log, fsync on every commit)
and a tiny grpc.aio echo server in another; the load comes from this process. Every
figure of one run is measured on the same machine in the same run, so compare ratios:

* **echo** — a bidirectional grpc.aio stream echoing one message per stream message, of
  the size of a position-report envelope: the ceiling of the transport.
* **routing** — position reports sent by 1 or 4 stations, each durably recorded and
  delivered to every other station on the hotline (whose RECEIPT goes back, recorded,
  to the sender), sent through a bare stub with pre-serialised batches ("raw") and
  through :class:`hotline.client.station.StationClient` ("client").
* **latency** — a steady 1,000 envelopes/s; send time to delivery at the receiving
  station, one clock.
* **fan-out** — the same with 200 ``ExerciseService.Watch`` streams on the hotline, held
  by a second load process (``--observe``); server RSS.
* **deadlines** — routing throughput before and after 100,000 text messages that wait
  for an absent station's answers (two pending deadlines each).
* **bridge** (not run unless asked for) — the latency phase again against a second
  server, on a log of its own, whose MQTT bridge publishes every record to a throwaway
  Mosquitto: what the bridge costs the gRPC path.

    .venv/bin/python bench/routing.py [--quick] [--phases echo,routing,latency,...,bridge]

Every loop is bounded in count and time; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import psutil  # type: ignore[import-untyped]  # no stubs among the dev dependencies

from hotline.client.envelopes import acknowledgment, envelope, timestamp
from hotline.client.station import StationClient
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    log_pb2,
    messages_pb2,
    positions_pb2,
    services_pb2,
    services_pb2_grpc,
)

HOST = "127.0.0.1"
SESSION = "/hotline.v1.StationService/Session"
WATCH = "/hotline.v1.ExerciseService/Watch"
ECHO = "/bench.Echo/Echo"
CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    # Every client its own connection, as separate machines would have.
    ("grpc.use_local_subchannel_pool", 1),
)
AIR = common_pb2.HOTLINE_AIR_OPERATIONS
GROUND = common_pb2.HOTLINE_GROUND_COMMANDERS
GENERALS = common_pb2.HOTLINE_GENERALS
#: The two parties; each has a station on every hotline.
PARTIES = ("BLUE", "RED")
#: The exercise: 1 sender on GROUND_COMMANDERS (BLUE -> RED); 4 concurrent senders on
#: AIR_OPERATIONS and GROUND_COMMANDERS (each party's station to the other's); GENERALS
#: for the deadline load (RED never connects there). Deadlines are long so that nothing
#: falls due during the run.
EXERCISE_TOML = """\
[exercise]
id = "bench-routing"
name = "Core routing benchmark"

{parties}
{stations}
[policy]
line_test_interval = "1h"

[policy.deadlines.ROUTINE]
receipt = "1h"
response = "2h"
"""


class BenchError(Exception):
    """A run that could not complete (timed out, refused, server gone)."""


# ---------------------------------------------------------------------- machine


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> str:
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()}; "
        f"CPython {platform.python_version()}, grpcio {grpc.__version__}"
    )


# ---------------------------------------------------------------------- payloads


#: Where each party's aircraft fly: BLUE east of the Euphrates, RED west of it, some
#: 60 km apart, so that routing is measured with the checks running but not alerting.
_AREAS = {"BLUE": (35.30, 40.45), "RED": (35.45, 39.75)}
#: Courses away from the other party's area (BLUE east of RED): no predicted conflict.
_HEADINGS = {"BLUE": 0.0, "RED": 180.0}


def position_report(i: int, party: str = "BLUE") -> positions_pb2.PositionReport:
    """One unit's PPLI-style position, as a flight lead would report it."""
    unit = i % 24
    base_lat, base_lon = _AREAS.get(party, _AREAS["BLUE"])
    return positions_pb2.PositionReport(
        positions=[
            positions_pb2.UnitPosition(
                unit_id=f"{party}-AIR-{unit:03d}",
                callsign=f"{party} {unit:02d}",
                domain=common_pb2.DOMAIN_AIR,
                latitude=base_lat + (i % 997) * 1e-4,
                longitude=base_lon + (i % 991) * 1e-4,
                altitude_m=7620.0,
                course_deg=_HEADINGS.get(party, 0.0) + (i * 7) % 180,
                speed_mps=231.5,
                observed_at=timestamp(),
                accuracy_m=15.0,
                platform_type="F-16C",
            )
        ]
    )


def text_message(i: int) -> messages_pb2.TextMessage:
    return messages_pb2.TextMessage(
        text=f"Request confirmation of your flight schedule for sector {i % 40}", language="en"
    )


def sent_at(message: envelope_pb2.Envelope) -> float:
    return message.sent_at.seconds + message.sent_at.nanos / 1e9


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# ---------------------------------------------------------------------- processes


@dataclass
class Server:
    process: asyncio.subprocess.Process
    address: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)


@contextlib.asynccontextmanager
async def spawn(args: Sequence[str], ready: str, log: Path) -> AsyncIterator[Server]:
    """Starts a server process; yields once it prints ``ready HOST:PORT``."""
    with log.open("ab") as errors:
        process = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL, stderr=errors
        )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30.0)
        text = line.decode().strip()
        if not text.startswith(ready):
            raise BenchError(f"{args[0]} did not start: {text!r}")
        yield Server(process, text.removeprefix(ready).strip())
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15.0)
            except TimeoutError:
                process.kill()
                await process.wait()


def hotline_command() -> str:
    found = Path(sys.executable).with_name("hotline")
    return str(found) if found.exists() else (shutil.which("hotline") or "hotline")


async def issue_token(data_dir: Path, exercise: Path, *options: str) -> str:
    process = await asyncio.create_subprocess_exec(
        hotline_command(),
        "token",
        "--data-dir",
        str(data_dir),
        "--exercise",
        str(exercise),
        *options,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60.0)
    if process.returncode != 0:
        raise BenchError(f"hotline token {' '.join(options)} failed")
    return out.decode().strip()


def write_exercise(path: Path) -> None:
    parties = "".join(f'[[parties]]\nid = "{p}"\nname = "{p.title()}"\n\n' for p in PARTIES)
    lines = ("AIR_OPERATIONS", "GROUND_COMMANDERS", "GENERALS")
    stations = [(p, line) for line in lines for p in PARTIES]
    station_text = "".join(
        f'[[stations]]\nparty = "{p}"\nhotline = "{line}"\n\n' for p, line in stations
    )
    path.write_text(EXERCISE_TOML.format(parties=parties, stations=station_text))


@dataclass
class Tokens:
    air: dict[str, str]
    ground: dict[str, str]
    generals_blue: str
    observer: str
    control: str


async def issue_tokens(data_dir: Path, exercise: Path) -> Tokens:
    async def station(party: str, hotline: str) -> str:
        return await issue_token(data_dir, exercise, "--party", party, "--hotline", hotline)

    # The first call creates the signing key; the rest may run side by side.
    observer = await issue_token(data_dir, exercise, "--role", "observer")
    air = await asyncio.gather(*(station(p, "AIR_OPERATIONS") for p in PARTIES))
    ground = await asyncio.gather(*(station(p, "GROUND_COMMANDERS") for p in PARTIES))
    generals, control = await asyncio.gather(
        station("BLUE", "GENERALS"), issue_token(data_dir, exercise, "--role", "control")
    )
    return Tokens(
        dict(zip(PARTIES, air, strict=True)),
        dict(zip(PARTIES, ground, strict=True)),
        generals,
        observer,
        control,
    )


# ---------------------------------------------------------------------- echo


async def serve_echo() -> None:
    """The raw transport: echoes every stream message back as it is (bytes)."""

    async def echo(_requests: object, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        while True:
            message = await context.read()
            if message is grpc.aio.EOF:
                return
            await context.write(message)

    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    handler: grpc.RpcMethodHandler[Any, Any] = grpc.stream_stream_rpc_method_handler(echo)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Echo", {"Echo": handler}),)
    )
    port = server.add_insecure_port(f"{HOST}:0")
    await server.start()
    print(f"echo: serving on {HOST}:{port}", flush=True)
    await server.wait_for_termination()


async def echo_rate(
    address: str, *, streams: int, payload: bytes, count: int, window: int, limit: float
) -> float:
    """Messages/s echoed over ``streams`` concurrent streams, ``count`` each."""
    channels = [grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) for _ in range(streams)]

    async def one(channel: grpc.aio.Channel) -> None:
        call: Any = channel.stream_stream(ECHO)()
        received = 0
        more = asyncio.Event()

        async def read() -> None:
            nonlocal received
            while received < count:
                if await call.read() is grpc.aio.EOF:
                    raise BenchError("the echo stream ended early")
                received += 1
                more.set()

        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(read())
            for sent in range(count):
                while sent - received >= window:
                    more.clear()
                    await more.wait()
                await call.write(payload)
        await call.done_writing()

    try:
        start = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(one(c) for c in channels)), limit)
        return streams * count / (time.perf_counter() - start)
    finally:
        for channel in channels:
            await channel.close()


# ---------------------------------------------------------------------- raw stations


class Flow:
    """Deliveries of position reports in one measured run, counted per sending party."""

    def __init__(self, expected: int, fan: int, *, measure_from: float = 0.0) -> None:
        self.expected = expected
        self.fan = fan
        self.total = 0
        self.by_sender: dict[str, int] = {}
        self.latencies: list[float] = []
        self.measure_from = measure_from
        self.first = 0.0
        self.last = 0.0
        self.progress = asyncio.Event()
        self.done = asyncio.Event()

    def delivered(self, message: envelope_pb2.Envelope, now: float) -> None:
        party = f"{message.sender.party}/{message.hotline}"
        self.by_sender[party] = self.by_sender.get(party, 0) + 1
        self.total += 1
        stamp = sent_at(message)
        if stamp >= self.measure_from:
            self.latencies.append(now - stamp)
        if not self.first:
            self.first = time.perf_counter()
        if self.total >= self.expected:
            self.last = time.perf_counter()
            self.done.set()

    def outstanding(self, station: common_pb2.StationRef, sent: int) -> float:
        """Envelopes of ``station`` not yet delivered to every other station."""
        return sent - self.by_sender.get(f"{station.party}/{station.hotline}", 0) / self.fan

    async def wait_progress(self, deadline: float) -> None:
        self.progress.clear()
        try:
            await asyncio.wait_for(self.progress.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise BenchError("no deliveries within the time limit") from None


class RawStation:
    """A station session over a bare stub: serialised requests, one writer, one reader.

    Deliveries are counted into the current :class:`Flow` and get their RECEIPT at once,
    as the client library would send it.
    """

    def __init__(self, address: str, token: str) -> None:
        self._channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._call: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self.ref = common_pb2.StationRef()
        self.outbox: asyncio.Queue[bytes] = asyncio.Queue(100_000)
        self.flow: Flow | None = None
        self.results = 0
        self.refused = 0
        self.results_changed = asyncio.Event()

    async def open(self) -> None:
        self._call = self._channel.stream_stream(SESSION)(metadata=self._metadata)
        open_request = services_pb2.SessionRequest(open=services_pb2.SessionOpen())
        await self._call.write(open_request.SerializeToString())
        first = await asyncio.wait_for(self._call.read(), 15.0)
        if first is grpc.aio.EOF:
            raise BenchError("the session was refused")
        self.ref.CopyFrom(services_pb2.SessionResponse.FromString(first).opened.station.ref)
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._write())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await task
        if self._call is not None:
            self._call.cancel()
        await self._channel.close()

    def send(self, envelopes: Iterable[envelope_pb2.Envelope]) -> None:
        batch = services_pb2.EnvelopeBatch(envelopes=envelopes)
        self.outbox.put_nowait(services_pb2.SessionRequest(envelopes=batch).SerializeToString())

    async def _write(self) -> None:
        while True:
            await self._call.write(await self.outbox.get())

    async def _read(self) -> None:
        while True:
            data = await self._call.read()
            if data is grpc.aio.EOF:
                return
            response = services_pb2.SessionResponse.FromString(data)
            kind = response.WhichOneof("response")
            if kind == "results":
                for result in response.results.results:
                    self.results += 1
                    if result.code:
                        self.refused += 1
                self.results_changed.set()
            elif kind == "deliveries":
                self._deliveries(response.deliveries.envelopes)

    def _deliveries(self, envelopes: Sequence[envelope_pb2.Envelope]) -> None:
        now = time.time()
        receipts = []
        for message in envelopes:
            body = message.WhichOneof("body")
            if body in ("acknowledgment", "alert", "zone_status"):
                continue
            receipt = acknowledgment(message.message_id, acknowledgments_pb2.ACK_KIND_RECEIPT)
            receipts.append(envelope(self.ref, receipt, message.priority))
            if body == "position_report" and self.flow is not None:
                self.flow.delivered(message, now)
        if receipts:
            self.send(receipts)
        if self.flow is not None:
            self.flow.progress.set()


def prepare(ref: common_pb2.StationRef, tag: str, count: int, batch: int) -> list[bytes]:
    """``count`` position reports from ``ref``, as serialised requests of ``batch`` each."""
    envelopes = [
        envelope(ref, position_report(i, ref.party), message_id=f"{tag}-{i}") for i in range(count)
    ]
    return [
        services_pb2.SessionRequest(
            envelopes=services_pb2.EnvelopeBatch(envelopes=envelopes[i : i + batch])
        ).SerializeToString()
        for i in range(0, count, batch)
    ]


async def raw_throughput(
    *,
    senders: Sequence[RawStation],
    receivers: Sequence[RawStation],
    tag: str,
    count: int,
    batch: int,
    window: int,
    limit: float,
) -> float:
    """Position reports/s routed: recorded, and delivered to every other station of the
    sender's hotline (one, in the two-party exercise)."""
    fan = 1
    # Built before the clock starts: only the service and the transport are timed.
    prepared = {
        s: prepare(s.ref, f"{tag}-{s.ref.party}-{s.ref.hotline}", count, batch) for s in senders
    }
    flow = Flow(count * len(senders) * fan, fan)
    for station in receivers:
        station.flow = flow
    deadline = time.monotonic() + limit

    async def pump(station: RawStation) -> None:
        sent = 0
        for request in prepared[station]:
            while flow.outstanding(station.ref, sent) >= window:
                await flow.wait_progress(deadline)
            station.outbox.put_nowait(request)
            sent += batch

    start = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as tasks:
            for station in senders:
                tasks.create_task(pump(station))
        try:
            await asyncio.wait_for(flow.done.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise BenchError(f"{flow.total}/{flow.expected} deliveries in {limit} s") from None
    finally:
        for station in receivers:
            station.flow = None
    return count * len(senders) / (flow.last - start)


async def raw_paced(
    sender: RawStation, receiver: RawStation, *, rate: float, duration: float, warmup: float
) -> Flow:
    """A steady ``rate`` of position reports for ``duration`` s, sent as they fall due."""
    total = int(rate * duration)
    flow = Flow(total, 1, measure_from=time.time() + warmup)
    receiver.flow = flow
    tag = f"paced-{time.time_ns()}"
    try:
        start = time.perf_counter()
        sent = 0
        while sent < total and time.perf_counter() - start < duration * 2:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            if due > sent:
                sender.send(
                    envelope(
                        sender.ref, position_report(i, sender.ref.party), message_id=f"{tag}-{i}"
                    )
                    for i in range(sent, due)
                )
                sent = due
            await asyncio.sleep(0.001)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(flow.done.wait(), 10.0)
    finally:
        receiver.flow = None
    return flow


# ---------------------------------------------------------------------- client library


class LibStation:
    """A :class:`StationClient` whose deliveries are drained into the current flow."""

    def __init__(self, client: StationClient) -> None:
        self.client = client
        self.flow: Flow | None = None
        self._drain = asyncio.create_task(self._take())

    async def _take(self) -> None:
        while True:
            delivery = await self.client.next_delivery()
            if self.flow is not None and delivery.WhichOneof("body") == "position_report":
                self.flow.delivered(delivery, time.time())
                self.flow.progress.set()

    async def close(self) -> None:
        self._drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._drain
        await self.client.close()


@contextlib.asynccontextmanager
async def lib_stations(address: str, tokens: Sequence[str]) -> AsyncIterator[list[LibStation]]:
    stations = []
    try:
        for token in tokens:
            client = StationClient(address, token)
            await client.__aenter__()
            stations.append(LibStation(client))
        yield stations
    finally:
        for station in stations:
            await station.close()


async def lib_throughput(
    *,
    senders: Sequence[LibStation],
    receivers: Sequence[LibStation],
    count: int,
    window: int,
    limit: float,
) -> float:
    """As :func:`raw_throughput`, through ``StationClient.send`` with ``window``
    concurrent sends per station (the library batches them into stream messages)."""
    fan = 1
    flow = Flow(count * len(senders) * fan, fan)
    for station in receivers:
        station.flow = flow
    per_worker = count // window

    async def worker(station: LibStation, first: int) -> None:
        for i in range(first, first + per_worker):
            result = await station.client.send(position_report(i, station.client.ref.party))
            if result.code:
                raise BenchError(f"refused: {result.error}")

    deadline = time.monotonic() + limit
    start = time.perf_counter()
    try:
        async with asyncio.timeout(limit), asyncio.TaskGroup() as tasks:
            for station in senders:
                for w in range(window):
                    tasks.create_task(worker(station, w * per_worker))
        flow.expected = per_worker * window * len(senders) * fan
        if flow.total >= flow.expected:
            flow.done.set()
            flow.last = flow.last or time.perf_counter()
        try:
            await asyncio.wait_for(flow.done.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise BenchError(f"{flow.total}/{flow.expected} deliveries in {limit} s") from None
    finally:
        for station in receivers:
            station.flow = None
    return per_worker * window * len(senders) / (flow.last - start)


async def lib_paced(
    sender: LibStation, receiver: LibStation, *, rate: float, duration: float, warmup: float
) -> Flow:
    total = int(rate * duration)
    flow = Flow(total, 1, measure_from=time.time() + warmup)
    receiver.flow = flow
    pending: set[asyncio.Task[services_pb2.SendResult]] = set()
    try:
        start = time.perf_counter()
        sent = 0
        while sent < total and time.perf_counter() - start < duration * 2:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            for i in range(sent, due):
                report = position_report(i, sender.client.ref.party)
                task = asyncio.create_task(sender.client.send(report))
                pending.add(task)
                task.add_done_callback(pending.discard)
            sent = max(sent, due)
            if len(pending) > rate * 5:
                raise BenchError("more than 5 s of sends unconfirmed")
            await asyncio.sleep(0.001)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(flow.done.wait(), 10.0)
        if pending:
            # Closing the client with sends unconfirmed would fail them.
            await asyncio.wait(pending, timeout=10.0)
    finally:
        receiver.flow = None
        for task in list(pending):
            task.cancel()
    return flow


# ---------------------------------------------------------------------- watchers


class Watcher:
    """One observer's ``ExerciseService.Watch`` stream on a hotline."""

    def __init__(
        self, channel: grpc.aio.Channel, token: str, hotline: int, *, sample: bool
    ) -> None:
        # Watchers share a few connections, as the consoles of one operations room would.
        self._channel = channel
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._request = services_pb2.WatchRequest(hotlines=[hotline]).SerializeToString()  # type: ignore[list-item]
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
                if self.sample:
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
    """The watchers of the fan-out phase, in a process of their own (``--observe``): an
    operations room of observers is not the stations' machine, and reading 200 streams
    must not delay the station whose latency is measured here.

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
        args = [sys.executable, __file__, "--observe", address, "--watchers", str(count)]
        process = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            process.stdin.write(f"{token}\n".encode())
            line = await asyncio.wait_for(process.stdout.readline(), 60.0)
            if line.strip() != b"observing":
                raise BenchError(f"the observers did not start: {line!r}")
            yield cls(process)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

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
    """The ``--observe`` child: ``count`` Watch streams on the ground commanders' hotline
    over 10 connections; every 20th parses and times what it gets."""
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
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


async def sample_rss(server: Server, into: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(psutil.Error):
            into.append(server.rss())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


class CpuMeter:
    """CPU time of the given processes and of this one since creation, per second of
    wall time (this process's last)."""

    def __init__(self, *pids: int) -> None:
        self._processes = [*(psutil.Process(pid) for pid in pids), psutil.Process()]
        self._start = time.perf_counter()
        self._before = [self._cpu(p) for p in self._processes]

    @staticmethod
    def _cpu(process: Any) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    def utilisation(self) -> tuple[float, ...]:
        wall = time.perf_counter() - self._start
        return tuple(
            (self._cpu(p) - before) / wall
            for p, before in zip(self._processes, self._before, strict=True)
        )


async def pending_owed(address: str, token: str, party: str, hotline: int) -> int:
    """Messages the station still owes an answer, from ``GetStatus``."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = services_pb2_grpc.ExerciseServiceStub(channel)
        status = await stub.GetStatus(
            services_pb2.GetStatusRequest(),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=30.0,
        )
    for station in status.stations:
        if station.station.ref.party == party and station.station.ref.hotline == hotline:
            return int(station.awaiting_response)
    raise BenchError(f"no station {party} in GetStatus")


# ---------------------------------------------------------------------- report


@dataclass
class Row:
    benchmark: str
    setup: str
    result: str
    target: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)

    def add(self, benchmark: str, setup: str, result: str, target: str = "") -> None:
        row = Row(benchmark, setup, result, target)
        self.rows.append(row)
        print(f"  {benchmark} | {setup} | {result} | {target}", flush=True)

    def table(self) -> str:
        lines = ["| Benchmark | Setup | Result | Target |", "| --- | --- | ---: | --- |"]
        lines += [f"| {r.benchmark} | {r.setup} | {r.result} | {r.target} |" for r in self.rows]
        return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


@dataclass
class Config:
    count: int
    repeats: int
    batch: int
    window: int
    lib_window: int
    rate: float
    duration: float
    warmup: float
    watchers: int
    preload: int
    limit: float


FULL = Config(
    count=20_000,
    repeats=3,
    batch=64,
    window=2048,
    lib_window=256,
    rate=1000.0,
    duration=12.0,
    warmup=2.0,
    watchers=200,
    preload=100_000,
    limit=120.0,
)
QUICK = Config(
    count=3000,
    repeats=1,
    batch=64,
    window=2048,
    lib_window=128,
    rate=1000.0,
    duration=4.0,
    warmup=1.0,
    watchers=20,
    preload=5000,
    limit=60.0,
)


async def preload(station: RawStation, count: int, limit: float) -> None:
    """``count`` ROUTINE texts that an absent station must receipt and answer."""
    deadline = time.monotonic() + limit

    async def confirmed(at_least: int) -> None:
        while station.results < at_least:
            station.results_changed.clear()
            await asyncio.wait_for(
                station.results_changed.wait(), max(0.0, deadline - time.monotonic())
            )

    batch = 500
    for first in range(0, count, batch):
        await confirmed(first - 10_000)
        station.send(
            envelope(station.ref, text_message(i), message_id=f"preload-{i}")
            for i in range(first, min(count, first + batch))
        )
    await confirmed(count)
    if station.refused:
        raise BenchError(f"{station.refused} preloaded messages were refused")


async def best_of(repeats: int, run: Callable[[int], Awaitable[float]]) -> float:
    """The best of ``repeats`` runs: the machine's noise only ever slows a run down."""
    return max([await run(r) for r in range(repeats)])


class Bench:
    """The runs against one ``hotline serve``, in the order of the report."""

    def __init__(
        self,
        server: Server,
        tokens: Tokens,
        config: Config,
        report: Report,
        echo: dict[int, float],
        *,
        label: str = "",
    ) -> None:
        """``label`` follows the name of each row (what sets this server apart)."""
        self.label = label
        self.server = server
        self.address = server.address
        self.tokens = tokens
        self.config = config
        self.report = report
        self.echo = echo
        self.paced = f"{config.rate:,.0f} env/s for {config.duration:.0f} s"

    def versus_echo(self, rate: float, streams: int) -> str:
        if streams not in self.echo:
            return "≥ 60% of echo"
        return f"≥ 60% of echo: {rate / self.echo[streams]:.0%}"

    @contextlib.asynccontextmanager
    async def raw(self, tokens: Sequence[str]) -> AsyncIterator[list[RawStation]]:
        stations = [RawStation(self.address, token) for token in tokens]
        try:
            for station in stations:
                await station.open()
            yield stations
        finally:
            for station in stations:
                await station.close()

    def ground(self) -> list[str]:
        return [self.tokens.ground["BLUE"], self.tokens.ground["RED"]]

    def four(self) -> list[str]:
        """Both parties' stations on AIR_OPERATIONS and GROUND_COMMANDERS."""
        return [self.tokens.air["BLUE"], self.tokens.air["RED"], *self.ground()]

    async def raw_one(self, tag: str) -> float:
        """Best routing rate of BLUE -> RED on GROUND_COMMANDERS, through the bare stub."""
        config = self.config
        async with self.raw(self.ground()) as (blue, red):

            async def run(r: int) -> float:
                return await raw_throughput(
                    senders=[blue],
                    receivers=[red],
                    tag=f"{tag}{r}",
                    count=config.count,
                    batch=config.batch,
                    window=config.window,
                    limit=config.limit,
                )

            return await best_of(config.repeats, run)

    async def routing(self) -> None:
        config, report = self.config, self.report
        rate = await self.raw_one("raw1-")
        report.add(
            "routing, raw stub",
            f"1 sender → 1 station, {config.batch} env per message",
            f"{rate:,.0f} env/s",
            self.versus_echo(rate, 1),
        )
        async with self.raw(self.four()) as four:

            async def run_four(r: int) -> float:
                return await raw_throughput(
                    senders=four,
                    receivers=four,
                    tag=f"raw4-{r}",
                    count=config.count // 4,
                    batch=config.batch,
                    window=config.window // 4,
                    limit=config.limit,
                )

            rate = await best_of(config.repeats, run_four)
        report.add(
            "routing, raw stub",
            f"4 senders (2 hotlines), each → 1 station, {config.batch} env per message",
            f"{rate:,.0f} env/s",
            self.versus_echo(rate, 4),
        )
        async with lib_stations(self.address, self.ground()) as (blue, red):

            async def run_lib(_: int) -> float:
                return await lib_throughput(
                    senders=[blue],
                    receivers=[red],
                    count=config.count,
                    window=config.lib_window,
                    limit=config.limit,
                )

            rate = await best_of(config.repeats, run_lib)
        report.add(
            "routing, StationClient",
            f"1 sender → 1 station, {config.lib_window} sends in flight",
            f"{rate:,.0f} env/s",
            self.versus_echo(rate, 1),
        )
        async with lib_stations(self.address, self.four()) as lib_four:

            async def run_lib_four(_: int) -> float:
                return await lib_throughput(
                    senders=lib_four,
                    receivers=lib_four,
                    count=config.count // 4,
                    window=config.lib_window // 4,
                    limit=config.limit,
                )

            rate = await best_of(config.repeats, run_lib_four)
        report.add(
            "routing, StationClient",
            f"4 senders (2 hotlines), each → 1 station, {config.lib_window // 4} in flight each",
            f"{rate:,.0f} env/s",
            self.versus_echo(rate, 4),
        )

    async def latency(self) -> None:
        config = self.config
        pace = {"rate": config.rate, "duration": config.duration, "warmup": config.warmup}
        async with self.raw(self.ground()) as (blue, red):
            flow = await raw_paced(blue, red, **pace)
        label = self.label
        self.report.add(f"latency, raw stub{label}", self.paced, latency_text(flow), "p99 < 10 ms")
        async with lib_stations(self.address, self.ground()) as (lib_blue, lib_red):
            flow = await lib_paced(lib_blue, lib_red, **pace)
        self.report.add(
            f"latency, StationClient{label}", self.paced, latency_text(flow), "p99 < 10 ms"
        )

    async def fanout(self) -> None:
        config, server = self.config, self.server
        rss: list[int] = []
        idle = server.rss()
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(server, rss, stop))
        try:
            async with Observers.start(self.address, self.tokens.observer, config.watchers) as room:
                connected = server.rss()
                room.measure_from(time.time() + config.warmup)
                gc.freeze()
                cpu = CpuMeter(server.pid, room.pid)
                async with lib_stations(self.address, self.ground()) as (blue, red):
                    flow = await lib_paced(
                        blue, red, rate=config.rate, duration=config.duration, warmup=config.warmup
                    )
                server_cpu, room_cpu, bench_cpu = cpu.utilisation()
                await asyncio.sleep(1.0)
                seen = await room.result()
        finally:
            stop.set()
            await sampler
        ended = seen["ended"]
        report = self.report
        setup = f"{config.watchers} Watch streams on the hotline, {self.paced}"
        report.add("fan-out, station", setup, latency_text(flow), "p99 < 50 ms")
        report.add(
            "fan-out, watchers",
            f"{seen['sampled']} sampled of {config.watchers} Watch streams",
            latency_text(seen["latencies"]),
            "p99 < 50 ms",
        )
        span = seen["seconds"]
        report.add(
            "fan-out, watchers",
            "log records received by all watchers",
            f"{seen['records'] / span:,.0f}/s in {seen['messages'] / span:,.0f} "
            f"stream messages/s; {len(ended)} streams ended early",
        )
        report.add(
            "fan-out, CPU",
            "server / stations / watchers, of one core",
            f"{server_cpu:.0%} / {bench_cpu:.0%} / {room_cpu:.0%}",
        )
        if ended:
            print(f"  first watcher to end: {ended[0]}", flush=True)
        mib = 2**20
        report.add(
            "server RSS",
            "idle / watchers connected / peak under fan-out",
            f"{idle / mib:,.0f} / {connected / mib:,.0f} / {max(rss, default=0) / mib:,.0f} MiB",
        )

    async def deadlines(self) -> None:
        config, report = self.config, self.report
        before = await self.raw_one("dl-before-")
        async with self.raw([self.tokens.generals_blue]) as (blue,):
            start = time.perf_counter()
            await preload(blue, config.preload, config.limit * 3)
            took = time.perf_counter() - start
        owed = await pending_owed(self.address, self.tokens.control, "RED", GENERALS)
        after = await self.raw_one("dl-after-")
        report.add(
            "deadlines",
            f"preload {config.preload:,} texts to an absent station",
            f"{config.preload / took:,.0f} env/s; {owed:,} owed answers",
        )
        report.add("deadlines, raw stub", "routing before the preload", f"{before:,.0f} env/s")
        report.add(
            "deadlines, raw stub",
            f"routing with {owed * 2:,} deadlines pending",
            f"{after:,.0f} env/s ({after / before - 1:+.0%})",
            "slowdown ≤ 10%",
        )
        report.add("server RSS", "after the deadline load", f"{self.server.rss() / 2**20:,.0f} MiB")


def latency_text(flow: Flow | Sequence[float]) -> str:
    values = flow.latencies if isinstance(flow, Flow) else flow
    return (
        f"p50 {ms(percentile(values, 0.5))}, p99 {ms(percentile(values, 0.99))} (n={len(values):,})"
    )


async def echo_phase(data_dir: Path, config: Config, report: Report, size: int) -> dict[int, float]:
    rates: dict[int, float] = {}
    args = [sys.executable, __file__, "--serve-echo"]
    async with spawn(args, "echo: serving on", data_dir / "echo.log") as echo:
        payload = os.urandom(size)
        for streams in (1, 4):

            async def run(_: int, n: int = streams) -> float:
                return await echo_rate(
                    echo.address,
                    streams=n,
                    payload=payload,
                    count=config.count // n,
                    window=config.window // n,
                    limit=config.limit,
                )

            rates[streams] = await best_of(config.repeats, run)
            report.add(
                "echo, raw grpc.aio",
                f"{streams} stream{'s' * (streams > 1)}, {size} B, 1 per message",
                f"{rates[streams]:,.0f} msg/s",
            )
    return rates


TESTS = Path(__file__).resolve().parent.parent / "tests"


async def bridge_phase(
    data_dir: Path, exercise: Path, tokens: Tokens, config: Config, report: Report
) -> None:
    """The latency phase against a server whose MQTT bridge publishes every record to a
    throwaway Mosquitto (the test fixture's; nobody subscribes, which costs the bridge
    nothing less: each record is still published and acknowledged, QoS 1)."""
    sys.path.insert(0, str(TESTS))
    from fixtures.mosquitto import mosquitto_broker  # noqa: PLC0415  # the tests' fixture

    with mosquitto_broker(data_dir / "broker", persistent=False) as broker:
        args = [hotline_command(), "serve", "--listen", f"{HOST}:0", "--data-dir", str(data_dir)]
        args += ["--exercise", str(exercise), "--db", str(data_dir / "bridged.sqlite")]
        args += ["--mqtt", broker.url()]
        async with spawn(args, "hotline: serving on", data_dir / "bridged.log") as server:
            print(f"hotline serve --mqtt: pid {server.pid}, {server.address}", flush=True)
            bench = Bench(server, tokens, config, report, {}, label=", MQTT bridge on")
            await bench.latency()


async def main_async(args: argparse.Namespace) -> None:
    config = QUICK if args.quick else FULL
    phases = set(args.phases.split(","))
    report = Report()
    print(f"Machine: {machine()}", flush=True)
    size = len(
        envelope(
            common_pb2.StationRef(party="BLUE", hotline=GROUND),
            position_report(1),
            message_id="x" * 32,
        ).SerializeToString()
    )
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        data_dir = Path(tmp)
        echo: dict[int, float] = {}
        if phases & {"echo", "routing"}:
            echo = await echo_phase(data_dir, config, report, size)
        exercise = data_dir / "exercise.toml"
        write_exercise(exercise)
        tokens = await issue_tokens(data_dir, exercise)
        serve_args = [hotline_command(), "serve", "--listen", f"{HOST}:0"]
        serve_args += ["--data-dir", str(data_dir), "--exercise", str(exercise)]
        server_log = data_dir / "server.log"
        async with spawn(serve_args, "hotline: serving on", server_log) as server:
            print(f"hotline serve: pid {server.pid}, {server.address}", flush=True)
            bench = Bench(server, tokens, config, report, echo)
            for name in ("routing", "latency", "fanout", "deadlines"):
                if name in phases:
                    await getattr(bench, name)()
        if "bridge" in phases:
            await bridge_phase(data_dir, exercise, tokens, config, report)
        errors = server_log.read_text(errors="replace").count("Traceback")
    print()
    print(f"Machine: {machine()}")
    print(f"Position-report envelope: {size} bytes serialised; SQLite log, fsync per commit.")
    if errors:
        print(f"The server logged {errors} tracebacks (streams cancelled by the clients).")
    print()
    print(report.table())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke test")
    parser.add_argument(
        "--phases",
        default="echo,routing,latency,fanout,deadlines",
        help="comma-separated subset of echo,routing,latency,fanout,deadlines,bridge",
    )
    parser.add_argument("--serve-echo", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--observe", metavar="ADDRESS", help=argparse.SUPPRESS)
    parser.add_argument("--watchers", type=int, default=FULL.watchers, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo:
        asyncio.run(serve_echo())
        return
    if args.observe:
        asyncio.run(observe(args.observe, args.watchers))
        return
    try:
        asyncio.run(main_async(args))
    except BenchError as error:
        raise SystemExit(f"routing: {error}") from None


if __name__ == "__main__":
    main()
