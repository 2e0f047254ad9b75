"""The routing benchmark's loads beyond throughput: deadlines falling due together while
position reports are routed (the storm), deadlines pending (none falling due), and
many stations connected to one server.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import grpc
from crowds import Crowd
from testbed import (
    STORM_RECEIPT_S,
    BenchError,
    CpuMeter,
    Flow,
    RawStation,
    Report,
    Server,
    Table,
    cpu_seconds,
    latency_text,
    ms,
    percentile,
    raw_paced,
    raw_stations,
    serve_command,
    server_pids,
    spawn,
    text_message,
    write_exercise,
)

from hotline.client import envelope
from hotline.server.exercise import load_exercise, parse_hotline
from hotline.server.identity import Credential, TokenAuthority, load_or_create_secret
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    services_pb2,
    services_pb2_grpc,
)

PRIORITY = common_pb2.PRIORITY_PRIORITY
ROUTINE = common_pb2.PRIORITY_ROUTINE


# ---------------------------------------------------------------------- deadlines


async def preload(
    station: RawStation,
    count: int,
    limit: float,
    *,
    priority: common_pb2.Priority.ValueType = ROUTINE,
    tag: str = "preload",
    ahead: int = 10_000,
) -> tuple[float, float]:
    """``count`` texts that an absent station must receipt and answer, at most ``ahead``
    unconfirmed; the times (wall clock) of the first and of the last confirmation."""
    deadline = time.monotonic() + limit
    base = station.results
    first = 0.0

    async def confirmed(at_least: int) -> None:
        nonlocal first
        while station.results - base < at_least:
            station.results_changed.clear()
            await asyncio.wait_for(
                station.results_changed.wait(), max(0.0, deadline - time.monotonic())
            )
            first = first or time.time()

    batch = 500
    for start in range(0, count, batch):
        await confirmed(start - ahead)
        station.send(
            envelope(station.ref, text_message(i), priority, message_id=f"{tag}-{i}")
            for i in range(start, min(count, start + batch))
        )
    await confirmed(count)
    if station.refused:
        raise BenchError(f"{station.refused} preloaded messages were refused")
    return first, time.time()


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


class StormSender(RawStation):
    """The station whose texts nobody receipts: it is told of each missed RECEIPT."""

    def __init__(self, address: str, token: str) -> None:
        super().__init__(address, token)
        #: Arrival (wall clock) of each RECEIPT_MISSED alert.
        self.missed: list[float] = []
        self._more_missed = asyncio.Event()

    async def all_missed(self, count: int) -> None:
        while len(self.missed) < count:
            self._more_missed.clear()
            await self._more_missed.wait()

    def _deliveries(self, envelopes: Sequence[envelope_pb2.Envelope]) -> None:
        now = time.time()
        for message in envelopes:
            if (
                message.WhichOneof("body") == "alert"
                and message.alert.kind == acknowledgments_pb2.ALERT_KIND_RECEIPT_MISSED
            ):
                self.missed.append(now)
                self._more_missed.set()
        super()._deliveries(envelopes)


class CpuTrace:
    """CPU seconds of some processes, sampled every 0.1 s, for utilisation over windows."""

    def __init__(self, pids: Sequence[int]) -> None:
        self._pids = pids
        self.samples: list[tuple[float, float]] = []

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async def sample() -> None:
            while True:
                self.samples.append((time.time(), cpu_seconds(self._pids)))
                await asyncio.sleep(0.1)

        task = asyncio.create_task(sample())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def between(self, start: float, end: float) -> float:
        """Cores used from ``start`` to ``end`` (nearest samples inside the window)."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            return float("nan")
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        return (c1 - c0) / (t1 - t0)


async def deadline_storm(
    server: Server,
    ground: Sequence[str],
    generals: str,
    report: Report,
    *,
    count: int,
    rate: float,
    warmup: float,
) -> None:
    """``count`` PRIORITY texts to an absent station, sent as fast as the server records
    them while BLUE routes ``rate`` position reports/s to RED; their RECEIPT deadlines
    fall due :data:`STORM_RECEIPT_S` later, together, while the routing goes on."""
    receipt = STORM_RECEIPT_S
    duration = warmup + 1.0 + receipt + 4.0
    trace = CpuTrace(server_pids(server))
    sender = StormSender(server.address, generals)
    await sender.open()
    try:
        async with raw_stations(server.address, ground) as (blue, red), trace.running():
            calm_from = time.time() + warmup
            paced = asyncio.create_task(
                raw_paced(blue, red, rate=rate, duration=duration, warmup=warmup)
            )
            try:
                await asyncio.sleep(warmup + 1.0)
                sent_from = time.time()
                _, recorded_by = await preload(
                    sender, count, 60.0, priority=PRIORITY, tag="storm", ahead=count
                )
            finally:
                flow = await paced
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sender.all_missed(count), 15.0)
    finally:
        await sender.close()
    if len(sender.missed) < count:
        raise BenchError(f"{len(sender.missed)} of {count} RECEIPT_MISSED alerts arrived")
    storm_report(
        report,
        flow=flow,
        trace=trace,
        missed=sender.missed,
        calm_from=calm_from,
        sent_from=sent_from,
        recorded_by=recorded_by,
        rate=rate,
    )


def storm_report(
    report: Report,
    *,
    flow: Flow,
    trace: CpuTrace,
    missed: list[float],
    calm_from: float,
    sent_from: float,
    recorded_by: float,
    rate: float,
) -> None:
    receipt = STORM_RECEIPT_S
    # Every text was recorded between sending the first and the last confirmation: its
    # deadline fell due within the same span, ``receipt`` later.
    due_from, due_by = sent_from + receipt, recorded_by + receipt
    storm_to = max(missed[-1], due_by)
    windows = {
        "before the texts (calm)": (calm_from, sent_from),
        "while the texts are recorded": (sent_from, recorded_by),
        "while the deadlines fall due": (due_from, storm_to),
    }
    count = len(missed)
    report.add(
        "deadline storm",
        f"{count:,} PRIORITY texts to an absent station, recorded within "
        f"{recorded_by - sent_from:.2f} s; RECEIPT deadline {receipt:g} s",
        f"{count:,} deadlines due within {due_by - due_from:.2f} s; RECEIPT_MISSED alerts "
        f"delivered from +{missed[0] - due_from:.2f} s to +{missed[-1] - due_from:.2f} s",
    )
    for what, (start, end) in windows.items():
        values = flow.between(start, end)
        worst = ms(max(values)) if values else "-"
        report.add(
            "deadline storm, latency",
            f"raw stub, {rate:,.0f} env/s, {what}",
            f"{latency_text(values)}, max {worst}",
            "p99 < 10 ms",
        )
    cpu = " / ".join(f"{trace.between(start, end):.0%}" for start, end in windows.values())
    report.add("deadline storm, server CPU", "the same three windows, of one core", cpu)
    if len(flow.latencies) < flow.expected * 0.9:
        print(f"  only {flow.total} of {flow.expected} reports delivered", flush=True)


# ---------------------------------------------------------------------- many stations


def crowd_exercise(path: Path, idle: int) -> list[tuple[str, str]]:
    """BLUE and RED on GROUND_COMMANDERS, and ``idle`` more stations: parties of their
    own, each with a station on AIR_OPERATIONS and one on GENERALS."""
    parties = [f"P{i + 1:03d}" for i in range(math.ceil(idle / 2))]
    extra = [(p, line) for p in parties for line in ("AIR_OPERATIONS", "GENERALS")][:idle]
    stations = [("BLUE", "GROUND_COMMANDERS"), ("RED", "GROUND_COMMANDERS"), *extra]
    write_exercise(path, exercise_id="bench-stations", stations=stations)
    return stations


def credentials(data_dir: Path, exercise: Path, stations: Sequence[tuple[str, str]]) -> list[str]:
    """Each station's credential, signed here with the data directory's key (``hotline
    token`` would take a process start each)."""
    authority = TokenAuthority(
        load_or_create_secret(data_dir / "token.key"), load_exercise(exercise)
    )
    return [
        authority.issue(
            Credential(
                subject=f"{party}/{line}",
                role=common_pb2.ROLE_PARTICIPANT,
                party=party,
                hotline=parse_hotline(line),
            )
        )
        for party, line in stations
    ]


async def many_stations(
    data_dir: Path,
    levels: Sequence[int],
    *,
    rate: float,
    duration: float,
    warmup: float,
    idle_seconds: float,
) -> Table:
    """A server with up to ``max(levels)`` stations: at each level, that many connected
    (BLUE and RED, and idle consoles held by a child process), the server's CPU idle
    and while BLUE routes ``rate`` position reports/s to RED, and their latency."""
    exercise = data_dir / "stations.toml"
    stations = crowd_exercise(exercise, max(levels) - 2)
    tokens = credentials(data_dir, exercise, stations)
    table = Table(
        (
            "Stations connected",
            "Idle consoles",
            "Connecting them",
            "Server CPU, idle",
            f"Server CPU, {rate:,.0f} env/s",
            "Latency p50 / p99",
            "Server RSS",
        )
    )
    args = serve_command(data_dir, exercise, "stations.sqlite")
    async with (
        spawn(args, "hotline: serving on", data_dir / "stations.log") as server,
        Crowd.start(server.address, tokens[2:]) as crowd,
        raw_stations(server.address, tokens[:2]) as (blue, red),
    ):
        print(f"hotline serve (stations): pid {server.pid}, {server.address}", flush=True)
        pids = server_pids(server)
        for level in (2, *levels):
            took = await crowd.hold(level - 2)
            await asyncio.sleep(1.0)
            idle = CpuMeter(*pids)
            await asyncio.sleep(idle_seconds)
            idle_cpu = sum(idle.utilisation()[: len(pids)])
            busy = CpuMeter(*pids)
            flow = await raw_paced(blue, red, rate=rate, duration=duration, warmup=warmup)
            busy_cpu = sum(busy.utilisation()[: len(pids)])
            values = flow.latencies
            table.add(
                f"{level:,}",
                f"{level - 2:,}",
                f"{took:.1f} s" if level > 2 else "-",
                f"{idle_cpu:.0%}",
                f"{busy_cpu:.0%}",
                f"{ms(percentile(values, 0.5))} / {ms(percentile(values, 0.99))}",
                f"{server.rss() / 2**20:,.0f} MiB",
            )
    return table
