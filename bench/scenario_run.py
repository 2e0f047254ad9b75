"""A scenario run at exercise scale: does the runner keep its schedule, and how fast
does the server route while it plays?

4 parties (BLUE, RED, GREEN, GOLD) with a station on each of the 3 hotlines (12
stations, every one simulated: primary and standby seats, 24 sessions), ``--units``
simulated units (125 per party by default: 40 % aircraft on AIR_OPERATIONS, the rest
ground units on GROUND_COMMANDERS, each party in its own part of the theatre) reporting
every 12 s of exercise time, and a PRIORITY text every 10 s from the stations by turns,
which the other parties' operators answer after 10 to 60 s. ``hotline serve --scenario``
runs in a child process (SQLite log, fsync on every commit); the runner in this one.

Reported: how late the runner sent each inject (wall time after its planned moment),
and the routing latency seen by the simulated stations: a delivery's arrival less the
server's ``recorded_at`` (one machine, one clock), for every delivery of every seat.

    .venv/bin/python bench/scenario_run.py [--minutes 5] [--units 500] [--time-scale 10]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import tempfile
import time
from pathlib import Path

from testbed import BenchError, Table, hotline_command, latency_text, load_average, machine
from testbed import spawn as spawn_server

from hotline.cli.scenario.command import IssuedCredentials
from hotline.cli.scenario.runner import ScenarioRunner
from hotline.contract import seconds
from hotline.server.identity import TokenAuthority, load_or_create_secret
from hotline.server.scenario import load_scenario, scaled_exercise
from hotline.server.settings import Settings
from hotline.v1 import envelope_pb2

PARTIES = ("BLUE", "RED", "GREEN", "GOLD")
HOTLINES = ("AIR_OPERATIONS", "GROUND_COMMANDERS", "GENERALS")
#: Each party's part of the theatre: (south, west) corners of 2° x 3° boxes.
CORNERS = {"BLUE": (32.5, 36.0), "RED": (35.0, 36.0), "GREEN": (32.5, 39.0), "GOLD": (35.0, 39.0)}


def scenario_text(minutes: float, units: int, scale: float, seed: int = 7) -> str:
    """The scenario file: exercise, operators, units and injects."""
    rng = random.Random(seed)
    duration = minutes * 60
    lines = [
        "[scenario]",
        'name = "Scenario run benchmark"',
        f"time_scale = {scale:g}",
        f"seed = {seed}",
        f'duration = "{duration:g}s"',
        "",
        '[exercise]\nid = "bench-scenario"\n',
        *(f'[[parties]]\nid = "{party}"\n' for party in PARTIES),
    ]
    for party in PARTIES:
        for hotline in HOTLINES:
            lines.append(
                f'[[simulated]]\nstation = "{party}/{hotline}"\n'
                'primary = { delay = { uniform = ["10s", "60s"] } }\n'
                'standby = { delay = { uniform = ["10s", "60s"] } }\n'
            )
    for n in range(units):
        party = PARTIES[n % len(PARTIES)]
        south, west = CORNERS[party]
        air = n % 5 < 2
        speed = rng.uniform(150, 250) if air else rng.uniform(5, 15)
        altitude = rng.uniform(3000, 9000) if air else 300.0
        lat, lon = south + rng.uniform(0.3, 1.7), west + rng.uniform(0.3, 2.7)
        # Out and back inside the party's box: 1/4 of a degree each way at most.
        reach = min(0.25, speed * duration / 2 / 111_000)
        bearing = rng.uniform(0, 6.283)
        far_lat = lat + reach * math.cos(bearing)
        far_lon = lon + reach * math.sin(bearing)
        points = ((0.0, lat, lon), (duration / 2, far_lat, far_lon), (duration, lat, lon))
        route = ",\n".join(
            f'  {{ at = "{at:g}s", latitude = {y:.5f}, longitude = {x:.5f}, '
            f"altitude_m = {altitude:.0f} }}"
            for at, y, x in points
        )
        domain = "AIR" if air else "GROUND"
        lines.append(
            f'[[units]]\nid = "{party}-{n}"\nparty = "{party}"\ndomain = "{domain}"\n'
            f'report_every = "12s"\nroute = [\n{route},\n]\n'
        )
    for n, at in enumerate(range(10, int(duration) - 60, 10)):
        party = PARTIES[n % len(PARTIES)]
        hotline = HOTLINES[n % 2]
        lines.append(
            f'[[injects]]\nid = "T{n}"\nat = "{at}s"\nfrom = "{party}/{hotline}"\n'
            f'priority = "PRIORITY"\nmessage = {{ text = {{ text = "check {n}" }} }}\n'
        )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="exercise minutes")
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--time-scale", type=float, default=10.0)
    args = parser.parse_args()
    print(f"Machine: {machine()}; load average {load_average()}")
    with tempfile.TemporaryDirectory(prefix="hotline-bench-scenario-") as directory:
        root = Path(directory)
        path = root / "scenario.toml"
        path.write_text(scenario_text(args.minutes, args.units, args.time_scale))
        scenario = load_scenario(path)
        assert scenario.exercise is not None
        data = root / "data"
        command = [
            hotline_command(), "serve", "--scenario", str(path), "--listen", "127.0.0.1:0",
            "--data-dir", str(data),
        ]  # fmt: skip
        latencies: list[float] = []

        def delivered(delivery: envelope_pb2.Envelope) -> None:
            latencies.append(time.time() - seconds(delivery.recorded_at))

        async with spawn_server(command, "hotline: serving on", root / "server.log") as server:
            authority = TokenAuthority(
                load_or_create_secret(Settings(data_dir=data).token_secret_file),
                scaled_exercise(scenario.exercise, scenario.time_scale),
            )
            credentials = IssuedCredentials(authority, ttl_s=3600)
            runner = ScenarioRunner(scenario, server.address, credentials, on_delivery=delivered)
            started = time.perf_counter()
            result = await runner.run()
            wall = time.perf_counter() - started
        if result.problems:
            raise BenchError(f"the run had problems: {result.problems[:3]}")
    table = Table(("Measure", "Setup", "Result"))
    setup = (
        f"{len(scenario.units)} units every 12 s, {len(scenario.injects)} injects every 10 s, "
        f"12 stations, time scale {args.time_scale:g}, {args.minutes:g} min ({wall:.0f} s wall)"
    )
    table.add("inject lateness", setup, latency_text(runner.lateness))
    table.add(
        "max inject lateness",
        "",
        f"{max(runner.lateness) * 1000:.1f} ms" if runner.lateness else "-",
    )
    table.add(
        "routing latency at the stations", "every delivery, both seats", latency_text(latencies)
    )
    print()
    print(table.table())


if __name__ == "__main__":
    asyncio.run(main())
