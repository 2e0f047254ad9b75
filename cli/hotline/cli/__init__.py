"""The ``hotline`` command.

    hotline serve                  run the service (embedded SQLite, no broker needed)
    hotline token --party BLUE --hotline AIR_OPERATIONS
    hotline station                a participant's console
    hotline send text "..."        one-shot messages of every kind
    hotline status                 stations, hotlines, time lost
    hotline annotate "..."         a trainer's note or bookmark (live or after the fact)
    hotline audit verify LOG ...   offline verification of a copied log
    hotline replay LOG --key ...   play a recorded exercise back (read-only)
    hotline export LOG --format F  GeoJSON, KML, CSV, CoT or Tacview ACMI of a log
    hotline report LOG --key ... -o report.html   after-action report (or .png / .pdf)
    hotline audit verify LOG --key signing.pub   check a log offline

The server address and credential come from ``--address``/``--token`` or the
``HOTLINE_ADDRESS``/``HOTLINE_TOKEN`` environment variables.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from importlib import metadata

from hotline.client import HotlineClientError

DEFAULT_ADDRESS = "127.0.0.1:50051"


def build_parser() -> argparse.ArgumentParser:
    # The commands are imported here, not with the package: the processes a replay
    # starts (``recorded``, ``replay_shards``) live in it and need none of them.
    from hotline.cli import (  # noqa: PLC0415
        annotate,
        audit,
        console,
        credentials,
        export,
        replay,
        report,
        send,
        serve,
        status,
    )

    parser = argparse.ArgumentParser(
        prog="hotline", description="Deconfliction hotlines for military exercises."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument(
        "--version", action="version", version=f"hotline {metadata.version('hotline')}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_parser(commands)
    credentials.add_parser(commands)
    audit.add_parser(commands)
    replay.add_parser(commands)
    export.add_parser(commands)
    report.add_parser(commands)
    connected = argparse.ArgumentParser(add_help=False)
    connected.add_argument(
        "--address",
        default=os.environ.get("HOTLINE_ADDRESS", DEFAULT_ADDRESS),
        help="server HOST:PORT (env HOTLINE_ADDRESS; default %(default)s)",
    )
    connected.add_argument(
        "--token",
        default=os.environ.get("HOTLINE_TOKEN", ""),
        help="credential from 'hotline token' (env HOTLINE_TOKEN)",
    )
    console.add_parser(commands, connected)
    send.add_parser(commands, connected)
    status.add_parser(commands, connected)
    annotate.add_parser(commands, connected)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if getattr(args, "token", None) == "":
        raise SystemExit("hotline: no credential; pass --token or set HOTLINE_TOKEN")
    try:
        code = asyncio.run(args.run(args))
    except (HotlineClientError, argparse.ArgumentTypeError) as error:
        raise SystemExit(f"hotline: {error}") from None
    except KeyboardInterrupt:
        code = 130
    raise SystemExit(code)
