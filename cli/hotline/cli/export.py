"""``hotline export``: write a recorded exercise for other tools.

    hotline export LOG --key PUBKEY --format geojson|kml|csv|cot|acmi [-o FILE]
                   [--perspective PARTY] [--others neutral|hostile]
    hotline export LOG --no-verify ...

The whole log is verified against PUBKEY (the server's ``signing.pub``) before anything
is written, and a log that does not verify is refused (exit 1) unless ``--no-verify``.
The export goes to standard output, or to FILE, which appears only once it is
complete. The same log and options always give the same bytes. The formats are
described in ``hotline.server.exports``; ``--perspective`` and ``--others`` decide how
CoT types the units (the perspective party's friendly, the others neutral or hostile).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from hotline.cli import recorded, render
from hotline.server.exports import FORMATS, ExportOptions, Format, Records
from hotline.server.storage import Backend


def add_parser(commands: Any) -> None:
    export = commands.add_parser(
        "export",
        help="write a recorded exercise as GeoJSON, KML, CSV, CoT or Tacview ACMI",
        description="Writes the zones, tracks, alerts or records of a log for GIS, "
        "Google Earth, spreadsheets, TAK or Tacview, after verifying the whole log "
        "against the server's key.",
    )
    recorded.add_log_arguments(export)
    export.add_argument(
        "--format",
        required=True,
        choices=list(FORMATS),
        help="; ".join(f"{f.name}: {f.description}" for f in FORMATS.values()),
    )
    export.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )
    export.add_argument(
        "--perspective",
        metavar="PARTY",
        help="cot: the party whose units are friendly (a-f-...); default none",
    )
    export.add_argument(
        "--others",
        choices=("neutral", "hostile"),
        default="neutral",
        help="cot: how every other party's units are typed (a-n-... or a-h-...; "
        "default %(default)s)",
    )
    export.set_defaults(run=run_export)


async def run_export(args: argparse.Namespace) -> int:
    chosen = FORMATS[args.format]
    with recorded.opened_log(args, "export") as backend:
        recorded.verification(backend, args, "export")
        options = ExportOptions(
            perspective=_perspective(backend, args.perspective),
            others=args.others,
            describe=render.describe_record,
        )
        records = recorded.parsed_records(backend)
        try:
            if args.output:
                _to_file(chosen, records, Path(args.output), options)
            else:
                chosen.write(records, sys.stdout, options)
                sys.stdout.flush()
        except ValueError as error:
            # Only values a verified log cannot hold (NaN, out-of-range times) get here.
            raise SystemExit(f"hotline export: cannot write {chosen.name}: {error}") from None
    return 0


def _perspective(backend: Backend, party: str | None) -> str | None:
    """The party as the exercise spells it; exits if the exercise has no such party."""
    if party is None:
        return None
    first = next(recorded.parsed_records(backend, 0, 1), None)
    if first is None or first[1].WhichOneof("payload") != "exercise":
        return party
    parties = [p.party_id for p in first[1].exercise.parties]
    for known in parties:
        if known.casefold() == party.casefold():
            return known
    raise SystemExit(
        f"hotline export: --perspective {party}: not a party of the exercise "
        f"(choose one of {', '.join(parties)})"
    )


def _to_file(chosen: Format, records: Records, path: Path, options: ExportOptions) -> None:
    """Writes beside ``path`` and renames when done, so a failed export leaves no
    half-written file behind."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            chosen.write(records, out, options)
        os.replace(partial, path)
    except OSError as error:
        raise SystemExit(f"hotline export: {path}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
