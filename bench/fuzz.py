"""Bad input at volume: every call through a bare stub, and the status each one got.

Starts a real ``hotline serve`` (SQLite log, fsync on every commit) and makes --count
calls (100,000 by default) to every method of the contract through bare stubs (bytes
in, bytes out), 32 at a time over 8 connections, each with a station's, exercise
control's, a forged or no credential:

* **bytes** — arbitrary bytes (0 to 512) as the request message;
* **wild** — the method's request message built from its descriptor with wild values
  in any subset of its fields, nested four deep: integers at and past their limits,
  NaN and infinities, Timestamps and Durations out of range, unknown enum numbers;
* **envelope** — ``Send`` and ``Session`` with envelopes that have a header BLUE's
  station could send and a wild body, so that the checks past the header are reached.

Streams get 1 to 3 messages, a session most often an ``open`` first; an accepted
open-ended stream (a watch, a session, a paused replay) is held for half a second and
ends with DEADLINE_EXCEEDED. It prints the machine and the histogram of statuses (in
all, and by method), the records the log grew by (refusals are recorded at a bounded
rate per source), whether a station is still served afterwards, and the tracebacks in
the server's log. No status may be UNKNOWN or INTERNAL.

    .venv/bin/python bench/fuzz.py [--count N] [--seed S]

Every loop is bounded in count and time; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from testbed import HOST, BenchError, hotline_command, machine, spawn

from hotline.client import envelope
from hotline.v1 import common_pb2, envelope_pb2, messages_pb2, services_pb2, services_pb2_grpc

METHODS: list[MethodDescriptor] = [
    method for service in services_pb2.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]  # fmt: skip
STATION_METHODS = [m for m in METHODS if m.containing_service.name == "StationService"]
AIR = common_pb2.HOTLINE_AIR_OPERATIONS
BLUE_AIR = common_pb2.StationRef(party="BLUE", hotline=AIR)
CREDENTIALS = ("station", "station", "station", "control", "forged", "none")
IN_FLIGHT = 32
CONNECTIONS = 8
#: How long an accepted open-ended stream is held.
OPEN_STREAM_S = 0.5
#: A call that has no answer after this long is a failure of the run.
CALL_LIMIT_S = 30.0
#: The server ended a stream while this side still wrote to it: the client library
#: reports its own failed write (as INTERNAL) and the server's status is not seen.
ENDED_WHILE_WRITING = "(ended while the client wrote)"
FORBIDDEN = frozenset({"UNKNOWN", "INTERNAL"})
_F = FieldDescriptor


async def issue_token(data_dir: Path, *options: str) -> str:
    """A token of the built-in exercise, signed with the data directory's key."""
    process = await asyncio.create_subprocess_exec(
        hotline_command(), "token", "--data-dir", str(data_dir), "--new-key", *options,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 60.0)
    if process.returncode != 0:
        raise BenchError(f"hotline token {' '.join(options)} failed")
    return out.decode().strip()


@contextlib.asynccontextmanager
async def serving(data_dir: Path, log: Path) -> AsyncIterator[tuple[int, str]]:
    """``hotline serve`` of the built-in exercise; yields its pid and address."""
    command = [hotline_command(), "serve", "--listen", f"{HOST}:0", "--data-dir", str(data_dir)]
    async with spawn(command, "hotline: serving on", log) as server:
        yield server.pid, server.address


# ---------------------------------------------------------------------- inputs

_RANGES = {
    _F.TYPE_INT32: (-(2**31), 2**31 - 1),
    _F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    _F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    _F.TYPE_ENUM: (-(2**31), 2**31 - 1),
    _F.TYPE_UINT32: (0, 2**32 - 1),
    _F.TYPE_FIXED32: (0, 2**32 - 1),
    _F.TYPE_INT64: (-(2**63), 2**63 - 1),
    _F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    _F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    _F.TYPE_UINT64: (0, 2**64 - 1),
    _F.TYPE_FIXED64: (0, 2**64 - 1),
}
_FLOATS = (0.0, -0.0, 1.0, -1.0, 1e308, -1e308, 5e-324, float("nan"), float("inf"), -float("inf"))
_WORDS = ("BLUE", "RED", "GREEN", "srv:1", "ROZ-1", "x" * 129, "", " ", "é\u202e\x00", "🛩" * 9)


class Inputs:
    """Wild values and messages from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def scalar(self, field: FieldDescriptor) -> Any:
        rng, kind = self.rng, field.type
        if kind in _RANGES:
            low, high = _RANGES[kind]
            if field.enum_type is not None and rng.random() < 0.6:
                return rng.choice(field.enum_type.values).number
            edges = (low, high, 0, 1, -1, high // 2 + 1, low + 1, high - 1)
            choice = rng.random()
            if choice < 0.4:
                return min(max(rng.choice(edges), low), high)
            if choice < 0.7:
                return min(max(rng.randint(-3, 3), low), high)
            return rng.randint(low, high)
        if kind == _F.TYPE_BOOL:
            return rng.random() < 0.5
        if kind in (_F.TYPE_DOUBLE, _F.TYPE_FLOAT):
            if rng.random() < 0.5:
                return rng.choice(_FLOATS)
            value = rng.uniform(-400.0, 400.0)
            return value if kind == _F.TYPE_DOUBLE else float(f"{value:.3g}")
        if kind == _F.TYPE_BYTES:
            return rng.randbytes(rng.randint(0, 32))
        if rng.random() < 0.5:
            return rng.choice(_WORDS)
        return "".join(chr(rng.randint(32, 0x2FFF)) for _ in range(rng.randint(0, 24)))

    def message(self, descriptor: Descriptor, depth: int = 4) -> Message:
        """A message with any subset of its fields set to wild values."""
        message = GetMessageClass(descriptor)()
        for field in descriptor.fields:
            if self.rng.random() < 0.5:
                continue
            self._set(message, field, depth)
        return message

    def _set(self, message: Message, field: FieldDescriptor, depth: int) -> None:
        target = getattr(message, field.name)
        sub = field.message_type
        if sub is not None and sub.GetOptions().map_entry:
            entry = sub.fields_by_name
            for _ in range(self.rng.randint(0, 2)):
                key = self.scalar(entry["key"])
                if entry["value"].message_type is not None:
                    target[key].CopyFrom(self._value(entry["value"], depth))
                else:
                    target[key] = self.scalar(entry["value"])
        elif field.is_repeated:
            items = [self._value(field, depth) for _ in range(self.rng.randint(0, 3))]
            target.extend(items)
        elif sub is not None:
            target.CopyFrom(self._value(field, depth))
        else:
            setattr(message, field.name, self.scalar(field))

    def _value(self, field: FieldDescriptor, depth: int) -> Any:
        sub = field.message_type
        if sub is None:
            return self.scalar(field)
        if depth == 0:
            return GetMessageClass(sub)()
        return self.message(sub, depth - 1)

    def envelope(self) -> envelope_pb2.Envelope:
        """A wild envelope; mostly with a header BLUE's station could send."""
        message = self.message(envelope_pb2.Envelope.DESCRIPTOR)
        assert isinstance(message, envelope_pb2.Envelope)
        if self.rng.random() < 0.7:
            message.message_id = uuid.uuid4().hex
            message.sender.CopyFrom(BLUE_AIR)
            message.hotline = AIR
            message.priority = self.rng.choice(common_pb2.Priority.values()[1:])
            message.sent_at.FromNanoseconds(time.time_ns())
            for name in ("sequence", "recorded_at", "audience", "escalation_of", "replay_of"):
                message.ClearField(name)
        return message

    def request(self, method: MethodDescriptor) -> tuple[str, bytes]:
        """One request message of ``method``, serialised, and the kind of input."""
        rng = self.rng
        if rng.random() < 0.25:
            return "bytes", rng.randbytes(rng.randint(0, 512))
        message = self.message(method.input_type)
        if isinstance(message, services_pb2.SendRequest) and rng.random() < 0.75:
            message.envelope.CopyFrom(self.envelope())
            return "envelope", message.SerializeToString()
        if isinstance(message, services_pb2.SessionRequest) and rng.random() < 0.75:
            batch = [self.envelope() for _ in range(rng.randint(1, 3))]
            message.envelopes.envelopes.extend(batch)
            return "envelope", message.SerializeToString()
        return "wild", message.SerializeToString()

    def call(self) -> Call:
        rng = self.rng
        method = rng.choice(STATION_METHODS if rng.random() < 0.5 else METHODS)
        count = rng.randint(1, 3) if method.client_streaming else 1
        drawn = [self.request(method) for _ in range(count)]
        kinds = {kind for kind, _ in drawn}
        payloads = [payload for _, payload in drawn]
        if method.name == "Session" and rng.random() < 0.7:
            opening = services_pb2.SessionRequest(open=services_pb2.SessionOpen())
            payloads.insert(0, opening.SerializeToString())
        kind = "envelope" if "envelope" in kinds else "wild" if "wild" in kinds else "bytes"
        return Call(method, rng.choice(CREDENTIALS), payloads, kind)


@dataclass
class Call:
    method: MethodDescriptor
    credential: str
    payloads: list[bytes]
    kind: str

    @property
    def path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"


# ---------------------------------------------------------------------- calls


async def status_of(
    channel: grpc.aio.Channel, call: Call, metadata: tuple[tuple[str, str], ...]
) -> str:
    """Makes ``call`` through a bare stub; the name of the status it ended with."""
    method = call.method
    try:
        stub: Any
        if not method.client_streaming and not method.server_streaming:
            stub = channel.unary_unary(call.path)
            await stub(call.payloads[0], metadata=metadata, timeout=CALL_LIMIT_S)
            return "OK"
        code: grpc.StatusCode
        if not method.client_streaming:
            stub = channel.unary_stream(call.path)
            stream = stub(call.payloads[0], metadata=metadata, timeout=OPEN_STREAM_S)
            async for _ in stream:
                pass
            code = await stream.code()
            return code.name
        stub = channel.stream_stream(call.path)
        both = stub(metadata=metadata, timeout=OPEN_STREAM_S)
        try:
            for payload in call.payloads:
                await both.write(payload)
            await both.done_writing()
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            return ENDED_WHILE_WRITING
        async for _ in both:
            pass
        code = await both.code()
        return code.name
    except grpc.aio.AioRpcError as error:
        return error.code().name


@dataclass
class Tally:
    statuses: Counter[str]
    by_method: Counter[tuple[str, str]]
    by_input: Counter[tuple[str, str]]
    seconds: float = 0.0


async def fuzz(address: str, tokens: dict[str, str], count: int, seed: int) -> Tally:
    inputs = Inputs(seed)
    tally = Tally(Counter(), Counter(), Counter())
    metadata = {
        name: (("authorization", f"Bearer {token}"),) if token else ()
        for name, token in tokens.items()
    }
    channels = [
        grpc.aio.insecure_channel(address, options=(("grpc.use_local_subchannel_pool", 1),))
        for _ in range(CONNECTIONS)
    ]
    queue: asyncio.Queue[Call | None] = asyncio.Queue(maxsize=IN_FLIGHT * 2)

    async def worker(channel: grpc.aio.Channel) -> None:
        while (call := await queue.get()) is not None:
            status = await status_of(channel, call, metadata[call.credential])
            tally.statuses[status] += 1
            tally.by_method[(call.method.name, status)] += 1
            tally.by_input[(call.kind, status)] += 1
            done = sum(tally.statuses.values())
            if done % 10_000 == 0:
                print(f"  {done:,} calls, {dict(tally.statuses)}", flush=True)

    started = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as tasks:
            for i in range(IN_FLIGHT):
                tasks.create_task(worker(channels[i % CONNECTIONS]))
            for _ in range(count):
                await queue.put(inputs.call())
            for _ in range(IN_FLIGHT):
                await queue.put(None)
    finally:
        for channel in channels:
            await channel.close()
    tally.seconds = time.perf_counter() - started
    return tally


async def station_served(address: str, token: str) -> str:
    """A station's message, sent after the fuzz, recorded and answered."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = services_pb2_grpc.StationServiceStub(channel)
        message = envelope(BLUE_AIR, messages_pb2.TextMessage(text="radio check"))
        response = await stub.Send(
            services_pb2.SendRequest(envelope=message),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=CALL_LIMIT_S,
        )
    return f"yes (sequence {response.result.sequence})" if response.result.sequence else "no"


async def log_size(address: str, token: str) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = services_pb2_grpc.ExerciseServiceStub(channel)
        status = await stub.GetStatus(
            services_pb2.GetStatusRequest(),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=CALL_LIMIT_S,
        )
    return status.log_size


# ---------------------------------------------------------------------- report


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def crosstab(counts: Counter[tuple[str, str]], statuses: list[str], label: str) -> str:
    keys = sorted({key for key, _ in counts})
    rows = [
        (f"`{key}`", *(f"{counts[(key, s)]:,}" if counts[(key, s)] else "" for s in statuses))
        for key in keys
    ]
    return table((label, *statuses), rows)


def report(tally: Tally, grown: int, served: str, tracebacks: int) -> None:
    total = sum(tally.statuses.values())
    statuses = [status for status, _ in tally.statuses.most_common()]
    print()
    print(f"Machine: {machine()}")
    print(
        f"{total:,} calls in {tally.seconds:.0f} s ({total / tally.seconds:,.0f}/s), "
        f"{IN_FLIGHT} at a time over {CONNECTIONS} connections; SQLite log, fsync per commit."
    )
    print(
        f"The log grew by {grown:,} records; a station served afterwards: {served}; "
        f"tracebacks in the server's log: {tracebacks}."
    )
    print()
    rows = [
        (status, f"{tally.statuses[status]:,}", f"{100 * tally.statuses[status] / total:.2f} %")
        for status in statuses
    ]
    print(table(("status", "calls", "share"), rows))
    print()
    print(crosstab(tally.by_input, statuses, "input"))
    print()
    print(crosstab(tally.by_method, statuses, "method"))
    forbidden = FORBIDDEN & set(statuses)
    if forbidden:
        raise BenchError(f"calls ended with {', '.join(sorted(forbidden))}")


async def main_async(args: argparse.Namespace) -> None:
    print(f"Machine: {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="hotline-fuzz-") as tmp:
        data_dir = Path(tmp)
        station = await issue_token(data_dir, "--party", "BLUE", "--hotline", "AIR_OPERATIONS")
        control = await issue_token(data_dir, "--role", "control")
        tokens = {"station": station, "control": control, "forged": station[:-4] + "AAAA"}
        tokens["none"] = ""
        server_log = data_dir / "server.log"
        async with serving(data_dir, server_log) as (pid, address):
            print(f"hotline serve: pid {pid}, {address}", flush=True)
            before = await log_size(address, control)
            tally = await fuzz(address, tokens, args.count, args.seed)
            grown = await log_size(address, control) - before
            served = await station_served(address, station)
        tracebacks = server_log.read_text(errors="replace").count("Traceback")
    report(tally, grown, served, tracebacks)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="calls to make")
    parser.add_argument("--seed", type=int, default=14, help="seed of the inputs")
    args = parser.parse_args()
    try:
        asyncio.run(main_async(args))
    except BenchError as error:
        sys.exit(f"fuzz: {error}")


if __name__ == "__main__":
    main()
