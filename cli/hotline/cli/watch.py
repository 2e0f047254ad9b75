"""``hotline watch``: every hotline live, one line per record, for exercise control
and observers.

    hotline watch [--hotline AIR_OPERATIONS] [--party RED] [--kind stop_request] [--from 120]

Filters combine: ``--hotline`` and ``--party`` (what a party sent, received or was
alerted to; its stations' sessions) and ``--kind`` (a record kind such as ``ANNOTATION``
or ``HOTLINE_SUSPENDED``, or a message kind such as ``stop_request`` or ``alert``), each
given as often as needed. A lost connection is said and the watch goes on after the last
record shown, with no gap and nothing twice, once the server is back.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from hotline.cli import render
from hotline.cli.options import enum_value
from hotline.client import HotlineClient, TransportError
from hotline.v1 import common_pb2, log_pb2

#: Waits between attempts to reach a server that is away, doubling up to the last.
RECONNECT_S = (0.5, 1.0, 2.0, 5.0)


def add_parser(commands: Any, connected: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "watch",
        parents=[connected],
        help="watch every hotline live (exercise control, observers)",
        description="Prints every record of the exercise's log as it is written, one line "
        "each; resumes after a lost connection.",
    )
    parser.add_argument(
        "--hotline",
        action="append",
        default=[],
        type=lambda t: enum_value(common_pb2.Hotline, "HOTLINE_", t),
        help="only this hotline (repeatable)",
    )
    parser.add_argument("--party", action="append", default=[], help="only this party's traffic")
    parser.add_argument(
        "--kind",
        action="append",
        default=[],
        help="only this record kind (ANNOTATION, HOTLINE_SUSPENDED ...) or message kind "
        "(stop_request, alert ...) (repeatable)",
    )
    parser.add_argument(
        "--from",
        dest="after",
        type=int,
        metavar="INDEX",
        help="start after this log index (default: only what is new)",
    )
    parser.set_defaults(run=run)


def matches(record: log_pb2.LogRecord, parties: set[str], kinds: set[str]) -> bool:
    """Whether ``record`` passes the ``--party`` and ``--kind`` filters (``kinds`` in
    lower case: record kinds and message kinds alike)."""
    if kinds:
        kind = log_pb2.RecordKind.Name(record.kind).removeprefix("RECORD_KIND_")
        body = record.envelope.WhichOneof("body") if record.HasField("envelope") else None
        if kind.lower() not in kinds and (body is None or body not in kinds):
            return False
    if parties:
        involved = {record.actor.partition("/")[0]}
        if record.HasField("envelope"):
            involved |= {record.envelope.sender.party, *record.envelope.audience}
        involved.add(record.station_session.station.party)
        involved.add(record.deadline_missed.station.party)
        if not involved & parties:
            return False
    return True


def line(record: log_pb2.LogRecord) -> str:
    """``#12 2026-11-21T06:00:00.000Z AIR_OPERATIONS ENVELOPE RED/AIR_OPERATIONS: ...``"""
    kind = log_pb2.RecordKind.Name(record.kind).removeprefix("RECORD_KIND_")
    where = render.hotline(record.hotline) if record.hotline else "-"
    what = render.describe_record(record).split("\n", 1)[0]
    when = render.record_time(record.recorded_at)
    return f"{record.index} {when} {where} {kind} {record.actor}: {what}"


async def run(args: argparse.Namespace) -> int:
    parties = {p.upper() for p in args.party}
    kinds = {k.lower().removeprefix("record_kind_") for k in args.kind}
    last: int | None = args.after
    attempt = 0
    async with HotlineClient(args.address, args.token, tls=args.tls) as client:
        while True:
            try:
                async for record in client.watch(args.hotline, resume_after_index=last):
                    attempt = 0
                    last = record.index
                    if matches(record, parties, kinds):
                        print(line(record), flush=True)
            except TransportError as error:
                wait = RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)]
                attempt += 1
                after = f" after record {last}" if last is not None else ""
                print(
                    f"hotline watch: connection lost ({error.code.name}); going on{after} "
                    f"when the server is back",
                    file=sys.stderr,
                    flush=True,
                )
                await asyncio.sleep(wait)
