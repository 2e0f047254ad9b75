"""``hotline annotate``: a trainer's note or bookmark, live or after the fact.

    hotline annotate "BLUE never answered" [--bookmark strike-1] [--about 42]
    hotline annotate "Strike window opens" --about 2026-11-21T06:00Z --hotline AIR_OPERATIONS

The note is appended to the exercise's log as its own record; nothing recorded is ever
edited. After the exercise, run ``hotline serve`` again on its data directory and
annotate: ``--about`` ties the note to the record (an index) or the moment (ISO 8601)
it is about. Needs an exercise-control credential.
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
    parser.add_argument(
        "--about",
        type=_about,
        metavar="INDEX|TIME",
        help="the record index or the moment (ISO 8601) of the exercise the note is about",
    )
    parser.add_argument("--hotline", help="the hotline the note concerns")
    parser.set_defaults(run=run)


def _about(text: str) -> int | float:
    """A record index (``42``) as an ``int``, or a moment (ISO 8601) as UNIX seconds."""
    if text.isdigit():
        return int(text)
    return iso_time(text, "a record index or an ISO 8601 time (2026-11-21T06:00Z)")


async def run(args: argparse.Namespace) -> int:
    if not args.text and not args.bookmark:
        raise SystemExit("hotline annotate: give the note's text, a --bookmark, or both")
    hotline = common_pb2.HOTLINE_UNSPECIFIED
    if args.hotline:
        hotline = common_pb2.Hotline.ValueType(
            enum_value(common_pb2.Hotline, "HOTLINE_", args.hotline)
        )
    about_index: int | None = args.about if isinstance(args.about, int) else None
    about_time: Timestamp | None = timestamp(args.about) if isinstance(args.about, float) else None
    async with HotlineClient(args.address, args.token, tls=args.tls) as client:
        index = await client.annotate(
            args.text,
            args.bookmark,
            hotline,
            about_index=about_index,
            about_time=about_time,
        )
    print(f"annotation recorded as #{index}")
    return 0
