"""Core routing: what the service sustains end to end, beside a bare gRPC echo.

Runs the real ``hotline serve`` in its own process (SQLite log, fsync on every commit)
and a tiny grpc.aio echo server in another; the load comes from this process. With
``--before PATH`` (a checkout of earlier code), a second ``hotline serve`` runs that
code beside the first, on a log of its own. Every figure of one run is measured on the
same machine in the same run, so compare ratios:

* **routing** — rounds that alternate between the echo and each server (the order
  reversed every round), reported as medians with their range over the rounds:
  position reports sent by 1 or 4 stations, each recorded and delivered to the other
  party's station (whose RECEIPT goes back, recorded, to the sender), through a bare
  stub with 1 and with 64 envelopes per stream message, beside the echo of the same
  stream messages (same bytes, same streams, same envelopes in flight); and through
  :class:`hotline.client.StationClient`, which gathers envelopes as it sees fit.
* **latency** — a steady 1,000 envelopes/s; send time to delivery at the receiving
  station, one clock; against each server.
* **fan-out** — the same with 200 ``ExerciseService.Watch`` streams on the hotline, held
  by a process of their own; server RSS.
* **storm** — 10,000 PRIORITY texts to an absent station, sent within about a second
  while 1,000 envelopes/s are routed: their RECEIPT deadlines fall due together a few
  seconds later; latency and server CPU before and during the storm.
* **deadlines** — routing before and after 100,000 texts that wait for an absent
  station's answers: 200,000 deadlines pending, none falling due.
* **stations** — 50, 200 and 500 stations connected to a server of their own (idle
  consoles, held by another process, beside the two that route): latency at 1,000
  envelopes/s and the server's CPU, idle and routing.
* **bridge** (not run unless asked for) — the latency phase again against a server
  whose MQTT bridge publishes every record to a throwaway Mosquitto.

    .venv/bin/python bench/routing.py [--quick] [--phases routing,latency,...] [--before PATH]

Every loop is bounded in count and time; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from crowds import Observers
from loads import deadline_storm, many_stations, pending_owed, preload
from testbed import (
    GENERALS,
    GROUND,
    BenchError,
    CpuMeter,
    Report,
    Server,
    Table,
    Tokens,
    checkout_env,
    cpu_seconds,
    describe_checkout,
    echo_rate,
    issue_tokens,
    latency_text,
    lib_paced,
    lib_stations,
    lib_throughput,
    load_average,
    machine,
    position_report,
    prepare,
    raw_paced,
    raw_stations,
    raw_throughput,
    sample_rss,
    serve_command,
    server_pids,
    spawn,
    spread,
    write_exercise,
)

from hotline.client import envelope
from hotline.testing.mosquitto import mosquitto_broker
from hotline.v1 import common_pb2

HERE = Path(__file__).resolve().parent
PHASES = ("routing", "latency", "fanout", "storm", "deadlines", "stations")


@dataclass(frozen=True)
class Plan:
    """How much of everything one run measures."""

    rounds: int
    #: Position reports a routing run sends (over all senders), by envelopes per message.
    routing_count: dict[int, int]
    #: Envelopes an echo run sends (over all streams), by envelopes per message.
    echo_count: dict[int, int]
    #: Envelopes in flight (sent, not yet delivered or echoed), over all senders.
    window: int
    lib_count: int
    lib_window: int
    rate: float
    duration: float
    warmup: float
    watchers: int
    storm: int
    preload: int
    stations: tuple[int, ...]
    stations_duration: float
    idle_seconds: float
    limit: float = 120.0
    batches: tuple[int, ...] = (64, 1)


FULL = Plan(
    rounds=5,
    routing_count={64: 6400, 1: 3000},
    echo_count={64: 128_000, 1: 6000},
    window=2048,
    lib_count=6000,
    lib_window=256,
    rate=1000.0,
    duration=10.0,
    warmup=2.0,
    watchers=200,
    storm=10_000,
    preload=100_000,
    stations=(50, 200, 500),
    stations_duration=8.0,
    idle_seconds=3.0,
)
QUICK = Plan(
    rounds=2,
    routing_count={64: 2560, 1: 1000},
    echo_count={64: 32_000, 1: 2000},
    window=2048,
    lib_count=2000,
    lib_window=128,
    rate=1000.0,
    duration=4.0,
    warmup=1.0,
    watchers=20,
    storm=2000,
    preload=5000,
    stations=(10, 20),
    stations_duration=3.0,
    idle_seconds=1.0,
    limit=60.0,
)


@dataclass(frozen=True)
class Load:
    """One routing setting: how many senders, how many envelopes per stream message
    (0: the client library's own gathering)."""

    senders: int
    batch: int

    @property
    def name(self) -> str:
        how = "raw stub" if self.batch else "StationClient"
        who = "1 sender → 1 station" if self.senders == 1 else "4 senders (2 hotlines)"
        return f"{how}, {who}"


LOADS = (Load(1, 64), Load(1, 1), Load(4, 64), Load(4, 1), Load(1, 0), Load(4, 0))


@dataclass
class Target:
    """A ``hotline serve`` under test."""

    name: str
    server: Server
    #: For message ids: printable ASCII, no spaces.
    tag: str


@dataclass
class Rounds:
    """Rates of every round: the echo by (streams, batch), each server by load."""

    echo: dict[tuple[int, int], list[float]] = field(default_factory=dict)
    routing: dict[tuple[str, Load], list[float]] = field(default_factory=dict)
    #: The server's CPU (its process and the checks process) per report, in µs.
    cpu: dict[tuple[str, Load], list[float]] = field(default_factory=dict)


class Core:
    """The routing rounds: the echo and every server in turn, order reversed each round."""

    def __init__(self, plan: Plan, echo: Server, targets: Sequence[Target], tokens: Tokens):
        self.plan = plan
        self.echo = echo
        self.targets = targets
        self.tokens = tokens
        self.rounds = Rounds()

    def ground(self) -> list[str]:
        return [self.tokens.ground["BLUE"], self.tokens.ground["RED"]]

    def four(self) -> list[str]:
        """Both parties' stations on AIR_OPERATIONS and GROUND_COMMANDERS."""
        return [self.tokens.air["BLUE"], self.tokens.air["RED"], *self.ground()]

    async def run(self) -> None:
        names = ["echo", *(t.name for t in self.targets)]
        for r in range(self.plan.rounds):
            order = names if r % 2 == 0 else names[::-1]
            print(f"round {r + 1}/{self.plan.rounds}: {', '.join(order)}", flush=True)
            for name in order:
                if name == "echo":
                    await self.echo_round()
                else:
                    await self.server_round(next(t for t in self.targets if t.name == name), r)

    async def echo_round(self) -> None:
        plan = self.plan
        ref = common_pb2.StationRef(party="BLUE", hotline=GROUND)
        for streams in (1, 4):
            for batch in plan.batches:
                # The very stream message a routing sender sends: same bytes, same count.
                payload = prepare(ref, "echo", batch, batch)[0]
                messages = await echo_rate(
                    self.echo.address,
                    streams=streams,
                    payload=payload,
                    count=plan.echo_count[batch] // batch // streams,
                    window=max(1, plan.window // batch // streams),
                    limit=plan.limit,
                )
                self.rounds.echo.setdefault((streams, batch), []).append(messages * batch)
                print(f"  echo: {streams} x {batch}: {messages * batch:,.0f} env/s", flush=True)

    async def server_round(self, target: Target, r: int) -> None:
        plan, address = self.plan, target.server.address
        async with raw_stations(address, self.four()) as (blue_air, red_air, blue, red):
            for load in (x for x in LOADS if x.batch):
                senders = [blue] if load.senders == 1 else [blue_air, red_air, blue, red]
                receivers = [red] if load.senders == 1 else senders
                pids, count = server_pids(target.server), plan.routing_count[load.batch]
                cpu = cpu_seconds(pids)
                rate = await raw_throughput(
                    senders=senders,
                    receivers=receivers,
                    tag=f"{target.tag}-{r}-{load.senders}x{load.batch}",
                    count=count // load.senders,
                    batch=load.batch,
                    window=plan.window // load.senders,
                    limit=plan.limit,
                )
                # Let the last RECEIPTs settle: their cost belongs to the run.
                await asyncio.sleep(0.2)
                self.record(target, load, rate, (cpu_seconds(pids) - cpu) / count)
        for load in (x for x in LOADS if not x.batch):
            tokens = self.ground() if load.senders == 1 else self.four()
            pids = server_pids(target.server)
            cpu = cpu_seconds(pids)
            async with lib_stations(address, tokens) as clients:
                rate = await lib_throughput(
                    senders=clients[:1] if load.senders == 1 else clients,
                    receivers=clients[1:2] if load.senders == 1 else clients,
                    count=plan.lib_count // load.senders,
                    window=plan.lib_window // load.senders,
                    limit=plan.limit,
                )
            await asyncio.sleep(0.2)
            self.record(target, load, rate, (cpu_seconds(pids) - cpu) / plan.lib_count)

    def record(self, target: Target, load: Load, rate: float, cpu: float) -> None:
        self.rounds.routing.setdefault((target.name, load), []).append(rate)
        self.rounds.cpu.setdefault((target.name, load), []).append(cpu * 1e6)
        print(
            f"  {target.name}: {load.name}, {load.batch or 'own'}: {rate:,.0f} env/s, "
            f"server CPU {cpu * 1e6:,.0f} µs a report",
            flush=True,
        )

    def table(self) -> Table:
        rounds = self.rounds
        now, *before = (t.name for t in self.targets)
        table = Table(
            (
                "Load",
                "Env. per stream message",
                "Echo env/s",
                "Routing env/s",
                "Routing / echo",
                "Server CPU µs/report",
                *(
                    ("Before: routing env/s", "Now / before", "Before: CPU µs/report")
                    if before
                    else ()
                ),
            )
        )
        for load in LOADS:
            rates = rounds.routing[(now, load)]
            echo = rounds.echo.get((load.senders, load.batch), [])
            cells = [
                load.name,
                str(load.batch) if load.batch else "the client's own",
                spread(echo) if echo else "-",
                spread(rates),
                spread(ratios(rates, echo), "{:.1%}") if echo else "-",
                spread(rounds.cpu[(now, load)]),
            ]
            if before:
                earlier = rounds.routing[(before[0], load)]
                cells += [
                    spread(earlier),
                    spread(ratios(rates, earlier), "{:.1%}"),
                    spread(rounds.cpu[(before[0], load)]),
                ]
            table.add(*cells)
        return table


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """The ratio within each round."""
    return [n / d for n, d in zip(numerators, denominators, strict=True)]


class Bench:
    """The phases after the rounds, against one ``hotline serve`` (or two, for latency)."""

    def __init__(
        self, targets: Sequence[Target], tokens: Tokens, plan: Plan, report: Report
    ) -> None:
        self.targets = targets
        self.server = targets[0].server
        self.address = self.server.address
        self.tokens = tokens
        self.plan = plan
        self.report = report
        self.paced = f"{plan.rate:,.0f} env/s for {plan.duration:.0f} s"

    def ground(self) -> list[str]:
        return [self.tokens.ground["BLUE"], self.tokens.ground["RED"]]

    async def raw_rate(self, tag: str) -> list[float]:
        """Rates of 3 runs of BLUE -> RED on GROUND_COMMANDERS, raw stub, 64 each."""
        plan = self.plan
        async with raw_stations(self.address, self.ground()) as (blue, red):
            rates = []
            for r in range(3):
                rate = await raw_throughput(
                    senders=[blue],
                    receivers=[red],
                    tag=f"{tag}{r}",
                    count=plan.routing_count[64],
                    batch=64,
                    window=plan.window,
                    limit=plan.limit,
                )
                rates.append(rate)
                await asyncio.sleep(0.2)
            return rates

    async def latency(self) -> None:
        """Each kind of station against each server, the servers' order alternating."""
        plan = self.plan
        pace = {"rate": plan.rate, "duration": plan.duration, "warmup": plan.warmup}
        found: dict[tuple[str, str], list[float]] = {}
        for k, kind in enumerate(("raw stub", "StationClient")):
            order = self.targets if k % 2 == 0 else self.targets[::-1]
            for target in order:
                address = target.server.address
                if kind == "raw stub":
                    async with raw_stations(address, self.ground()) as (blue, red):
                        flow = await raw_paced(blue, red, **pace)
                else:
                    async with lib_stations(address, self.ground()) as (lib_blue, lib_red):
                        flow = await lib_paced(lib_blue, lib_red, **pace)
                found[(kind, target.name)] = flow.latencies
        for kind in ("raw stub", "StationClient"):
            for target in self.targets:
                values = found[(kind, target.name)]
                self.report.add(
                    f"latency, {kind}, {target.name}",
                    self.paced,
                    latency_text(values),
                    "p99 < 10 ms",
                )

    async def fanout(self) -> None:
        plan, server = self.plan, self.server
        rss: list[int] = []
        idle = server.rss()
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(server, rss, stop))
        try:
            async with Observers.start(self.address, self.tokens.observer, plan.watchers) as room:
                connected = server.rss()
                room.measure_from(time.time() + plan.warmup)
                gc.freeze()
                cpu = CpuMeter(server.pid, room.pid)
                async with lib_stations(self.address, self.ground()) as (blue, red):
                    flow = await lib_paced(
                        blue, red, rate=plan.rate, duration=plan.duration, warmup=plan.warmup
                    )
                server_cpu, room_cpu, bench_cpu = cpu.utilisation()
                await asyncio.sleep(1.0)
                seen = await room.result()
        finally:
            stop.set()
            await sampler
        ended = seen["ended"]
        report = self.report
        setup = f"{plan.watchers} Watch streams on the hotline, {self.paced}"
        report.add("fan-out, station", setup, latency_text(flow.latencies), "p99 < 50 ms")
        report.add(
            "fan-out, watchers",
            f"{seen['sampled']} sampled of {plan.watchers} Watch streams",
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

    async def storm(self) -> None:
        await deadline_storm(
            self.server,
            self.ground(),
            self.tokens.generals_blue,
            self.report,
            count=self.plan.storm,
            rate=self.plan.rate,
            warmup=self.plan.warmup,
        )

    async def deadlines(self) -> None:
        plan, report = self.plan, self.report
        before = await self.raw_rate("dl-before-")
        async with raw_stations(self.address, [self.tokens.generals_blue]) as (blue,):
            start = time.perf_counter()
            await preload(blue, plan.preload, plan.limit * 3)
            took = time.perf_counter() - start
        owed = await pending_owed(self.address, self.tokens.control, "RED", GENERALS)
        after = await self.raw_rate("dl-after-")
        report.add(
            "deadlines pending",
            f"preload {plan.preload:,} ROUTINE texts to an absent station",
            f"{plan.preload / took:,.0f} env/s; {owed:,} owed answers",
        )
        report.add(
            "deadlines pending, raw stub",
            "routing before the preload, 64 env per message",
            f"{spread(before)} env/s",
        )
        report.add(
            "deadlines pending, raw stub",
            f"routing with {owed * 2:,} deadlines pending, none falling due",
            f"{spread(after)} env/s (median {change(after, before)})",
            "slowdown ≤ 10%",
        )
        report.add("server RSS", "after the deadline load", f"{self.server.rss() / 2**20:,.0f} MiB")


def change(after: Sequence[float], before: Sequence[float]) -> str:
    """The change of the median, e.g. ``-3%``."""
    return f"{statistics.median(after) / statistics.median(before) - 1:+.0%}"


async def bridge_phase(
    data_dir: Path, exercise: Path, tokens: Tokens, plan: Plan, report: Report
) -> None:
    """The latency phase against a server whose MQTT bridge publishes every record to a
    throwaway Mosquitto (:mod:`hotline.testing.mosquitto`; nobody subscribes, which costs the bridge
    nothing less: each record is still published and acknowledged, QoS 1)."""
    with mosquitto_broker(data_dir / "broker", persistent=False) as broker:
        args = [*serve_command(data_dir, exercise, "bridged.sqlite"), "--mqtt", broker.url()]
        async with spawn(args, "hotline: serving on", data_dir / "bridged.log") as server:
            print(f"hotline serve --mqtt: pid {server.pid}, {server.address}", flush=True)
            bench = Bench([Target("MQTT bridge on", server, "bridged")], tokens, plan, report)
            await bench.latency()


async def main_async(args: argparse.Namespace) -> None:
    plan = QUICK if args.quick else FULL
    if args.rounds:
        plan = replace(plan, rounds=args.rounds)
    phases = set(args.phases.split(","))
    before: Path | None = args.before
    commit = describe_checkout(before) if before else ""
    report = Report()
    core_table: Table | None = None
    stations_table: Table | None = None
    print(f"Machine: {machine()}; load average {load_average()}", flush=True)
    size = len(
        envelope(
            common_pb2.StationRef(party="BLUE", hotline=GROUND),
            position_report(1),
            message_id="x" * 32,
        ).SerializeToString()
    )
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        data_dir = Path(tmp)
        exercise = data_dir / "exercise.toml"
        write_exercise(exercise)
        tokens = await issue_tokens(data_dir, exercise)
        server_log = data_dir / "server.log"
        async with contextlib.AsyncExitStack() as stack:
            server = await stack.enter_async_context(
                spawn(
                    serve_command(data_dir, exercise, "hotline.sqlite"),
                    "hotline: serving on",
                    server_log,
                )
            )
            print(f"hotline serve: pid {server.pid}, {server.address}", flush=True)
            targets = [Target("now", server, "now")]
            if before and phases & {"routing", "latency"}:
                earlier = await stack.enter_async_context(
                    spawn(
                        serve_command(data_dir, exercise, "before.sqlite", before),
                        "hotline: serving on",
                        data_dir / "before.log",
                        env=checkout_env(before),
                    )
                )
                print(f"hotline serve ({commit}): pid {earlier.pid}, {earlier.address}", flush=True)
                targets.append(Target(f"before ({commit})", earlier, "before"))
            if "routing" in phases:
                echo_args = [sys.executable, str(HERE / "testbed.py"), "--serve-echo"]
                async with spawn(echo_args, "echo: serving on", data_dir / "echo.log") as echo:
                    core = Core(plan, echo, targets, tokens)
                    await core.run()
                core_table = core.table()
            bench = Bench(targets, tokens, plan, report)
            if "latency" in phases:
                await bench.latency()
            bench.targets = targets[:1]
            for name in ("fanout", "storm", "deadlines"):
                if name in phases:
                    await getattr(bench, name)()
        if "stations" in phases:
            stations_table = await many_stations(
                data_dir,
                plan.stations,
                rate=plan.rate,
                duration=plan.stations_duration,
                warmup=plan.warmup,
                idle_seconds=plan.idle_seconds,
            )
        if "bridge" in phases:
            await bridge_phase(data_dir, exercise, tokens, plan, report)
        errors = server_log.read_text(errors="replace").count("Traceback")
    print()
    print(f"Machine: {machine()}; load average {load_average()}")
    print(f"Position-report envelope: {size} bytes serialised; SQLite log, fsync per commit.")
    if errors:
        print(f"The server logged {errors} tracebacks (streams cancelled by the clients).")
    if core_table:
        print()
        print(f"Routing, medians of {plan.rounds} rounds (range in brackets):")
        print()
        print(core_table.table())
    if stations_table:
        print()
        print(stations_table.table())
    if report.rows:
        print()
        print(report.table())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke test")
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated subset of {','.join(PHASES)},bridge",
    )
    parser.add_argument(
        "--before",
        metavar="PATH",
        help="a checkout of earlier code (its proto/, server/, client/): routing and latency "
        "also run against a server of that code, in the same rounds",
    )
    parser.add_argument("--rounds", type=int, default=0, help="rounds of the routing phase")
    args = parser.parse_args()
    if args.before:
        args.before = Path(args.before).resolve()
    try:
        asyncio.run(main_async(args))
    except BenchError as error:
        raise SystemExit(f"routing: {error}") from None


if __name__ == "__main__":
    main()
