"""Parsing of command-line values shared by the commands: geometry, times, enums, and
how to reach the server (address, credential, TLS)."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Mapping

from hotline.client import HotlineClientError, Tls, TokenFile
from hotline.contract import timestamp
from hotline.v1 import common_pb2, zones_pb2

_RELATIVE = re.compile(r"^\+(\d+(?:\.\d+)?)(s|m|h)$")


def iso_time(text: str, expected: str) -> float:
    """UNIX seconds from ISO 8601 (``2026-11-21T06:00Z``; UTC when no zone is given);
    ``expected`` says what would have been accepted."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def when(text: str) -> float:
    """UNIX seconds from ISO 8601 (``2026-11-21T06:00Z``) or ``+10m`` / ``+30s`` / ``+2h``."""
    match = _RELATIVE.match(text)
    if match:
        scale = {"s": 1, "m": 60, "h": 3600}[match.group(2)]
        return dt.datetime.now(dt.UTC).timestamp() + float(match.group(1)) * scale
    return iso_time(text, "ISO 8601 (2026-11-21T06:00Z) or +10m / +30s / +2h")


def _point(text: str) -> common_pb2.LatLon:
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LAT,LON") from None
    return common_pb2.LatLon(latitude=lat, longitude=lon)


def geometry(args: argparse.Namespace) -> zones_pb2.Geometry:
    """The geometry of ``--circle``, ``--polygon`` or ``--corridor`` with ``--width``."""
    if args.circle:
        try:
            lat, lon, radius = (float(v) for v in args.circle.split(","))
        except ValueError:
            raise SystemExit(f"--circle {args.circle!r}: expected LAT,LON,RADIUS_M") from None
        circle = zones_pb2.Circle(
            center=common_pb2.LatLon(latitude=lat, longitude=lon), radius_m=radius
        )
        return zones_pb2.Geometry(circle=circle)
    if args.polygon:
        vertices = [_point(p) for p in args.polygon.split()]
        return zones_pb2.Geometry(polygon=zones_pb2.Polygon(vertices=vertices))
    if args.corridor:
        path = [_point(p) for p in args.corridor.split()]
        return zones_pb2.Geometry(
            corridor=zones_pb2.Corridor(path=path, half_width_m=args.width / 2)
        )
    raise SystemExit("give the area with --circle, --polygon or --corridor")


def add_geometry(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("area (one of)")
    group.add_argument("--circle", help="LAT,LON,RADIUS_M")
    group.add_argument("--polygon", help='"LAT,LON LAT,LON LAT,LON ..."')
    group.add_argument("--corridor", help='"LAT,LON LAT,LON ..." (with --width)')
    group.add_argument("--width", type=float, default=1000.0, help="corridor width, metres")


def stamp(seconds: float) -> object:
    return timestamp(seconds)


#: The short forms of zone kinds in airspace-control practice.
ZONE_KIND_SHORT = {
    "ROZ": "RESTRICTED_OPERATIONS_ZONE",
    "NFA": "NO_FIRE_AREA",
    "RFA": "RESTRICTED_FIRE_AREA",
    "SCA": "SPECIAL_CAUTION_AREA",
    "AO": "AREA_OF_OPERATIONS",
}
ZONE_KINDS_HELP = (
    "ROZ (restricted operations zone), NFA (no-fire area), RFA (restricted-fire area), "
    "KILL_BOX, SCA (special caution area), AO (area of operations), DECONFLICTION_LINE; "
    "any case"
)


def enum_value(enum: object, prefix: str, text: str, short: dict[str, str] | None = None) -> int:
    """The value of an enum named in any case, with or without its prefix, or by one of
    the ``short`` forms; ArgumentTypeError listing the names otherwise."""
    name = text.strip().upper().replace("-", "_")
    name = (short or {}).get(name, name)
    try:
        return int(enum.Value(name if name.startswith(prefix) else prefix + name))  # type: ignore[attr-defined]
    except ValueError:
        names = [n.removeprefix(prefix) for n in enum.keys()[1:]]  # type: ignore[attr-defined]
        for brief, full in (short or {}).items():
            names[names.index(full)] = f"{brief} ({full})"
        raise argparse.ArgumentTypeError(f"{text!r}: choose one of {', '.join(names)}") from None


def zone_kind(text: str) -> int:
    """A zone kind: a short form (ROZ, NFA ...) or its full name, in any case."""
    return enum_value(zones_pb2.ZoneKind, "ZONE_KIND_", text, ZONE_KIND_SHORT)


DEFAULT_ADDRESS = "127.0.0.1:50051"


def add_connection(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    """The options of every command that talks to the server; defaults from ``environ``."""
    parser.add_argument(
        "--address",
        default=environ.get("HOTLINE_ADDRESS", DEFAULT_ADDRESS),
        help="server HOST:PORT (env HOTLINE_ADDRESS; default %(default)s)",
    )
    parser.add_argument(
        "--token-file",
        default=environ.get("HOTLINE_TOKEN_FILE", ""),
        help="file holding the credential from 'hotline token' (env HOTLINE_TOKEN_FILE); "
        "re-read when a session reopens, so a renewed file takes over",
    )
    parser.add_argument(
        "--token",
        default=environ.get("HOTLINE_TOKEN", ""),
        help="the credential itself (env HOTLINE_TOKEN); prefer --token-file: a command "
        "line is visible to every user of the machine",
    )
    parser.add_argument(
        "--ca",
        default=environ.get("HOTLINE_CA", ""),
        help="connect with TLS: the exercise CA certificate the server's must come from "
        "(env HOTLINE_CA); without it, plaintext (a server on loopback only)",
    )
    parser.add_argument(
        "--cert",
        default=environ.get("HOTLINE_CERT", ""),
        help="this station's certificate, for a server that requires mutual TLS "
        "(env HOTLINE_CERT; with --key)",
    )
    parser.add_argument(
        "--key", default=environ.get("HOTLINE_KEY", ""), help="its key (env HOTLINE_KEY)"
    )


def resolve_connection(args: argparse.Namespace) -> None:
    """Turns the connection options into ``args.token`` (a token, a :class:`TokenFile`,
    or None for a client certificate alone) and ``args.tls`` (None: plaintext)."""
    if args.token_file:
        args.token = TokenFile(args.token_file)
        args.token()  # a file that cannot be read fails now, not at the first session
    elif not args.token:
        if not args.cert:
            raise HotlineClientError(
                "no credential: pass --token-file (or set HOTLINE_TOKEN_FILE), or a "
                "client certificate with --cert and --key"
            )
        args.token = None
    tls = None
    if args.ca or args.cert or args.key:
        tls = Tls.from_files(args.ca or None, args.cert or None, args.key or None)
    args.tls = tls


def token_text(args: argparse.Namespace) -> str:
    """The token the connection options give now ("" for none)."""
    token = args.token
    return token() if callable(token) else token or ""
