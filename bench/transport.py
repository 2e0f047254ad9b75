"""Transport security: routing over TLS beside plaintext, and mutual-TLS set-up.

Runs two real ``hotline serve`` processes in the same run, each on its own log (SQLite,
fsync on every commit): one plaintext on loopback, one on TLS with certificates from a
throwaway exercise PKI (P-256). Every figure of one run is measured on the same machine
in the same run, so compare ratios:

* **routing** — rounds that alternate between the two servers (the order reversed every
  round): position reports BLUE → RED on GROUND_COMMANDERS through
  :class:`hotline.client.StationClient`, each recorded and delivered, its RECEIPT
  recorded; median and range of the rate and of TLS / plaintext within each round.
* **latency** — a steady 1,000 envelopes/s through ``StationClient``; send time to
  delivery at the receiving station, one clock; against each server.
* **set-up** — 200 stations, each with a certificate of its own, connecting at once to
  a third server that requires client certificates (mutual TLS, the certificate alone
  the credential); time until every session is open, and each session's own set-up
  time; beside 200 token-holding stations connecting at once over plaintext.

    .venv/bin/python bench/transport.py [--quick]

Every loop is bounded in count and time; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from testbed import (
    GROUND,
    BenchError,
    Report,
    issue_tokens,
    latency_text,
    lib_paced,
    lib_stations,
    lib_throughput,
    load_average,
    machine,
    percentile,
    serve_command,
    spawn,
    spread,
    write_exercise,
)

from hotline.client import StationClient, Tls
from hotline.testing.pki import ExercisePki
from hotline.v1 import common_pb2

EXERCISE_ID = "bench-routing"
#: The stations of the set-up phase.
CROWD = 200


@dataclass(frozen=True)
class Plan:
    rounds: int
    count: int
    window: int
    rate: float
    duration: float
    warmup: float


FULL = Plan(rounds=5, count=10_000, window=256, rate=1000.0, duration=20.0, warmup=2.0)
QUICK = Plan(rounds=2, count=3_000, window=256, rate=1000.0, duration=6.0, warmup=1.0)


@dataclass
class Target:
    name: str
    address: str
    blue: str
    red: str
    tls: Tls | None


@contextlib.asynccontextmanager
async def _server(
    work: Path, name: str, exercise: Path, options: Sequence[str] = ()
) -> AsyncIterator[tuple[str, Path]]:
    data = work / name
    data.mkdir()
    command = [*serve_command(data, exercise, "hotline.sqlite"), *options]
    async with spawn(command, "hotline: serving on", work / f"{name}.log") as server:
        yield server.address, data


async def _routing(targets: Sequence[Target], plan: Plan, report: Report) -> None:
    rates: dict[str, list[float]] = {t.name: [] for t in targets}
    for round_number in range(plan.rounds):
        order = targets if round_number % 2 == 0 else list(reversed(targets))
        for target in order:
            async with lib_stations(target.address, [target.blue, target.red], target.tls) as (
                blue,
                red,
            ):
                rate = await lib_throughput(
                    senders=[blue], receivers=[red], count=plan.count, window=plan.window, limit=120
                )
            rates[target.name].append(rate)
            print(f"  round {round_number + 1}: {target.name} {rate:,.0f} reports/s", flush=True)
    plain, tls = rates["plaintext"], rates["TLS"]
    setup = f"BLUE → RED, StationClient, {plan.count:,} reports, {plan.rounds} rounds"
    report.add("routing, plaintext", setup, spread(plain, "{:,.0f}") + " /s")
    report.add("routing, TLS", setup, spread(tls, "{:,.0f}") + " /s")
    ratios = [t / p for t, p in zip(tls, plain, strict=True)]
    report.add("routing, TLS / plaintext", "within each round", spread(ratios, "{:.0%}"), "≥ 85 %")


async def _latency(targets: Sequence[Target], plan: Plan, report: Report) -> None:
    for target in targets:
        async with lib_stations(target.address, [target.blue, target.red], target.tls) as (
            blue,
            red,
        ):
            flow = await lib_paced(
                blue, red, rate=plan.rate, duration=plan.duration, warmup=plan.warmup
            )
        if not flow.latencies:
            raise BenchError(f"{target.name}: no deliveries timed")
        report.add(
            f"latency, {target.name}",
            f"{plan.rate:,.0f} env/s for {plan.duration:g} s, StationClient",
            latency_text(flow.latencies),
            "p99 < 10 ms",
        )


async def _crowd(
    address: str, credentials: Sequence[tuple[str | None, Tls | None]]
) -> tuple[float, list[float]]:
    """Opens a station session for every credential at once; the time until all are
    open and each one's own set-up time."""
    clients = [
        StationClient(address, token, tls=tls, connect_timeout=120.0) for token, tls in credentials
    ]
    took: list[float] = []

    async def open_one(client: StationClient) -> None:
        began = time.perf_counter()
        await client.__aenter__()
        took.append(time.perf_counter() - began)

    start = time.perf_counter()
    try:
        async with asyncio.timeout(180), asyncio.TaskGroup() as tasks:
            for client in clients:
                tasks.create_task(open_one(client))
        return time.perf_counter() - start, took
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


async def _set_up(
    work: Path, exercise: Path, pki: ExercisePki, plain: Target, report: Report
) -> None:
    options = [
        "--tls-cert", str(pki.directory / "server.crt"),
        "--tls-key", str(pki.directory / "server.key"),
        "--client-ca", str(pki.ca_file),
    ]  # fmt: skip
    parties = ("BLUE", "RED")
    hotlines = (common_pb2.HOTLINE_AIR_OPERATIONS, GROUND, common_pb2.HOTLINE_GENERALS)
    certificates = [
        pki.tls(pki.station(parties[i % 2], hotlines[(i // 2) % 3], standby=i % 12 >= 6))
        for i in range(CROWD)
    ]
    async with _server(work, "mutual", exercise, options) as (address, _):
        wall, each = await _crowd(address, [(None, tls) for tls in certificates])
    tokens = [plain.blue if i % 2 == 0 else plain.red for i in range(CROWD)]
    plain_wall, plain_each = await _crowd(plain.address, [(t, None) for t in tokens])
    for name, total, times in (
        ("mutual TLS, certificate alone", wall, each),
        ("plaintext, token", plain_wall, plain_each),
    ):
        report.add(
            f"set-up, {name}",
            f"{CROWD} stations connecting at once",
            f"all open in {total:.2f} s; each p50 {percentile(times, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(times, 0.99) * 1000:.0f} ms",
        )


async def main_async(plan: Plan) -> None:
    print(f"machine: {machine()}; load average {load_average()}", flush=True)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="hotline-bench-transport-") as name:
        work = Path(name)
        exercise = work / "exercise.toml"
        write_exercise(exercise, exercise_id=EXERCISE_ID)
        pki = ExercisePki(work / "pki", exercise_id=EXERCISE_ID)
        tls_options = [
            "--tls-cert", str(pki.directory / "server.crt"),
            "--tls-key", str(pki.directory / "server.key"),
        ]  # fmt: skip
        async with (
            _server(work, "plain", exercise) as (plain_address, plain_data),
            _server(work, "tls", exercise, tls_options) as (tls_address, tls_data),
        ):
            plain_tokens = await issue_tokens(plain_data, exercise)
            tls_tokens = await issue_tokens(tls_data, exercise)
            plain = Target(
                "plaintext",
                plain_address,
                plain_tokens.ground["BLUE"],
                plain_tokens.ground["RED"],
                None,
            )
            tls = Target(
                "TLS", tls_address, tls_tokens.ground["BLUE"], tls_tokens.ground["RED"], pki.tls()
            )
            await _routing([plain, tls], plan, report)
            await _latency([plain, tls], plan, report)
            await _set_up(work, exercise, pki, plain, report)
    print()
    print(report.table())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    args = parser.parse_args()
    asyncio.run(main_async(QUICK if args.quick else FULL))


if __name__ == "__main__":
    main()
