"""``hotline zones``: the deconfliction measures, listed or one with its history.

hotline zones [--state ACCEPTED] [--state ACTIVE] [--owner RED]
hotline zones ZONE_ID
"""

from __future__ import annotations

import argparse
from typing import Any

from hotline.cli import render
from hotline.cli.options import enum_value
from hotline.client import HotlineClient
from hotline.v1 import zones_pb2


def add_parser(commands: Any, connected: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "zones",
        parents=[connected],
        help="list the zones, or show one with its versions",
        description="Lists the deconfliction measures as they now stand, or shows one "
        "zone's every version.",
    )
    parser.add_argument("zone_id", nargs="?", help="show this zone and its history")
    parser.add_argument(
        "--state",
        action="append",
        default=[],
        type=lambda t: enum_value(zones_pb2.ZoneState, "ZONE_STATE_", t),
        help="only zones in this state: PROPOSED, ACCEPTED, ACTIVE ... (repeatable)",
    )
    parser.add_argument("--owner", default="", help="only the zones of this party")
    parser.set_defaults(run=run)


def line(zone: zones_pb2.Zone) -> str:
    """``BLUE-AO v2 ACTIVE AREA_OF_OPERATIONS BLUE "Coalition AO" 0-3000 m``"""
    state = zones_pb2.ZoneState.Name(zone.state).removeprefix("ZONE_STATE_")
    kind = zones_pb2.ZoneKind.Name(zone.kind).removeprefix("ZONE_KIND_")
    window = ""
    if zone.HasField("effective_from") or zone.HasField("effective_until"):
        window = (
            f" {render.record_time(zone.effective_from)} to "
            f"{render.record_time(zone.effective_until)}"
        )
    band = f"{zone.altitude.floor_m:g}-{zone.altitude.ceiling_m:g} m"
    return (
        f"{zone.zone_id} v{zone.version} {state} {kind} {zone.owner_party} "
        f'"{zone.name}" {band}{window}'
    )


async def run(args: argparse.Namespace) -> int:
    async with HotlineClient(args.address, args.token, tls=args.tls) as client:
        if args.zone_id:
            shown = await client.zone(args.zone_id)
            print(line(shown.zone))
            for version in shown.history:
                print(f"  v{version.version} proposed by {version.proposed_by}: {line(version)}")
            return 0
        zones = await client.zones(args.state)
    chosen = [z for z in zones if not args.owner or z.owner_party == args.owner.upper()]
    for zone in chosen:
        print(line(zone))
    if not chosen:
        print("no zone")
    return 0
