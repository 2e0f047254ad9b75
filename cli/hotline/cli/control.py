"""``hotline control``: exercise control's commands on a live exercise.

    hotline control suspend AIR_OPERATIONS --reason "political decision"
    hotline control resume AIR_OPERATIONS
    hotline control inject SCENARIO.toml S1 --data-dir DIR

``suspend`` and ``resume`` need exercise control's credential, or a station's own where
the exercise lets a party suspend its hotline (``policy.parties_may_suspend``). ``inject``
plays one inject of a scenario file by hand, now, with the same credentials as
``hotline exercise run``; it is recorded with a note as a run's injects are.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hotline.cli.options import enum_value
from hotline.cli.scenario.command import add_runner_options, read_scenario, runner_credentials
from hotline.cli.scenario.runner import ScenarioRunner
from hotline.client import HotlineClient, Tls
from hotline.server.scenario import ScenarioError
from hotline.v1 import common_pb2


def add_parser(commands: Any, connected: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "control",
        help="suspend or resume a hotline, or play one inject by hand (exercise control)",
        description="Exercise control's commands on the live exercise.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    suspend = actions.add_parser(
        "suspend", parents=[connected], help="suspend a hotline: nothing is sent on it"
    )
    suspend.add_argument("hotline", type=_hotline, help="AIR_OPERATIONS, GROUND_COMMANDERS ...")
    suspend.add_argument("--reason", required=True, help="why, for the record")
    suspend.set_defaults(run=run_suspend)
    resume = actions.add_parser("resume", parents=[connected], help="resume a suspended hotline")
    resume.add_argument("hotline", type=_hotline, help="AIR_OPERATIONS, GROUND_COMMANDERS ...")
    resume.set_defaults(run=run_resume)
    inject = actions.add_parser("inject", help="play one inject of a scenario file now")
    inject.add_argument("scenario", type=Path, help="the scenario file holding the inject")
    inject.add_argument("inject", help="the inject's id")
    add_runner_options(inject)
    inject.set_defaults(run=run_inject)


def _hotline(text: str) -> common_pb2.Hotline.ValueType:
    return common_pb2.Hotline.ValueType(enum_value(common_pb2.Hotline, "HOTLINE_", text))


async def run_suspend(args: argparse.Namespace) -> int:
    async with HotlineClient(args.address, args.token, tls=args.tls) as client:
        await client.suspend(args.hotline, args.reason)
    print(f"{common_pb2.Hotline.Name(args.hotline).removeprefix('HOTLINE_')} suspended")
    return 0


async def run_resume(args: argparse.Namespace) -> int:
    async with HotlineClient(args.address, args.token, tls=args.tls) as client:
        await client.resume(args.hotline)
    print(f"{common_pb2.Hotline.Name(args.hotline).removeprefix('HOTLINE_')} resumed")
    return 0


async def run_inject(args: argparse.Namespace) -> int:
    scenario = read_scenario(args.scenario, "control inject")
    credentials = runner_credentials(args, scenario, "control inject")
    tls = Tls.from_files(args.ca) if args.ca else None
    runner = ScenarioRunner(scenario, args.address, credentials, tls=tls, run_id="by-hand")
    try:
        await runner.play_now(args.inject)
    except ScenarioError as error:
        raise SystemExit(f"hotline control inject: {error}") from None
    print(f"inject {args.inject} played")
    return 0
