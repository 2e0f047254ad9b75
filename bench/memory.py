"""Server memory over a long exercise: RSS after every 100,000 messages up to 1,000,000.

A real ``hotline serve`` (SQLite log, fsync on every commit, checks and audit trail on)
in its own process; BLUE and RED on AIR_OPERATIONS, each sending to the other through a
bare stub, 64 envelopes per stream message, as fast as the server takes them: nine in
ten messages a position report, one in ten a ROUTINE text; every message has an id of
its own. The receiving station sends a RECEIPT for every delivery and answers every
text with WILCO, as an operator would, so nothing stays owed: what the server holds is
what a long, busy exercise leaves behind. After a warm-up, the traffic stops at every
``--step`` messages until every message is delivered and every answer recorded; then
the RSS of the server process and of its checks process are read (psutil), the
server's split by mapping (``/proc/PID/smaps``: malloc's main heap, other anonymous
memory, files). Target (issue 14): flat within 10 % after the first 100,000 messages.

    .venv/bin/python bench/memory.py [--quick] [--messages 1000000] [--step 100000]

Every wait is bounded and follows an event; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from loads import credentials
from testbed import (
    AIR,
    MIB,
    BenchError,
    RawStation,
    Server,
    Table,
    code_state,
    control_token,
    load_average,
    machine,
    position_report,
    rss_of,
    serve_command,
    spawn,
    text_message,
    write_exercise,
)

from hotline.client import HotlineClient, acknowledgment, envelope
from hotline.v1 import acknowledgments_pb2, envelope_pb2, services_pb2

#: One message in this many is a text to answer; the rest are position reports.
TEXT_EVERY = 10
BATCH = 64
#: Messages a station may have sent that the other has not yet been delivered.
WINDOW = 4096
#: A step's traffic must be through within this many seconds.
STEP_LIMIT_S = 600.0


@dataclass(frozen=True)
class Plan:
    messages: int
    step: int
    warmup: int


FULL = Plan(messages=1_000_000, step=100_000, warmup=20_000)
QUICK = Plan(messages=60_000, step=10_000, warmup=4_000)


class Operator(RawStation):
    """A station that sends its share of the traffic and answers what it is sent: a
    RECEIPT for every delivery (as :class:`RawStation` does) and a WILCO for every
    text."""

    def __init__(self, address: str, token: str) -> None:
        super().__init__(address, token)
        self.sent = 0
        self.texts_sent = 0
        self.delivered = 0
        self.answers = 0
        self.acks_sent = 0
        self.progress = asyncio.Event()

    def _deliveries(self, envelopes: Sequence[envelope_pb2.Envelope]) -> None:
        wilcos = []
        for message in envelopes:
            body = message.WhichOneof("body")
            if body in ("acknowledgment", "alert", "zone_status"):
                continue
            self.delivered += 1
            self.acks_sent += 1
            if body == "text":
                wilco = acknowledgment(message.message_id, acknowledgments_pb2.ACK_KIND_WILCO)
                wilcos.append(envelope(self.ref, wilco, message.priority))
        super()._deliveries(envelopes)
        if wilcos:
            self.answers += len(wilcos)
            self.acks_sent += len(wilcos)
            self.send(wilcos)
        self.progress.set()

    def batch(self, tag: str, first: int, count: int) -> bytes:
        """``count`` messages, numbered from ``first``, as one stream message."""
        party = self.ref.party
        out = []
        for i in range(first, first + count):
            message_id = f"{tag}-{party}-{i}"
            if i % TEXT_EVERY == TEXT_EVERY - 1:
                out.append(envelope(self.ref, text_message(i), message_id=message_id))
                self.texts_sent += 1
            else:
                out.append(envelope(self.ref, position_report(i, party), message_id=message_id))
        request = services_pb2.SessionRequest(envelopes=services_pb2.EnvelopeBatch(envelopes=out))
        return request.SerializeToString()


async def pump(station: Operator, other: Operator, count: int, tag: str, deadline: float) -> None:
    """Sends ``count`` more messages from ``station``, at most :data:`WINDOW` of them not
    yet delivered to ``other``."""
    end = station.sent + count
    while station.sent < end:
        while station.sent - other.delivered >= WINDOW:
            other.progress.clear()
            await asyncio.wait_for(other.progress.wait(), max(0.0, deadline - time.monotonic()))
        size = min(BATCH, end - station.sent)
        station.outbox.put_nowait(station.batch(tag, station.sent, size))
        station.sent += size
        if station.refused:
            raise BenchError(f"the server refused {station.refused} envelopes")


async def settled(stations: Sequence[Operator], deadline: float) -> None:
    """Until every message is delivered and every envelope sent (messages and answers)
    has its result: everything recorded, nothing owed."""
    blue, red = stations

    def done() -> bool:
        return (
            red.delivered >= blue.sent
            and blue.delivered >= red.sent
            and all(s.results >= s.sent + s.acks_sent for s in stations)
        )

    while not done():
        for station in stations:
            station.progress.clear()
            station.results_changed.clear()
        waits = [asyncio.ensure_future(s.progress.wait()) for s in stations] + [
            asyncio.ensure_future(s.results_changed.wait()) for s in stations
        ]
        try:
            finished, _ = await asyncio.wait(
                waits,
                timeout=max(0.0, deadline - time.monotonic()),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for wait in waits:
                wait.cancel()
        if not finished and not done():
            counts = [(s.sent, s.delivered, s.results, s.acks_sent) for s in stations]
            raise BenchError(
                f"traffic not settled in time (sent, delivered, results, acks): {counts}"
            )
    if any(s.refused for s in stations):
        raise BenchError(f"refused: {[s.refused for s in stations]}")


@dataclass
class Sample:
    messages: int
    records: int
    rss_server: int
    rss_checks: int
    rate: float
    answered: int
    #: The server's resident memory by mapping: malloc's main heap (brk), other
    #: anonymous memory (Python's arenas, other threads' malloc arenas, large arrays and
    #: buffers), files (the interpreter and libraries).
    kinds: tuple[int, int, int] = (0, 0, 0)


def resident_by_kind(pid: int) -> tuple[int, int, int]:
    """Resident bytes of ``pid`` in its main heap, other anonymous memory and files,
    from ``/proc/PID/smaps`` (zeros where there is none)."""
    heap = anonymous = files = 0
    name = ""
    try:
        lines = Path(f"/proc/{pid}/smaps").read_text().splitlines()
    except OSError:
        return 0, 0, 0
    for line in lines:
        fields = line.split()
        if not fields:
            continue
        if "-" in fields[0] and not fields[0].endswith(":"):
            name = fields[5] if len(fields) > 5 else ""
        elif fields[0] == "Rss:":
            size = int(fields[1]) * 1024
            if name == "[heap]":
                heap += size
            elif name.startswith("/"):
                files += size
            else:
                anonymous += size
    return heap, anonymous, files


def split(kinds: tuple[int, int, int]) -> str:
    return " / ".join(f"{size / MIB:.1f}" for size in kinds)


async def sample(server: Server, control: str, messages: int, rate: float) -> Sample:
    async with HotlineClient(server.address, control) as client:
        status = await asyncio.wait_for(client.status(), 30.0)
    answered = sum(h.answered for h in status.hotlines)
    rss_server, rss_checks = rss_of(server)
    kinds = resident_by_kind(server.pid)
    taken = Sample(messages, int(status.log_size), rss_server, rss_checks, rate, answered, kinds)
    print(
        f"  {messages:>9,} messages, {taken.records:>9,} records: server "
        f"{rss_server / MIB:.1f} MiB ({split(kinds)}), checks {rss_checks / MIB:.1f} MiB "
        f"({rate:,.0f} messages/s; load {load_average()})",
        flush=True,
    )
    return taken


async def run(plan: Plan, data_dir: Path) -> list[Sample]:
    exercise = data_dir / "exercise.toml"
    write_exercise(exercise, exercise_id="bench-memory")
    blue_token, red_token = credentials(
        data_dir, exercise, [("BLUE", "AIR_OPERATIONS"), ("RED", "AIR_OPERATIONS")]
    )
    control = control_token(data_dir, exercise)
    args = serve_command(data_dir, exercise, "hotline.sqlite")
    samples: list[Sample] = []
    async with spawn(args, "hotline: serving on", data_dir / "server.log") as server:
        print(f"hotline serve: pid {server.pid}, {server.address}", flush=True)
        blue, red = Operator(server.address, blue_token), Operator(server.address, red_token)
        stations = [blue, red]
        try:
            for station in stations:
                await station.open()
            if blue.ref.hotline != AIR or red.ref.hotline != AIR:
                raise BenchError("the stations are not on AIR_OPERATIONS")

            async def traffic(count: int, tag: str) -> float:
                deadline = time.monotonic() + STEP_LIMIT_S
                began = time.perf_counter()
                await asyncio.gather(
                    pump(blue, red, count // 2, tag, deadline),
                    pump(red, blue, count - count // 2, tag, deadline),
                )
                await settled(stations, deadline)
                return count / (time.perf_counter() - began)

            rate = await traffic(plan.warmup, "warmup")
            samples.append(await sample(server, control, 0, rate))
            done = 0
            while done < plan.messages:
                step = min(plan.step, plan.messages - done)
                rate = await traffic(step, f"m{done}")
                done += step
                samples.append(await sample(server, control, done, rate))
        finally:
            for station in stations:
                await station.close()
        texts = blue.texts_sent + red.texts_sent
        answers = blue.answers + red.answers
        if answers != texts:
            raise BenchError(f"{answers} of {texts} texts answered")
    return samples


def growth(samples: Sequence[Sample], of: str) -> str:
    base = next((s for s in samples if s.messages >= 100_000), samples[1])
    last = samples[-1]
    first, end = getattr(base, of), getattr(last, of)
    return (
        f"{(end - first) / MIB:+.1f} MiB ({(end - first) / first:+.1%}) from "
        f"{base.messages:,} to {last.messages:,} messages"
    )


def table(samples: Sequence[Sample]) -> Table:
    out = Table(
        (
            "Messages",
            "Records in the log",
            "Texts answered",
            "Server RSS",
            "of which heap / other anonymous / files",
            "Checks process RSS",
            "Both",
            "Rate of the step",
        )
    )
    for s in samples:
        out.add(
            f"{s.messages:,}" + (" (after warm-up)" if s.messages == 0 else ""),
            f"{s.records:,}",
            f"{s.answered:,}",
            f"{s.rss_server / MIB:.1f} MiB",
            f"{split(s.kinds)} MiB",
            f"{s.rss_checks / MIB:.1f} MiB",
            f"{(s.rss_server + s.rss_checks) / MIB:.1f} MiB",
            f"{s.rate:,.0f} msg/s",
        )
    return out


async def main_async(args: argparse.Namespace) -> None:
    plan = QUICK if args.quick else FULL
    if args.messages:
        plan = Plan(args.messages, args.step or plan.step, plan.warmup)
    elif args.step:
        plan = Plan(plan.messages, args.step, plan.warmup)
    print(f"Machine: {machine()}; load average {load_average()}", flush=True)
    print(code_state(), flush=True)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hotline-bench-memory-") as tmp:
        samples = await run(plan, Path(tmp))
    print()
    print(f"Machine: {machine()}; load average {load_average()}")
    print(code_state())
    print(
        f"SQLite log, fsync per commit, checks and audit trail on; BLUE <-> RED on "
        f"AIR_OPERATIONS, 1 text in {TEXT_EVERY} (RECEIPT + WILCO), the rest position "
        f"reports (RECEIPT); {plan.warmup:,} messages of warm-up; whole run "
        f"{time.perf_counter() - began:.0f} s."
    )
    print()
    print(table(samples).table())
    print()
    print(f"Server RSS: {growth(samples, 'rss_server')}.")
    print(f"Checks process RSS: {growth(samples, 'rss_checks')}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke test")
    parser.add_argument("--messages", type=int, default=0, help="messages after the warm-up")
    parser.add_argument("--step", type=int, default=0, help="messages between two samples")
    args = parser.parse_args()
    try:
        asyncio.run(main_async(args))
    except BenchError as error:
        raise SystemExit(f"memory: {error}") from None


if __name__ == "__main__":
    main()
