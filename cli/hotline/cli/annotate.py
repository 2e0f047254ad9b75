"""``hotline annotate``: a trainer's note or bookmark, live or after the fact.

    hotline annotate "BLUE never answered" [--bookmark strike-1] [--record 42]
    hotline annotate "RED's WILCO came late" --seq 12 --hotline AIR_OPERATIONS
    hotline annotate "Strike window opens" --at 2026-11-21T06:00Z --hotline AIR_OPERATIONS

The note is appended to the exercise's log as its own record; nothing recorded is ever
edited. After the exercise, run ``hotline serve`` again on its data directory and
annotate: ``--record`` ties the note to a record of the log by its index (as ``audit
show`` and ``replay`` number them), ``--seq`` with ``--hotline`` to the message a
console shows as #N (the records of one hotline are numbered apart), ``--at`` to a
moment. Needs an exercise-control credential.
"""

from __future__ import annotations

import argparse
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from hotline.cli.options import enum_value, iso_time
from hotline.client import HotlineClient
from hotline.contract import timestamp
from hotline.v1 import common_pb2


def add_parser(commands: Any, connected: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "annotate",
        parents=[connected],
        help="add a trainer's note or bookmark to the exercise's log",
        description="Appends a note (exercise control only) as its own record of the log.",
    )
    parser.add_argument("text", nargs="?", default="", help="the note")
    parser.add_argument("--bookmark", default="", help="a short name to jump to in a replay")
    about = parser.add_mutually_exclusive_group()
    about.add_argument(
        "--record",
        type=_index,
        metavar="INDEX",
        help="the index in the log of the record the note is about (as 'audit show' and "
        "'replay' number records; not a console's #N, which counts one hotline's)",
    )
    about.add_argument(
        "--seq",
        type=_index,
        metavar="N",
        help="the message numbered N on --hotline (the #N a station's console shows)",
    )
    about.add_argument(
        "--at",
        type=lambda text: iso_time(text, "an ISO 8601 time (2026-11-21T06:00Z)"),
        metavar="TIME",
        help="the moment (ISO 8601, UTC if no zone is given) the note is about",
    )
    parser.add_argument("--hotline", help="the hotline the note concerns")
    parser.set_defaults(run=run)


def _index(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a record index (0, 1, 2 ...)")
    return int(text)


async def run(args: argparse.Namespace) -> int:
    if not args.text and not args.bookmark:
        raise SystemExit("hotline annotate: give the note's text, a --bookmark, or both")
    hotline = common_pb2.HOTLINE_UNSPECIFIED
    if args.hotline:
        hotline = common_pb2.Hotline.ValueType(
            enum_value(common_pb2.Hotline, "HOTLINE_", args.hotline)
        )
    about_time: Timestamp | None = timestamp(args.at) if args.at is not None else None
    if args.seq is not None and not args.hotline:
        raise SystemExit("hotline annotate: --seq counts on a hotline; give --hotline")
    async with HotlineClient(args.address, args.token, tls=args.tls) as client:
        index = await client.annotate(
            args.text,
            args.bookmark,
            hotline,
            about_index=args.record,
            about_sequence=args.seq,
            about_time=about_time,
        )
    print(f"annotation recorded as log record {index}")
    return 0
