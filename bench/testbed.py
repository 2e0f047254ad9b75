"""What the benchmarks share: the machine and the code measured; and for the end-to-end
benchmarks, servers in processes of their own, credentials, payloads (position reports,
texts, random zones), stations that drive a server (a bare stub, or the client library),
flows of deliveries to time, the gRPC echo, CPU and memory of processes, and the printed
table.

Every benchmark imports what it shares with another from here (the benchmarks are
scripts, not each other's libraries); ``routing.py``, ``audit_overhead.py`` and
``deconfliction_e2e.py`` build on it most. Every wait is bounded; everything listens on
127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import psutil  # type: ignore[import-untyped]  # no stubs among the dev dependencies

from hotline.client import StationClient, Tls, acknowledgment, envelope
from hotline.contract import timestamp
from hotline.server.deconfliction.geodesy import destination
from hotline.server.exercise import load_exercise
from hotline.server.identity import Credential, TokenAuthority, load_or_create_secret
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    messages_pb2,
    positions_pb2,
    services_pb2,
    zones_pb2,
)

HOST = "127.0.0.1"
#: Between the ends of a range, as the tables of RESULTS.md write it.
DASH = "\N{EN DASH}"
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
#: The receipt deadline of PRIORITY traffic, which only the deadline storm sends.
STORM_RECEIPT_S = 6.0
#: The exercise: 1 sender on GROUND_COMMANDERS (BLUE -> RED); 4 concurrent senders on
#: AIR_OPERATIONS and GROUND_COMMANDERS (each party's station to the other's); GENERALS
#: for the deadline loads (RED never connects there). ROUTINE deadlines (all the routing
#: traffic) are long so that none falls due during a run; PRIORITY texts, sent by the
#: deadline storm alone, miss their RECEIPT after a few seconds.
EXERCISE_TOML = """\
[exercise]
id = "{exercise_id}"
name = "Core routing benchmark"

{parties}
{stations}
[policy]
line_test_interval = "1h"

[policy.deadlines.ROUTINE]
receipt = "{routine_receipt}"
response = "{routine_response}"

[policy.deadlines.PRIORITY]
receipt = "{storm_receipt}s"
response = "2h"
"""


MIB = 1024 * 1024


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


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def code_state() -> str:
    """The commit of the code measured, and the files of the service changed on top of
    it (the working tree is what the server runs)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
        return done.stdout

    head = git("log", "-1", "--format=%h").strip() or "unknown commit"
    changed = [
        line[3:] for line in git("status", "--porcelain", "--", "server", "proto").splitlines()
    ]
    if not changed:
        return f"code at {head}"
    return f"code at {head} with uncommitted changes to {', '.join(changed)}"


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


#: The exercise area of the zone and track generators, (south, north) and (west, east):
#: Syria east of the coast, in degrees.
LAT = (32.5, 37.5)
LON = (36.0, 42.0)
ZONE_KINDS = (
    zones_pb2.ZONE_KIND_RESTRICTED_OPERATIONS_ZONE,
    zones_pb2.ZONE_KIND_KILL_BOX,
    zones_pb2.ZONE_KIND_AREA_OF_OPERATIONS,
    zones_pb2.ZONE_KIND_SPECIAL_CAUTION_AREA,
    zones_pb2.ZONE_KIND_NO_FIRE_AREA,
    zones_pb2.ZONE_KIND_RESTRICTED_FIRE_AREA,
)


def random_zone(rng: random.Random, index: int, around: float) -> zones_pb2.Zone:
    """An accepted measure somewhere in the area, a circle, polygon or corridor of a few
    kilometres, in effect from an hour before ``around`` (UNIX seconds) to a day after."""
    zone = zones_pb2.Zone(
        zone_id=f"Z{index}",
        version=1,
        name=f"Z{index}",
        kind=rng.choice(ZONE_KINDS),
        owner_party=rng.choice(PARTIES),
        state=zones_pb2.ZONE_STATE_ACCEPTED,
    )
    floor = rng.uniform(0, 3000)
    zone.altitude.floor_m = floor
    zone.altitude.ceiling_m = floor + rng.uniform(1000, 8000)
    zone.effective_from.seconds = int(around - 3600)
    zone.effective_until.seconds = int(around + 86400)
    lat, lon = rng.uniform(*LAT), rng.uniform(*LON)
    shape = rng.random()
    if shape < 0.4:
        zone.geometry.circle.center.latitude = lat
        zone.geometry.circle.center.longitude = lon
        zone.geometry.circle.radius_m = rng.uniform(1000, 8000)
    elif shape < 0.8:
        radius = rng.uniform(2000, 10000)
        count = rng.randint(4, 8)
        for k in range(count):
            vlat, vlon = destination(lat, lon, 360.0 * k / count + rng.uniform(0, 20), radius)
            zone.geometry.polygon.vertices.add(latitude=vlat, longitude=vlon)
    else:
        heading = rng.uniform(0, 360)
        zone.geometry.corridor.half_width_m = rng.uniform(500, 3000)
        zone.geometry.corridor.path.add(latitude=lat, longitude=lon)
        for _ in range(rng.randint(1, 3)):
            heading += rng.uniform(-40, 40)
            lat, lon = destination(lat, lon, heading % 360, rng.uniform(5000, 12000))
            zone.geometry.corridor.path.add(latitude=lat, longitude=lon)
    return zone


def sent_at(message: envelope_pb2.Envelope) -> float:
    return message.sent_at.seconds + message.sent_at.nanos / 1e9


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


# ---------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def spread(values: Sequence[float], fmt: str = "{:,.0f}", scale: float = 1.0) -> str:
    """The median of ``values`` and their range: ``"9,800 (9,100 to 10,400)"`` with an
    en dash."""
    if not values:
        return "-"
    low, mid, high = (
        fmt.format(v * scale) for v in (min(values), statistics.median(values), max(values))
    )
    return mid if len(values) == 1 or low == high else f"{mid} ({low}{DASH}{high})"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def latency_text(values: Sequence[float]) -> str:
    return (
        f"p50 {ms(percentile(values, 0.5))}, p99 {ms(percentile(values, 0.99))} (n={len(values):,})"
    )


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
async def spawn(
    args: Sequence[str],
    ready: str,
    log: Path,
    env: Mapping[str, str] | None = None,
    *,
    ready_within: float = 30.0,
) -> AsyncIterator[Server]:
    """Starts a server process; yields once it prints ``ready HOST:PORT`` (within
    ``ready_within`` seconds)."""
    with log.open("ab") as errors:
        process = await asyncio.create_subprocess_exec(
            *args,
            stdout=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            stderr=errors,
            env=None if env is None else {**os.environ, **env},
        )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), ready_within)
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


def serve_command(
    data_dir: Path, exercise: Path, db: str, checkout: Path | None = None
) -> list[str]:
    """``hotline serve`` on an ephemeral port, its log ``db`` in ``data_dir``; with
    ``checkout``, the command as that checkout of earlier code has it (run it with
    :func:`checkout_env`)."""
    if checkout is None:
        command = [hotline_command()]
    else:
        # Before the command line had a root of its own, it lived in the client.
        module = "hotline.cli" if (checkout / "cli").is_dir() else "hotline.client.cli"
        command = [sys.executable, "-m", module]
    args = [*command, "serve", "--listen", f"{HOST}:0", "--data-dir", str(data_dir)]
    return [*args, "--exercise", str(exercise), "--db", str(data_dir / db)]


def checkout_env(checkout: Path) -> dict[str, str]:
    """The environment that runs ``hotline`` from the checkout at ``checkout``."""
    roots = [str(checkout / part) for part in ("proto", "server", "client", "cli")]
    return {"PYTHONPATH": ":".join(roots)}


def describe_checkout(checkout: Path) -> str:
    """The checkout's commit, and proof that its server code is what runs."""
    commit = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    probe = subprocess.run(
        [sys.executable, "-c", "import hotline.server.switchboard as m; print(m.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **checkout_env(checkout)},
    ).stdout.strip()
    if not probe.startswith(str(checkout.resolve())):
        raise BenchError(f"{checkout}: the server code would come from {probe}")
    return commit


async def issue_token(data_dir: Path, exercise: Path, *options: str) -> str:
    """A credential signed with the key in ``data_dir`` (made there by the first, for the
    server to start on it)."""
    process = await asyncio.create_subprocess_exec(
        hotline_command(),
        "token",
        "--data-dir",
        str(data_dir),
        "--exercise",
        str(exercise),
        "--new-key",
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,  # the credential's id
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60.0)
    if process.returncode != 0:
        raise BenchError(f"hotline token {' '.join(options)} failed")
    return out.decode().strip()


def write_exercise(
    path: Path,
    *,
    exercise_id: str = "bench-routing",
    stations: Sequence[tuple[str, str]] | None = None,
    routine: tuple[str, str] = ("1h", "2h"),
) -> None:
    """The benchmark's exercise; by default both parties have a station on every hotline,
    else the given ``(party, HOTLINE)`` stations (and their parties). ``routine``: the
    RECEIPT and response deadlines of ROUTINE traffic."""
    if stations is None:
        lines = ("AIR_OPERATIONS", "GROUND_COMMANDERS", "GENERALS")
        stations = [(p, line) for line in lines for p in PARTIES]
    party_ids = dict.fromkeys(p for p, _ in stations)
    parties = "".join(f'[[parties]]\nid = "{p}"\nname = "{p.title()}"\n\n' for p in party_ids)
    station_text = "".join(
        f'[[stations]]\nparty = "{p}"\nhotline = "{line}"\n\n' for p, line in stations
    )
    path.write_text(
        EXERCISE_TOML.format(
            exercise_id=exercise_id,
            parties=parties,
            stations=station_text,
            storm_receipt=f"{STORM_RECEIPT_S:g}",
            routine_receipt=routine[0],
            routine_response=routine[1],
        )
    )


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


def control_token(data_dir: Path, exercise: Path) -> str:
    """An exercise control credential, signed with the data directory's token key (as
    ``hotline token`` would, without a process of its own)."""
    authority = TokenAuthority(
        load_or_create_secret(data_dir / "token.key"), load_exercise(exercise)
    )
    return authority.issue(Credential("bench-restart", common_pb2.ROLE_EXERCISE_CONTROL))


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


def server_pids(server: Server) -> list[int]:
    """The server and its children (the checks process)."""
    with contextlib.suppress(psutil.Error):
        children = psutil.Process(server.pid).children(recursive=True)
        return [server.pid, *(child.pid for child in children)]
    return [server.pid]


def rss_of(server: Server) -> tuple[int, int]:
    """RSS of the server process and of its children (the checks process)."""
    pids = server_pids(server)
    sizes = []
    for pid in pids:
        try:
            sizes.append(int(psutil.Process(pid).memory_info().rss))
        except psutil.Error:
            sizes.append(0)
    return sizes[0], sum(sizes[1:])


def cpu_seconds(pids: Sequence[int]) -> float:
    """User and system CPU time of the processes so far (those still running)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return float(total)


async def sample_rss(server: Server, into: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(psutil.Error):
            into.append(server.rss())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


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
    """Stream messages/s echoed over ``streams`` concurrent streams, ``count`` each, at
    most ``window`` unanswered on each."""
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


# ---------------------------------------------------------------------- flows


class Flow:
    """Deliveries of position reports in one measured run, counted per sending party."""

    def __init__(self, expected: int, fan: int, *, measure_from: float = 0.0) -> None:
        self.expected = expected
        self.fan = fan
        self.total = 0
        self.by_sender: dict[str, int] = {}
        self.latencies: list[float] = []
        #: (sent at, latency) of each timed delivery, for latencies over a window.
        self.samples: list[tuple[float, float]] = []
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
            self.samples.append((stamp, now - stamp))
        if not self.first:
            self.first = time.perf_counter()
        if self.total >= self.expected:
            self.last = time.perf_counter()
            self.done.set()

    def between(self, start: float, end: float) -> list[float]:
        """Latencies of the envelopes sent from ``start`` to ``end`` (wall clock)."""
        return [latency for stamp, latency in self.samples if start <= stamp < end]

    def outstanding(self, station: common_pb2.StationRef, sent: int) -> float:
        """Envelopes of ``station`` not yet delivered to every other station."""
        return sent - self.by_sender.get(f"{station.party}/{station.hotline}", 0) / self.fan

    async def wait_progress(self, deadline: float) -> None:
        self.progress.clear()
        try:
            await asyncio.wait_for(self.progress.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise BenchError("no deliveries within the time limit") from None


# ---------------------------------------------------------------------- raw stations


class RawStation:
    """A station session over a bare stub: serialised requests, one writer, one reader.

    Deliveries are counted into the current :class:`Flow` and get their RECEIPT at once,
    as the client library would send it: one stream message of RECEIPTs for each stream
    message of deliveries.
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


@contextlib.asynccontextmanager
async def raw_stations(address: str, tokens: Sequence[str]) -> AsyncIterator[list[RawStation]]:
    stations = [RawStation(address, token) for token in tokens]
    try:
        for station in stations:
            await station.open()
        yield stations
    finally:
        for station in stations:
            await station.close()


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
    sender's hotline (one, in the two-party exercise). Each sender sends ``count`` in
    stream messages of ``batch``, with at most ``window`` not yet delivered."""
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
                if station.refused:
                    raise BenchError(f"the server refused {station.refused} envelopes")
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
    """A steady ``rate`` of position reports for ``duration`` s, sent as they fall due
    (every millisecond: about one envelope per stream message at 1,000/s)."""
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
async def lib_stations(
    address: str, tokens: Sequence[str], tls: Tls | None = None
) -> AsyncIterator[list[LibStation]]:
    stations = []
    try:
        for token in tokens:
            client = StationClient(address, token, tls=tls)
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
    concurrent sends per station (the library gathers them into stream messages)."""
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


# ---------------------------------------------------------------------- report


@dataclass(frozen=True)
class Config:
    """Throughput runs of one sender to one station through the raw stub."""

    count: int
    repeats: int
    batch: int
    window: int
    limit: float


#: 20,000 reports a run, 3 runs, 64 envelopes per stream message.
FULL = Config(count=20_000, repeats=3, batch=64, window=2048, limit=120.0)
QUICK = Config(count=3000, repeats=1, batch=64, window=2048, limit=60.0)


@dataclass
class Table:
    """A Markdown table, its rows echoed as they are added."""

    headers: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        row = cells + ("",) * (len(self.headers) - len(cells))
        self.rows.append(row)
        print("  " + " | ".join(row), flush=True)

    def table(self) -> str:
        align = ["---" if i < 2 else "---:" for i in range(len(self.headers))]
        lines = ["| " + " | ".join(self.headers) + " |", "| " + " | ".join(align) + " |"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


class Report:
    """The table of benchmark, setup, result and target."""

    def __init__(self) -> None:
        self._table = Table(("Benchmark", "Setup", "Result", "Target"))

    @property
    def rows(self) -> list[tuple[str, ...]]:
        return self._table.rows

    def add(self, benchmark: str, setup: str, result: str, target: str = "") -> None:
        self._table.add(benchmark, setup, result, target)

    def table(self) -> str:
        lines = ["| Benchmark | Setup | Result | Target |", "| --- | --- | ---: | --- |"]
        lines += [f"| {' | '.join(row)} |" for row in self.rows]
        return "\n".join(lines)


if __name__ == "__main__":
    # ``python bench/testbed.py --serve-echo``: the echo server's own process.
    if sys.argv[1:] != ["--serve-echo"]:
        raise SystemExit("usage: testbed.py --serve-echo (started by routing.py)")
    asyncio.run(serve_echo())
