"""What the deconfliction checks cost end to end: routing with and without them.

Runs two real ``hotline serve`` processes side by side in the same run, on the same
exercise, tokens and data directory, each with its own SQLite log (fsync on every
commit): one as deployed, with every deconfliction check on, and one with
``--no-deconfliction``. Both are loaded alike before the clock starts: 1,000 accepted
zones around Syria (the mix of ``bench/deconfliction.py``: circles, polygons and
corridors a few kilometres across, half BLUE's and half RED's, each proposed by its
owner and accepted by the other side through the server) and RED's 300 units (150
aircraft, 150 ground units) reported once. Then BLUE's 300 units report their moving
positions, one unit per envelope, as fast as the server takes them, from 1 station to
1 station on GROUND_COMMANDERS through the raw stub of ``bench/routing.py`` (64
envelopes per stream message). With the checks on, every report is checked against the
zones (incursions) and RED's units (separation, predicted conflict) and may raise alerts.

Each setting is run in turn, alternating which goes first; the rate is the best of 3
runs each. The ratio checks-on / checks-off is the figure of issue 4 (target ≥ 80 %).

    .venv/bin/python bench/deconfliction_e2e.py [--quick]

Every loop is bounded in count and time; everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs among the dev dependencies
from testbed import (
    HOST,
    LAT,
    LON,
    BenchError,
    Flow,
    RawStation,
    Report,
    Server,
    Tokens,
    hotline_command,
    issue_tokens,
    machine,
    random_zone,
    spawn,
    write_exercise,
)

from hotline.client import HotlineClient, envelope
from hotline.contract import timestamp
from hotline.server.deconfliction.geodesy import destination
from hotline.v1 import (
    common_pb2,
    envelope_pb2,
    positions_pb2,
    services_pb2,
    zones_pb2,
)

SETTINGS = {"on": (), "off": ("--no-deconfliction",)}
GROUND = common_pb2.HOTLINE_GROUND_COMMANDERS
AIR_DOMAIN = common_pb2.DOMAIN_AIR
GROUND_DOMAIN = common_pb2.DOMAIN_GROUND


@dataclass(frozen=True)
class Config:
    zones: int
    units: int  # per party, half aircraft and half ground units
    count: int
    repeats: int
    batch: int
    window: int
    limit: float


FULL = Config(zones=1000, units=300, count=20_000, repeats=3, batch=64, window=2048, limit=120.0)
QUICK = Config(zones=200, units=100, count=3000, repeats=1, batch=64, window=2048, limit=60.0)


# ---------------------------------------------------------------------- the load


def proposals(config: Config, seed: int = 1) -> list[zones_pb2.Zone]:
    """``config.zones`` measures as their owners propose them, in effect for a day."""
    rng = random.Random(seed)
    now = time.time()
    out = []
    for i in range(config.zones):
        zone = random_zone(rng, i, now)
        for name in ("version", "state"):
            zone.ClearField(name)
        out.append(zone)
    return out


@dataclass
class Unit:
    unit_id: str
    domain: common_pb2.Domain.ValueType
    lat: float
    lon: float
    alt: float
    course: float
    speed: float

    def position(self) -> positions_pb2.UnitPosition:
        return positions_pb2.UnitPosition(
            unit_id=self.unit_id,
            callsign=self.unit_id,
            domain=self.domain,
            latitude=self.lat,
            longitude=self.lon,
            altitude_m=self.alt,
            course_deg=self.course,
            speed_mps=self.speed,
            observed_at=timestamp(),
            accuracy_m=15.0,
        )


def units(party: str, count: int, rng: random.Random) -> list[Unit]:
    out = []
    for i in range(count):
        air = i % 2 == 0
        out.append(
            Unit(
                unit_id=f"{party}-{'A' if air else 'G'}{i:03d}",
                domain=AIR_DOMAIN if air else GROUND_DOMAIN,
                lat=rng.uniform(*LAT),
                lon=rng.uniform(*LON),
                alt=rng.uniform(1000, 9000) if air else rng.uniform(150, 400),
                course=rng.uniform(0, 360),
                speed=rng.uniform(120, 250) if air else rng.uniform(0, 15),
            )
        )
    return out


def moving_reports(
    ref: common_pb2.StationRef, fleet: list[Unit], tag: str, count: int, batch: int
) -> list[bytes]:
    """``count`` reports of the fleet in turn, each unit 12 s further along its course
    (10 % after a turn), as serialised requests of ``batch`` envelopes each."""
    rng = random.Random(tag)
    envelopes = []
    for i in range(count):
        u = fleet[i % len(fleet)]
        if rng.random() < 0.1:
            u.course = (u.course + rng.uniform(-60, 60)) % 360
        u.lat, u.lon = destination(u.lat, u.lon, u.course, u.speed * 12.0)
        if not (LAT[0] < u.lat < LAT[1] and LON[0] < u.lon < LON[1]):
            u.course = (u.course + 180.0) % 360
        report = positions_pb2.PositionReport(positions=[u.position()])
        envelopes.append(envelope(ref, report, message_id=f"{tag}-{i}"))
    return [
        services_pb2.SessionRequest(
            envelopes=services_pb2.EnvelopeBatch(envelopes=envelopes[i : i + batch])
        ).SerializeToString()
        for i in range(0, count, batch)
    ]


class Station(RawStation):
    """A raw station that also counts the alerts delivered to it."""

    def __init__(self, address: str, token: str) -> None:
        super().__init__(address, token)
        self.alerts = 0

    def _deliveries(self, envelopes: Sequence[envelope_pb2.Envelope]) -> None:
        self.alerts += sum(1 for e in envelopes if e.WhichOneof("body") == "alert")
        super()._deliveries(envelopes)


@dataclass
class Side:
    """One server with BLUE's and RED's stations on GROUND_COMMANDERS."""

    setting: str
    server: Server
    blue: Station
    red: Station


@contextlib.asynccontextmanager
async def side(setting: str, server: Server, tokens: Tokens) -> AsyncIterator[Side]:
    blue = Station(server.address, tokens.ground["BLUE"])
    red = Station(server.address, tokens.ground["RED"])
    try:
        await blue.open()
        await red.open()
        yield Side(setting, server, blue, red)
    finally:
        await blue.close()
        await red.close()


async def zones_in(
    control: HotlineClient, state: zones_pb2.ZoneState.ValueType, count: int, limit: float
) -> None:
    """Waits (polling, bounded) until ``count`` zones are in ``state``."""
    deadline = time.monotonic() + limit
    while len(await control.zones([state])) < count:
        if time.monotonic() > deadline:
            raise BenchError(f"fewer than {count} zones reached state {state} in {limit} s")
        await asyncio.sleep(0.2)


async def preload(s: Side, tokens: Tokens, config: Config, zones: list[zones_pb2.Zone]) -> float:
    """Proposes and accepts the zones, and reports RED's units; returns the seconds taken."""
    start = time.perf_counter()
    station = {"BLUE": s.blue, "RED": s.red}
    other = {"BLUE": s.red, "RED": s.blue}
    async with HotlineClient(s.server.address, tokens.control) as control:
        for zone in zones:
            sender = station[zone.owner_party]
            sender.send([envelope(sender.ref, zones_pb2.ZoneProposal(zone=zone))])
        await zones_in(control, zones_pb2.ZONE_STATE_PROPOSED, len(zones), config.limit)
        for zone in zones:
            decider = other[zone.owner_party]
            decision = zones_pb2.ZoneDecision(
                zone_id=zone.zone_id, version=1, decision=zones_pb2.ZONE_DECISION_KIND_ACCEPT
            )
            decider.send([envelope(decider.ref, decision)])
        await zones_in(control, zones_pb2.ZONE_STATE_ACTIVE, len(zones), config.limit)
    if s.blue.refused or s.red.refused:
        raise BenchError(f"{s.setting}: {s.blue.refused + s.red.refused} preload refusals")
    # RED's units, in one report, recorded before BLUE starts.
    fleet = units("RED", config.units, random.Random(2))
    async with HotlineClient(s.server.address, tokens.ground["RED"]) as red:
        report = positions_pb2.PositionReport(positions=[u.position() for u in fleet])
        await red.send(envelope(s.red.ref, report))
    return time.perf_counter() - start


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User + system CPU time so far of a process (its threads included) and of its
    child processes (the deconfliction checks)."""
    process = psutil.Process(pid)
    times = process.cpu_times()
    children = 0.0
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            child_times = child.cpu_times()
            children += child_times.user + child_times.system
    return float(times.user + times.system), children


async def throughput(
    s: Side, prepared: list[bytes], config: Config
) -> tuple[float, tuple[float, float]]:
    """BLUE's reports/s routed (recorded and delivered to RED, which RECEIPTs them), and
    the server's CPU time per report in µs: its own (event loop and log writer) and its
    checks process's."""
    flow = Flow(config.count, 1)
    s.red.flow = flow
    deadline = time.monotonic() + config.limit

    async def pump() -> None:
        sent = 0
        for request in prepared:
            while flow.outstanding(s.blue.ref, sent) >= config.window:
                await flow.wait_progress(deadline)
            s.blue.outbox.put_nowait(request)
            sent += config.batch

    own, checks = cpu_seconds(s.server.pid)
    start = time.perf_counter()
    try:
        await pump()
        try:
            await asyncio.wait_for(flow.done.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise BenchError(
                f"{flow.total}/{flow.expected} deliveries in {config.limit} s"
            ) from None
    finally:
        s.red.flow = None
    rate = config.count / (flow.last - start)
    # The RECEIPTs still in flight at the end cost little; count them with the run.
    own_after, checks_after = cpu_seconds(s.server.pid)
    per_report = 1e6 / config.count
    return rate, ((own_after - own) * per_report, (checks_after - checks) * per_report)


async def main_async(config: Config) -> None:
    report = Report()
    print(f"Machine: {machine()}", flush=True)
    zones = proposals(config)
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        data_dir = Path(tmp)
        exercise = data_dir / "exercise.toml"
        write_exercise(exercise)
        tokens = await issue_tokens(data_dir, exercise)
        best = dict.fromkeys(SETTINGS, 0.0)
        runs: dict[str, list[float]] = {setting: [] for setting in SETTINGS}
        cpu: dict[str, list[tuple[float, float]]] = {setting: [] for setting in SETTINGS}
        loaded: dict[str, float] = {}
        alerts: dict[str, int] = {}
        async with contextlib.AsyncExitStack() as stack:
            sides: dict[str, Side] = {}
            for setting, options in SETTINGS.items():
                serve_args = [hotline_command(), "serve", "--listen", f"{HOST}:0"]
                serve_args += ["--data-dir", str(data_dir), "--exercise", str(exercise)]
                serve_args += ["--db", str(data_dir / f"checks-{setting}.sqlite"), *options]
                log = data_dir / f"server-{setting}.log"
                server = await stack.enter_async_context(
                    spawn(serve_args, "hotline: serving on", log)
                )
                print(f"hotline serve (checks {setting}): pid {server.pid}", flush=True)
                sides[setting] = await stack.enter_async_context(side(setting, server, tokens))
                loaded[setting] = await preload(sides[setting], tokens, config, zones)
                print(f"  preloaded in {loaded[setting]:.1f} s", flush=True)
            for setting in SETTINGS:
                sides[setting].blue.alerts = 0
            for r in range(config.repeats):
                # Alternate which goes first, so that drift on the machine hits both.
                order = list(SETTINGS) if r % 2 == 0 else list(reversed(SETTINGS))
                for setting in order:
                    s = sides[setting]
                    # The same moves for both settings (same seed), built before the clock.
                    fleet = units("BLUE", config.units, random.Random(3))
                    prepared = moving_reports(
                        s.blue.ref, fleet, f"run{r}", config.count, config.batch
                    )
                    rate, (us, checks_us) = await throughput(s, prepared, config)
                    runs[setting].append(rate)
                    cpu[setting].append((us, checks_us))
                    best[setting] = max(best[setting], rate)
                    print(
                        f"  run {r + 1}, checks {setting}: {rate:,.0f} env/s, "
                        f"server CPU {us:.0f} µs/report + checks process {checks_us:.0f} µs",
                        flush=True,
                    )
            for setting in SETTINGS:
                alerts[setting] = sides[setting].blue.alerts
    setup = f"1 sender → 1 station, raw stub, {config.batch} env per message"
    for setting in SETTINGS:
        each = ", ".join(f"{rate:,.0f}" for rate in runs[setting])
        report.add(
            f"routing, checks {setting}",
            setup,
            f"{best[setting]:,.0f} env/s (runs: {each})",
        )
    for setting in SETTINGS:
        report.add(
            f"server CPU, checks {setting}",
            "per report routed (loop + log writer), least of the runs",
            f"{min(us for us, _ in cpu[setting]):.0f} µs",
        )
    report.add(
        "checks process CPU, checks on",
        "per report routed, least of the runs",
        f"{min(us for _, us in cpu['on']):.0f} µs",
    )
    ratio = best["on"] / best["off"]
    mark = "✔" if ratio >= 0.8 else "✘"
    report.add(
        "checks overhead", "best checks-on / best checks-off", f"{ratio:.1%}", f"≥ 80 % {mark}"
    )
    print()
    print(f"Machine: {machine()}")
    print(
        f"{config.zones:,} accepted zones, {config.units} RED units known; BLUE's "
        f"{config.units} units report; best of {config.repeats} runs of {config.count:,} "
        "reports per setting."
    )
    print(
        f"Preload (propose, accept, RED's report): checks on {loaded['on']:.1f} s, "
        f"off {loaded['off']:.1f} s."
    )
    print(f"Alerts delivered to BLUE during the runs: on {alerts['on']:,}, off {alerts['off']:,}.")
    print()
    print(report.table())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke test")
    args = parser.parse_args()
    try:
        asyncio.run(main_async(QUICK if args.quick else FULL))
    except BenchError as error:
        raise SystemExit(f"deconfliction_e2e: {error}") from None


if __name__ == "__main__":
    main()
