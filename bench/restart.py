"""Restart time against the log's length: a server restarted on a log of 10,000, 100,000
and 1,000,000 records, with 1,000 chains pending, beside an empty log, in the same run.

Each log is a signed exercise written by ``exercise_log.py`` (none for the empty one),
in a data directory of its own that holds the signer key it was written with. It is
prepared once: the server's first start on it reads the whole log (no snapshot yet:
timed, as context), 1,000 ROUTINE texts go to a station that never connects (RED on
GENERALS; their deadlines are months away, so none falls due and the cache stays
usable), and a clean stop (SIGTERM) stores the final snapshot. The prepared directories
are kept under ``--cache`` between runs; a run checks each with an untimed start first,
and if the server's code can no longer use its snapshot (another version), that start
reads the whole log again, is reported as the first start, and stores a new snapshot.

Then each is copied aside and restarted, ``--rounds`` times in alternating order (the
order reversed every other round): the time from starting the process to the server
answering ``ExerciseService.GetStatus``, the records it read after the snapshot (from its
own log line), the chains still pending (``awaiting_response`` of the absent station)
and the RSS of the server and of its checks process right after. Last, per log, one
restart after ``kill -9``: the server is started, up to 5,000 records are added after
its snapshot (position reports and their RECEIPTs), it is killed, and the restart that
has to read them is timed. Target (issue 14): a 1,000,000-record log restarts within 2 s
of an empty one.

    .venv/bin/python bench/restart.py [--quick] [--sizes 0,10000,100000,1000000]
        [--rounds 5] [--cache /tmp/hotline-bench-restart]

Every wait is bounded and follows an event; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import shutil
import signal
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs among the dev dependencies
from exercise_log import SIGNER, exercise_log
from loads import credentials, preload
from testbed import (
    DASH,
    GENERALS,
    MIB,
    BenchError,
    Server,
    Table,
    code_state,
    control_token,
    load_average,
    machine,
    raw_stations,
    raw_throughput,
    rss_of,
    serve_command,
    server_pids,
    spawn,
    write_exercise,
)

from hotline.client import HotlineClient
from hotline.v1 import services_pb2

SIZES = (0, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (0, 2_000, 20_000)
#: Chains left pending before the clean stop: texts RED must receipt and answer on
#: GENERALS, where it never connects.
PENDING = 1_000
#: Position reports routed after the snapshot before ``kill -9``: each is recorded with
#: its RECEIPT, so with the sessions' records the restart reads about 4,800 records,
#: short of the next snapshot (5,000 records after the last).
KILL_FILL = 2_400
QUICK_KILL_FILL = 500
#: ROUTINE deadlines of the benchmark's exercise: a prepared log keeps its chains pending
#: for a month of reruns.
ROUTINE_DEADLINES = ("720h", "1440h")
READY = "hotline: serving on"
LOG_FILE = "hotline.sqlite"
#: Bumped whenever what a prepared directory holds changes.
CACHE_FORMAT = 1
#: The first start of a log without a snapshot reads every record (50 to 75 µs each with
#: the checks, as measured): 1,000,000 records take about a minute.
FIRST_START_LIMIT_S = 1800.0
RESTART_LIMIT_S = 120.0
STOP_LIMIT_S = 300.0
_RECOVERED = re.compile(r"recovered (\d+) records \((\d+) read after the snapshot\)")


@dataclass
class Prepared:
    """A data directory ready to be restarted, and how its first start went."""

    records: int
    generated_s: float
    first_start_s: float
    first_start_read: int
    first_start_rss: int
    pending: int
    stop_s: float
    log_size: int
    prepared_at: str
    format: int = CACHE_FORMAT


@dataclass
class Start:
    """One start of a server: to its ready line, to its first answer; what it read."""

    ready_s: float
    answer_s: float
    read_after_snapshot: int
    records: int
    pending: int
    log_size: int
    rss_server: int
    rss_checks: int
    stop_s: float = 0.0


# ---------------------------------------------------------------------- servers


def awaiting(status: services_pb2.GetStatusResponse, party: str, hotline: int) -> int:
    for station in status.stations:
        if station.station.ref.party == party and station.station.ref.hotline == hotline:
            return int(station.awaiting_response)
    raise BenchError(f"no station {party} on hotline {hotline} in GetStatus")


def recovered(server_log: Path) -> tuple[int, int]:
    """The records the server's last start recovered, and how many of them it read
    after the snapshot, from its log line."""
    found = _RECOVERED.findall(server_log.read_text(errors="replace"))
    if not found:
        raise BenchError(f"{server_log}: no 'recovered' line")
    total, after = found[-1]
    return int(total), int(after)


async def stop(server: Server) -> float:
    """SIGTERM and the time until the process has gone (the final snapshot stored)."""
    started = time.perf_counter()
    server.process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(server.process.wait(), STOP_LIMIT_S)
    except TimeoutError:
        raise BenchError(f"the server did not stop within {STOP_LIMIT_S:.0f} s") from None
    if server.process.returncode != 0:
        raise BenchError(f"the server stopped with status {server.process.returncode}")
    return time.perf_counter() - started


async def crash(server: Server) -> None:
    """``kill -9`` of the server process alone, as a crash; its checks process goes
    when its pipe closes (killed too if it has not within 10 s)."""
    children = []
    for pid in server_pids(server)[1:]:
        with contextlib.suppress(psutil.Error):
            children.append(psutil.Process(pid))
    server.process.kill()
    await asyncio.wait_for(server.process.wait(), 30.0)
    _, alive = await asyncio.to_thread(psutil.wait_procs, children, 10.0)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


async def start(
    data_dir: Path, token: str, server_log: Path, *, limit: float = RESTART_LIMIT_S
) -> tuple[Start, contextlib.AsyncExitStack, Server]:
    """Starts ``hotline serve`` on ``data_dir`` and times it up to its first answer;
    returns the figures and the running server (with the stack that stops it)."""
    exercise = data_dir / "exercise.toml"
    args = serve_command(data_dir, exercise, LOG_FILE)
    stack = contextlib.AsyncExitStack()
    began = time.perf_counter()
    try:
        server = await stack.enter_async_context(spawn(args, READY, server_log, ready_within=limit))
        ready = time.perf_counter() - began
        async with HotlineClient(server.address, token) as client:
            status = await asyncio.wait_for(client.status(), limit)
        answer = time.perf_counter() - began
        rss_server, rss_checks = rss_of(server)
        records, after = recovered(server_log)
    except BaseException:
        await stack.aclose()
        raise
    figures = Start(
        ready_s=ready,
        answer_s=answer,
        read_after_snapshot=after,
        records=records,
        pending=awaiting(status, "RED", GENERALS),
        log_size=int(status.log_size),
        rss_server=rss_server,
        rss_checks=rss_checks,
    )
    return figures, stack, server


async def restart(data_dir: Path, token: str, server_log: Path) -> Start:
    """One timed restart and clean stop."""
    figures, stack, server = await start(data_dir, token, server_log)
    async with stack:
        figures.stop_s = await stop(server)
    return figures


# ---------------------------------------------------------------------- preparation


def prepared_of(directory: Path, records: int) -> Prepared | None:
    marker = directory / "prepared.json"
    with contextlib.suppress(OSError, ValueError, TypeError):
        prepared = Prepared(**json.loads(marker.read_text()))
        if prepared.records == records and prepared.format == CACHE_FORMAT:
            return prepared
    return None


def fresh_directory(directory: Path) -> Path:
    """An empty data directory with the exercise log's signer key and the benchmark's
    exercise (whose path it returns)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    # The key the exercise log is signed with: the server signs on with it.
    (directory / "signing.key").write_text(SIGNER.encode() + "\n")
    exercise = directory / "exercise.toml"
    write_exercise(exercise, exercise_id="bench-restart", routine=ROUTINE_DEADLINES)
    return exercise


def write_marker(directory: Path, prepared: Prepared) -> None:
    (directory / "prepared.json").write_text(json.dumps(asdict(prepared)))


async def prepare(directory: Path, records: int) -> Prepared:
    """The data directory of a ``records``-record log with :data:`PENDING` chains
    pending and a snapshot from its clean stop (reused if already prepared)."""
    ready = prepared_of(directory, records)
    if ready is not None:
        try:
            return await reuse(directory, ready)
        except BenchError as error:
            print(f"  {records:,} records: the prepared log cannot be reused ({error})", flush=True)
    exercise = fresh_directory(directory)
    generated = 0.0
    if records:
        began = time.perf_counter()
        await asyncio.to_thread(exercise_log, directory / LOG_FILE, records)
        generated = time.perf_counter() - began
        print(f"  {records:,} records: log written in {generated:.1f} s", flush=True)
    control = control_token(directory, exercise)
    (sender,) = credentials(directory, exercise, [("BLUE", "GENERALS")])
    first, stack, server = await start(
        directory, control, directory / "first-start.log", limit=FIRST_START_LIMIT_S
    )
    async with stack:
        print(
            f"  {records:,} records: first start (whole log read) {first.answer_s:.1f} s",
            flush=True,
        )
        async with raw_stations(server.address, [sender]) as (blue,):
            await preload(blue, PENDING, 120.0, tag="pending")
        async with HotlineClient(server.address, control) as client:
            status = await asyncio.wait_for(client.status(), 30.0)
        pending = awaiting(status, "RED", GENERALS)
        if pending < PENDING:
            raise BenchError(f"{pending} chains pending after {PENDING} texts")
        stopped = await stop(server)
    done = Prepared(
        records=records,
        generated_s=generated,
        first_start_s=first.answer_s,
        first_start_read=first.read_after_snapshot,
        first_start_rss=first.rss_server + first.rss_checks,
        pending=pending,
        stop_s=stopped,
        log_size=int(status.log_size),
        prepared_at=time.strftime("%Y-%m-%d %H:%M"),
    )
    write_marker(directory, done)
    return done


async def reuse(directory: Path, prepared: Prepared) -> Prepared:
    """A prepared directory, checked with an untimed start and clean stop. If this code
    could not use its snapshot (written by another version), that start read the whole
    log: it is then the first start to report, and its stop stored a snapshot this code
    reads."""
    token = control_token(directory, directory / "exercise.toml")
    check, stack, server = await start(
        directory, token, directory / "check-start.log", limit=FIRST_START_LIMIT_S
    )
    async with stack:
        stopped = await stop(server)
    records = prepared.records
    if check.pending != prepared.pending:
        raise BenchError(f"{check.pending:,} chains pending, not {prepared.pending:,}")
    if check.read_after_snapshot == 0:
        print(f"  {records:,} records: prepared {prepared.prepared_at}, reused", flush=True)
        return prepared
    print(
        f"  {records:,} records: the snapshot was of another version; whole log read in "
        f"{check.answer_s:.1f} s",
        flush=True,
    )
    prepared.first_start_s = check.answer_s
    prepared.first_start_read = check.read_after_snapshot
    prepared.first_start_rss = check.rss_server + check.rss_checks
    prepared.stop_s = stopped
    prepared.prepared_at = time.strftime("%Y-%m-%d %H:%M")
    write_marker(directory, prepared)
    return prepared


# ---------------------------------------------------------------------- measurement


async def after_kill(data_dir: Path, token: str, fill: int) -> Start:
    """Starts the server, routes ``fill`` position reports (each with its RECEIPT) after
    its snapshot, kills it, and times the restart that reads them back."""
    exercise = data_dir / "exercise.toml"
    blue, red = credentials(
        data_dir, exercise, [("BLUE", "AIR_OPERATIONS"), ("RED", "AIR_OPERATIONS")]
    )
    _, stack, server = await start(data_dir, token, data_dir / "before-kill.log")
    async with stack, raw_stations(server.address, [blue, red]) as (sender, receiver):
        await raw_throughput(
            senders=[sender],
            receivers=[receiver],
            tag=f"fill-{time.time_ns()}",
            count=fill,
            batch=64,
            window=2048,
            limit=120.0,
        )
        # Every report was delivered, so recorded; now the RECEIPTs are too.
        deadline = time.monotonic() + 30.0
        while receiver.results < fill:
            receiver.results_changed.clear()
            await asyncio.wait_for(
                receiver.results_changed.wait(), max(0.0, deadline - time.monotonic())
            )
        await crash(server)
    return await restart(data_dir, token, data_dir / "after-kill.log")


def seconds(values: Sequence[float]) -> str:
    """Median and range, in seconds."""
    mid = statistics.median(values)
    low, high = min(values), max(values)
    if len(values) == 1:
        return f"{mid:.2f} s"
    return f"{mid:.2f} s ({low:.2f}{DASH}{high:.2f})"


def signed(values: Sequence[float]) -> str:
    mid = statistics.median(values)
    low, high = min(values), max(values)
    return f"{mid:+.2f} s ({low:+.2f} to {high:+.2f})"


@dataclass
class Run:
    size: int
    prepared: Prepared
    work: Path
    token: str
    starts: list[Start]
    killed: Start | None = None


async def main_async(args: argparse.Namespace) -> None:
    sizes: list[int] = args.sizes or list(QUICK_SIZES if args.quick else SIZES)
    rounds: int = args.rounds or (2 if args.quick else 5)
    fill = QUICK_KILL_FILL if args.quick else KILL_FILL
    cache: Path = args.cache
    print(f"Machine: {machine()}; load average {load_average()}", flush=True)
    print(code_state(), flush=True)
    began = time.perf_counter()
    print(f"preparing (cache {cache}):", flush=True)
    prepared = {size: await prepare(cache / f"restart-{size}", size) for size in sizes}
    with tempfile.TemporaryDirectory(prefix="hotline-bench-restart-") as tmp:
        runs: dict[int, Run] = {}
        for size in sizes:
            work = Path(tmp) / f"log-{size}"
            await asyncio.to_thread(shutil.copytree, cache / f"restart-{size}", work)
            token = control_token(work, work / "exercise.toml")
            runs[size] = Run(size, prepared[size], work, token, [])
        print(f"measuring, {rounds} rounds; load average {load_average()}", flush=True)
        for r in range(rounds):
            order = sizes if r % 2 == 0 else sizes[::-1]
            for size in order:
                run = runs[size]
                figures = await restart(run.work, run.token, run.work / f"round-{r}.log")
                run.starts.append(figures)
                print(
                    f"  round {r + 1}: {size:,} records: answered in {figures.answer_s:.2f} s "
                    f"(serving at {figures.ready_s:.2f} s), read "
                    f"{figures.read_after_snapshot:,} after the snapshot, "
                    f"{figures.pending:,} pending, stop {figures.stop_s:.2f} s",
                    flush=True,
                )
        print(f"kill -9, {fill:,} reports after the snapshot; load {load_average()}", flush=True)
        for size in sizes:
            run = runs[size]
            run.killed = await after_kill(run.work, run.token, fill)
            print(
                f"  {size:,} records: answered in {run.killed.answer_s:.2f} s after kill -9, "
                f"read {run.killed.read_after_snapshot:,} after the snapshot",
                flush=True,
            )
    print()
    print(f"Machine: {machine()}; load average {load_average()}")
    print(code_state())
    print(
        f"SQLite log, fsync per commit, deconfliction checks on; {PENDING:,} chains pending; "
        f"{rounds} rounds, alternating order; whole run {time.perf_counter() - began:.0f} s."
    )
    print()
    print(table(runs, sizes).table())
    print()
    print(read_after_clean_stops(runs))


def table(runs: dict[int, Run], sizes: Sequence[int]) -> Table:
    out = Table(
        (
            "Log (records at the restart)",
            "First start, no snapshot",
            "Restart after a clean stop",
            "Beside the empty log, same round",
            "Chains pending after each restart",
            "RSS after restart, server + checks",
            "Restart after kill -9",
            "Clean stop",
        )
    )
    empty = runs.get(0) or runs[sizes[0]]
    for size in sizes:
        run = runs[size]
        starts = [*run.starts, *([run.killed] if run.killed is not None else [])]
        gaps = [s.answer_s - e.answer_s for s, e in zip(run.starts, empty.starts, strict=True)]
        expected = run.prepared.pending
        kept = sum(s.pending == expected for s in starts)
        first = (
            f"{run.prepared.first_start_s:.1f} s, {run.prepared.first_start_rss / MIB:.0f} MiB"
            if size
            else "-"
        )
        killed = (
            f"{run.killed.answer_s:.2f} s ({run.killed.read_after_snapshot:,} records "
            "after the snapshot)"
            if run.killed is not None
            else "-"
        )
        out.add(
            f"{size:,} ({run.starts[-1].records:,})"
            if size
            else f"empty ({run.starts[-1].records:,})",
            first,
            seconds([s.answer_s for s in run.starts]),
            signed(gaps) if run is not empty else "-",
            f"{expected:,} in {kept} of {len(starts)} {'✔' if kept == len(starts) else '✘'}",
            f"{statistics.median(s.rss_server for s in run.starts) / MIB:.0f} + "
            f"{statistics.median(s.rss_checks for s in run.starts) / MIB:.0f} MiB",
            killed,
            seconds([s.stop_s for s in run.starts]),
        )
    return out


def read_after_clean_stops(runs: dict[int, Run]) -> str:
    """What the timed restarts read after their snapshot (a clean stop leaves nothing)."""
    most = max(s.read_after_snapshot for run in runs.values() for s in run.starts)
    return (
        "Every timed restart after a clean stop read its snapshot and 0 records after it."
        if most == 0
        else f"A timed restart after a clean stop read up to {most:,} records after its snapshot."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small logs, for a smoke test")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(s) for s in text.split(",")],
        help=f"comma-separated log sizes in records (default {','.join(map(str, SIZES))})",
    )
    parser.add_argument("--rounds", type=int, default=0, help="timed restarts of each log")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "hotline-bench-restart",
        help="where the prepared logs are kept between runs (default %(default)s)",
    )
    args = parser.parse_args()
    try:
        asyncio.run(main_async(args))
    except BenchError as error:
        raise SystemExit(f"restart: {error}") from None


if __name__ == "__main__":
    main()
