"""The ``hotline`` command.

    hotline serve                  run the service (embedded SQLite, no broker needed)
    hotline token --party BLUE --hotline AIR_OPERATIONS -o blue.token
    hotline pki init|issue|revoke  the exercise's certificates (TLS, mutual TLS)
    hotline station                a participant's console
    hotline send text "..."        one-shot messages of every kind
    hotline status                 stations, hotlines, time lost
    hotline annotate "..."         a trainer's note or bookmark (live or after the fact)
    hotline revoke ID              revoke a credential now (exercise control)
    hotline watch [--hotline H] [--party P] [--kind K]   every hotline live, resumes by itself
    hotline zones [ZONE_ID]        the zones as they stand, or one with its versions
    hotline control suspend|resume HOTLINE   exercise control on the live exercise;
                                   control inject SCENARIO ID plays one inject now
    hotline exercise check|run|evaluate SCENARIO   scenarios: timed injects, simulated
                                   stations, expected player actions judged from the log
    hotline audit verify LOG ...   offline verification of a copied log
    hotline replay LOG --key ...   play a recorded exercise back (read-only)
    hotline export LOG --format F  GeoJSON, KML, CSV, CoT or Tacview ACMI of a log
    hotline report LOG --key ... -o report.html   after-action report (or .png / .pdf)
    hotline audit verify LOG --key signing.pub   check a log offline

The server address, credential and TLS settings come from ``--address``,
``--token-file``, ``--ca``, ``--cert``/``--key`` or the ``HOTLINE_ADDRESS``,
``HOTLINE_TOKEN_FILE``, ``HOTLINE_CA``, ``HOTLINE_CERT``/``HOTLINE_KEY`` environment
variables (see :func:`hotline.cli.options.add_connection`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from importlib import metadata

from hotline.cli.options import add_connection, resolve_connection
from hotline.client import HotlineClientError


def build_parser() -> argparse.ArgumentParser:
    # The commands are imported here, not with the package: the processes a replay
    # starts (``recorded``, ``replay_shards``) live in it and need none of them.
    from hotline.cli import (  # noqa: PLC0415
        annotate,
        audit,
        console,
        control,
        credentials,
        export,
        pki,
        replay,
        report,
        revoke,
        send,
        serve,
        status,
        watch,
        zones,
    )
    from hotline.cli.scenario import command as scenario  # noqa: PLC0415

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
    pki.add_parser(commands)
    audit.add_parser(commands)
    replay.add_parser(commands)
    export.add_parser(commands)
    report.add_parser(commands)
    scenario.add_parser(commands)
    connected = argparse.ArgumentParser(add_help=False)
    add_connection(connected, os.environ)
    console.add_parser(commands, connected)
    send.add_parser(commands, connected)
    status.add_parser(commands, connected)
    annotate.add_parser(commands, connected)
    revoke.add_parser(commands, connected)
    control.add_parser(commands, connected)
    watch.add_parser(commands, connected)
    zones.add_parser(commands, connected)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if hasattr(args, "token_file"):
            resolve_connection(args)
        code = asyncio.run(args.run(args))
    except (HotlineClientError, argparse.ArgumentTypeError) as error:
        raise SystemExit(f"hotline: {error}") from None
    except KeyboardInterrupt:
        code = 130
    raise SystemExit(code)
