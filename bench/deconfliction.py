"""Throughput of the deconfliction engine on a Syria-sized exercise.

Loads N accepted zones and M tracks (aircraft and ground units of two parties), then
feeds the engine PPLI-style position reports (every unit every 12 s of exercise time,
10 % of them turning) with every check on, and prints reports per second on one core.
Reports are built before the clock starts; only engine calls are timed.

    .venv/bin/python bench/deconfliction.py [--zones 10000] [--aircraft 300] [--ground 1700]
        [--mixes] [--before CHECKOUT [--pairs 3]]

``--before`` measures the code of another checkout against this one in the same run:
each mix runs in a fresh process per code (the other checkout's ``server/`` and
``proto/`` on ``PYTHONPATH``; the same feed, built by this script), the two codes
alternating, ``--pairs`` times; the table gives each code's median and range.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from testbed import LAT, LON, PARTIES, checkout_env, cpu_model, describe_checkout, random_zone

from hotline.server.deconfliction import DeconflictionEngine
from hotline.server.deconfliction.geodesy import destination
from hotline.v1 import acknowledgments_pb2, common_pb2, positions_pb2, zones_pb2

T0 = 1_700_000_000.0
EUPHRATES = ((35.95, 39.01), (35.336, 40.141), (35.02, 40.45), (34.45, 40.92))


def euphrates_line() -> zones_pb2.Zone:
    zone = zones_pb2.Zone(
        zone_id="EUPHRATES",
        version=1,
        name="Euphrates",
        kind=zones_pb2.ZONE_KIND_DECONFLICTION_LINE,
        owner_party="BLUE",
        state=zones_pb2.ZONE_STATE_ACCEPTED,
    )
    zone.geometry.corridor.half_width_m = 500.0
    for lat, lon in EUPHRATES:
        zone.geometry.corridor.path.add(latitude=lat, longitude=lon)
    return zone


@dataclass
class SimulatedUnit:
    party: str
    unit_id: str
    domain: common_pb2.Domain.ValueType
    lat: float
    lon: float
    alt: float
    course: float
    speed: float


def reports(
    rng: random.Random, aircraft: int, ground: int, rounds: int, period_s: float
) -> list[tuple[str, positions_pb2.UnitPosition, float]]:
    units = []
    for i in range(aircraft + ground):
        air = i < aircraft
        units.append(
            SimulatedUnit(
                party=PARTIES[i % 2],
                unit_id=f"{'A' if air else 'G'}{i}",
                domain=common_pb2.DOMAIN_AIR if air else common_pb2.DOMAIN_GROUND,
                lat=rng.uniform(*LAT),
                lon=rng.uniform(*LON),
                alt=rng.uniform(1000, 9000) if air else rng.uniform(150, 400),
                course=rng.uniform(0, 360),
                speed=rng.uniform(120, 250) if air else rng.uniform(0, 15),
            )
        )
    out = []
    step = period_s / len(units)
    now = T0
    for _ in range(rounds):
        for u in units:
            now += step
            if rng.random() < 0.1:
                u.course = (u.course + rng.uniform(-60, 60)) % 360
            u.lat, u.lon = destination(u.lat, u.lon, u.course, u.speed * period_s)
            # Keep everyone in the theatre: turn back at its edges.
            if not (LAT[0] < u.lat < LAT[1] and LON[0] < u.lon < LON[1]):
                u.course = (u.course + 180.0) % 360
            unit = positions_pb2.UnitPosition(
                unit_id=u.unit_id,
                callsign=u.unit_id,
                domain=u.domain,
                latitude=u.lat,
                longitude=u.lon,
                altitude_m=u.alt,
                course_deg=u.course,
                speed_mps=u.speed,
            )
            unit.observed_at.seconds = int(now)
            unit.observed_at.nanos = int((now % 1) * 1e9)
            out.append((u.party, unit, now))
    return out


@dataclass
class Row:
    reports: int
    load_s: float
    per_s: float
    us: float
    kinds: collections.Counter[str]


def run(zones: int, aircraft: int, ground: int, rounds: int, seed: int) -> Row:
    rng = random.Random(seed)
    engine = DeconflictionEngine()
    started = time.perf_counter()
    engine.zone_changed(euphrates_line(), T0)
    for i in range(zones):
        engine.zone_changed(random_zone(rng, i, T0), T0)
    load_s = time.perf_counter() - started
    feed = reports(rng, aircraft, ground, rounds, 12.0)
    warm = len(feed) // 10  # the first round fills the tracks; time the steady state
    for party, unit, now in feed[:warm]:
        engine.position_reported(party, unit, now)
    kinds: collections.Counter[str] = collections.Counter()
    report = engine.position_reported
    started = time.perf_counter()
    for party, unit, now in feed[warm:]:
        for finding in report(party, unit, now):
            kinds[acknowledgments_pb2.AlertKind.Name(finding.alert.kind)] += 1
    elapsed = time.perf_counter() - started
    timed = len(feed) - warm
    return Row(timed, load_s, timed / elapsed, elapsed / timed * 1e6, kinds)


_HERE = Path(__file__).resolve().parent


def measured_in_process(
    checkout: Path, mix: tuple[int, int, int], *, rounds: int, seed: int
) -> Row:
    """One mix run by a fresh Python whose ``hotline`` comes from ``checkout``."""
    zones, aircraft, ground = mix
    command = [
        sys.executable,
        str(_HERE / "deconfliction.py"),
        "--one",
        f"--zones={zones}",
        f"--aircraft={aircraft}",
        f"--ground={ground}",
        f"--rounds={rounds}",
        f"--seed={seed}",
    ]
    env = {**os.environ, **checkout_env(checkout)}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    data = json.loads(done.stdout.splitlines()[-1])
    return Row(data["reports"], data["load_s"], data["per_s"], data["us"], collections.Counter())


def compare(args: argparse.Namespace, mixes: list[tuple[int, int, int]]) -> None:
    before = Path(args.before).resolve()
    now = _HERE.parent
    print(f"before: {describe_checkout(before)} ({before}); now: {describe_checkout(now)}")
    header = (
        f"{'zones':>6} {'aircraft':>8} {'ground':>6} {'before reports/s':>24} "
        f"{'now reports/s':>24} {'now/before':>10}"
    )
    print(header)
    print("-" * len(header))
    for zones, aircraft, ground in mixes:
        rates: dict[str, list[float]] = {"before": [], "now": []}
        for i in range(args.pairs):
            order = [("before", before), ("now", now)]
            for name, checkout in order if i % 2 == 0 else order[::-1]:
                mix = (zones, aircraft, ground)
                row = measured_in_process(checkout, mix, rounds=args.rounds, seed=args.seed)
                rates[name].append(row.per_s)

        def cell(values: list[float]) -> str:
            return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"

        ratio = statistics.median(rates["now"]) / statistics.median(rates["before"])
        print(
            f"{zones:>6} {aircraft:>8} {ground:>6} {cell(rates['before']):>24} "
            f"{cell(rates['now']):>24} {ratio:>10.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=10_000)
    parser.add_argument("--aircraft", type=int, default=300)
    parser.add_argument("--ground", type=int, default=1_700)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mixes", action="store_true", help="also run air-heavy mixes")
    parser.add_argument("--before", help="a checkout of other code to measure against")
    parser.add_argument("--pairs", type=int, default=3, help="runs of each code per mix")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # a child of --before: one mix, as JSON
        r = run(args.zones, args.aircraft, args.ground, args.rounds, args.seed)
        print(json.dumps({"reports": r.reports, "load_s": r.load_s, "per_s": r.per_s, "us": r.us}))
        return
    print(f"CPU: {cpu_model()}; {os.cpu_count()} logical cores (the engine uses one)")
    print(f"Python {platform.python_version()} ({platform.python_implementation()})")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    mixes = [(args.zones, args.aircraft, args.ground)]
    if args.mixes:
        mixes += [(args.zones, 1000, 1000), (args.zones, 2000, 0)]
    if args.before:
        compare(args, mixes)
        return
    header = (
        f"{'zones':>6} {'aircraft':>8} {'ground':>6} {'reports':>8} {'load s':>7} "
        f"{'reports/s':>10} {'us/report':>9}  alerts"
    )
    print(header)
    print("-" * len(header))
    for zones, aircraft, ground in mixes:
        r = run(zones, aircraft, ground, args.rounds, args.seed)
        alerts = ", ".join(
            f"{k.removeprefix('ALERT_KIND_')} {n}" for k, n in sorted(r.kinds.items())
        )
        print(
            f"{zones:>6} {aircraft:>8} {ground:>6} {r.reports:>8} {r.load_s:>7.1f} "
            f"{r.per_s:>10,.0f} {r.us:>9.1f}  {alerts}"
        )


if __name__ == "__main__":
    main()
