"""``hotline status``: stations, hotlines and time lost."""

from __future__ import annotations

import argparse
from typing import Any

from google.protobuf.duration_pb2 import Duration

from hotline.cli import render
from hotline.client import HotlineClient
from hotline.contract import seconds


def add_parser(commands: Any, connected: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("status", parents=[connected], help="exercise status")
    parser.set_defaults(run=run)


def _seconds(duration: Duration) -> str:
    return f"{seconds(duration):.1f} s"


async def run(args: argparse.Namespace) -> int:
    async with HotlineClient(args.address, args.token, tls=args.tls) as client:
        exercise = (await client.exercise()).exercise
        status = await client.status()
    print(f"exercise {exercise.exercise_id}: {exercise.name} ({status.log_size} records)")
    print(
        f"{'station':32} {'online':6} {'consoles':8} {'line':5} {'awaiting':8} "
        f"{'answered by primary+standby':27}"
    )
    for station in status.stations:
        ref = station.station.ref
        label = f"{ref.party}/{render.hotline(ref.hotline)}"
        consoles = f"{station.primary_consoles}+{station.standby_consoles}"
        answered = f"{station.answered_by_primary}+{station.answered_by_standby}"
        print(
            f"{label:32} {'yes' if station.online else 'no':6} {consoles:8} "
            f"{'up' if station.line_up else 'DOWN':5} {station.awaiting_response:<8} "
            f"{answered}"
        )
    print(
        f"{'hotline':20} {'last #':7} {'answered':8} {'median lost':12} {'worst lost':11} "
        f"{'overdue':7} {'escalated':9}"
    )
    for hotline in status.hotlines:
        suspended = " (SUSPENDED)" if hotline.suspended else ""
        median = _seconds(hotline.median_time_lost) if hotline.answered else "-"
        worst = _seconds(hotline.worst_time_lost) if hotline.answered else "-"
        print(
            f"{render.hotline(hotline.hotline) + suspended:20} {hotline.last_sequence:<7} "
            f"{hotline.answered:<8} {median:12} {worst:11} {hotline.overdue:<7} "
            f"{hotline.escalated:<9}"
        )
    return 0
