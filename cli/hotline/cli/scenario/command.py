"""``hotline exercise``: scenarios (a Master Scenario Events List) run unattended.

    hotline exercise check SCENARIO.toml
    hotline serve --scenario SCENARIO.toml [--time-scale N] --data-dir DIR
    hotline exercise run SCENARIO.toml --data-dir DIR [--address ...] [--time-scale N]
    hotline exercise evaluate LOG [--scenario SCENARIO.toml]

``check`` reads a scenario offline and says what is wrong (line, field, why). ``run``
plays it against a server that runs its exercise at the same time scale: the simulated
stations connect on their own credentials, the injects go out on time, and a live view
shows injects done and next, answers and problems; Ctrl-C stops cleanly, with the end
of the run recorded. The credentials are issued from the server's data directory
(``--data-dir``, where its token key is), or read from ``--station-tokens DIR``
(``BLUE-AIR_OPERATIONS.token``, ``BLUE-AIR_OPERATIONS-standby.token`` ...) with
exercise control's from ``--token-file``. ``evaluate`` judges every run a log holds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from hotline.cli import recorded
from hotline.cli.options import DEFAULT_ADDRESS
from hotline.cli.scenario.progress import Progress
from hotline.cli.scenario.runner import ScenarioRunner
from hotline.client import Tls, TokenFile
from hotline.server.errors import ConfigurationError
from hotline.server.exercise import hotline_name
from hotline.server.identity import Credential, TokenAuthority, load_or_create_secret
from hotline.server.scenario import (
    RunEvaluation,
    Scenario,
    ScenarioError,
    Seat,
    StationName,
    Verdict,
    evaluate_runs,
    load_scenario,
    scaled_exercise,
)
from hotline.server.settings import Settings
from hotline.v1 import common_pb2


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "exercise",
        aliases=["scenario"],
        help="check, run and evaluate a scenario (timed injects, simulated stations)",
        description="Scenarios: a timeline of injects with simulated stations, run "
        "unattended against a server, and the expected player actions judged from the log. "
        "See docs/scenarios.md.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="check a scenario file offline")
    check.add_argument("scenario", type=Path, help="the scenario file (TOML)")
    check.set_defaults(run=run_check)

    run = actions.add_parser("run", help="run a scenario unattended against a server")
    run.add_argument("scenario", type=Path, help="the scenario file (TOML)")
    run.add_argument("--time-scale", type=_scale, help="exercise time per wall second")
    add_runner_options(run)
    run.add_argument("--quiet", action="store_true", help="no live view; only the results")
    run.set_defaults(run=run_scenario)

    evaluate = actions.add_parser("evaluate", help="judge the scenario runs a log holds")
    recorded.add_log_arguments(evaluate)
    evaluate.add_argument(
        "--scenario",
        type=Path,
        help="judge against this scenario file instead of the one the run recorded",
    )
    evaluate.set_defaults(run=run_evaluate)


def add_runner_options(run: argparse.ArgumentParser) -> None:
    """How the runner reaches the server and gets its credentials."""
    run.add_argument(
        "--address",
        default=os.environ.get("HOTLINE_ADDRESS", DEFAULT_ADDRESS),
        help="server HOST:PORT (env HOTLINE_ADDRESS; default %(default)s)",
    )
    run.add_argument(
        "--data-dir",
        type=Path,
        help="the server's data directory: the runner issues its own credentials with "
        "the server's token key",
    )
    run.add_argument(
        "--station-tokens",
        type=Path,
        metavar="DIR",
        help="credentials of the simulated stations, PARTY-HOTLINE.token and "
        "PARTY-HOTLINE-standby.token (with --token-file for exercise control's)",
    )
    run.add_argument(
        "--token-file",
        dest="control_token_file",
        metavar="FILE",
        default=os.environ.get("HOTLINE_TOKEN_FILE", ""),
        help="exercise control's credential (env HOTLINE_TOKEN_FILE)",
    )
    run.add_argument(
        "--ca",
        default=os.environ.get("HOTLINE_CA", ""),
        help="connect with TLS: the exercise CA's certificate (env HOTLINE_CA)",
    )


def _scale(text: str) -> float:
    try:
        scale = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number (1, 10, 60)") from None
    if not 1 <= scale <= 600:
        raise argparse.ArgumentTypeError(f"{text}: a time scale runs from 1 to 600")
    return scale


def read_scenario(path: Path, command: str, time_scale: float | None = None) -> Scenario:
    """The scenario at ``path`` (at ``time_scale`` if given); exits with the reason when
    it is not valid."""
    try:
        scenario = load_scenario(path)
    except ConfigurationError as error:
        raise SystemExit(f"hotline {command}: {error}") from None
    return scenario.with_time_scale(time_scale) if time_scale else scenario


async def run_check(args: argparse.Namespace) -> int:
    scenario = read_scenario(args.scenario, "exercise check")
    exercise = scenario.exercise
    assert exercise is not None
    wall = scenario.duration / scenario.time_scale
    print(f"{args.scenario}: ok: {scenario.name}")
    print(
        f"  exercise {exercise.exercise_id}: {len(exercise.parties)} parties, "
        f"{len(exercise.stations)} stations; time scale {scenario.time_scale:g}, seed "
        f"{scenario.seed}; {_span(scenario.duration)} of exercise time "
        f"({_span(wall)} of wall time)"
    )
    played = ", ".join(str(s) for s in sorted(scenario.played)) or "none"
    print(f"  played by people: {played}; simulated: {len(scenario.simulated)} stations")
    print(f"  {len(scenario.injects)} injects, {len(scenario.objectives)} objectives")
    return 0


@dataclass(frozen=True)
class IssuedCredentials:
    """Credentials issued with the server's token key, valid for ``ttl_s``."""

    authority: TokenAuthority
    ttl_s: float
    control_token: str = ""

    def control(self) -> str:
        if self.control_token:
            return self.control_token
        credential = Credential(subject="scenario runner", role=common_pb2.ROLE_EXERCISE_CONTROL)
        return self.authority.issue(credential, self.ttl_s)

    def station(self, station: StationName, seat: Seat) -> str:
        credential = Credential(
            subject=f"simulated {station} {seat.value}",
            role=common_pb2.ROLE_PARTICIPANT,
            party=station.party,
            hotline=station.hotline,
            operator=common_pb2.OPERATOR_STANDBY
            if seat is Seat.STANDBY
            else common_pb2.OPERATOR_PRIMARY,
        )
        return self.authority.issue(credential, self.ttl_s)


@dataclass(frozen=True)
class TokenDirectory:
    """Credentials read from files: ``PARTY-HOTLINE[-standby].token`` in ``directory``."""

    directory: Path
    control_token: str

    def control(self) -> str:
        return self.control_token

    def station(self, station: StationName, seat: Seat) -> str:
        suffix = "-standby" if seat is Seat.STANDBY else ""
        path = self.directory / f"{station.party}-{hotline_name(station.hotline)}{suffix}.token"
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise SystemExit(
                f"hotline exercise run: no credential for simulated {station} "
                f"{seat.value}: {path}: {error.strerror}"
            ) from None


def runner_credentials(
    args: argparse.Namespace, scenario: Scenario, command: str
) -> IssuedCredentials | TokenDirectory:
    """The credentials ``add_runner_options`` name; exits with the reason when there are
    none."""
    assert scenario.exercise is not None
    exercise = scaled_exercise(scenario.exercise, scenario.time_scale)
    control = TokenFile(args.control_token_file)() if args.control_token_file else ""
    if args.station_tokens:
        if not control:
            raise SystemExit(f"hotline {command}: --station-tokens needs --token-file too")
        return TokenDirectory(args.station_tokens, control)
    if not args.data_dir:
        raise SystemExit(
            f"hotline {command}: give the server's --data-dir (the runner issues its "
            "credentials there), or --station-tokens DIR with --token-file"
        )
    settings = Settings(data_dir=args.data_dir)
    key = settings.token_secret_file
    if not key.exists():
        raise SystemExit(
            f"hotline {command}: no token key at {key}: {args.data_dir} is not the "
            "data directory of a server that has run"
        )
    ttl = scenario.duration / scenario.time_scale + 3600
    return IssuedCredentials(
        TokenAuthority(load_or_create_secret(key), exercise), ttl, control_token=control
    )


async def run_scenario(args: argparse.Namespace) -> int:
    scenario = read_scenario(args.scenario, "exercise run", args.time_scale)
    credentials = runner_credentials(args, scenario, "exercise run")
    tls = Tls.from_files(args.ca) if args.ca else None
    console = Console(stderr=True)
    view = _LiveView(scenario, console, quiet=args.quiet)
    runner = ScenarioRunner(scenario, args.address, credentials, tls=tls, on_progress=view.show)
    try:
        with view:
            result = await runner.run()
    except ScenarioError as error:
        raise SystemExit(f"hotline exercise run: {error}") from None
    except asyncio.CancelledError:
        print(f"hotline exercise run: stopped; run {runner.run_id} ended early", file=sys.stderr)
        raise
    print(
        f"run {result.run_id}: log records {result.first_index} to {result.last_index}; "
        f"judge it with 'hotline exercise evaluate LOG' or 'hotline report LOG'"
    )
    for problem in result.problems:
        print(f"  problem: {problem}")
    return 1 if result.problems else 0


class _LiveView:
    """Injects done and next, answers, problems: redrawn on every change."""

    def __init__(self, scenario: Scenario, console: Console, *, quiet: bool) -> None:
        self.scenario = scenario
        self.live = None if quiet else Live(console=console, auto_refresh=False)

    def __enter__(self) -> _LiveView:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def show(self, progress: Progress) -> None:
        if self.live is None:
            return
        scale = self.scenario.time_scale
        done = Text("\n".join(progress.done[-8:]) or "none yet")
        upcoming = Text("\n".join(progress.upcoming[:5]) or "all injects done")
        answers = Text("\n".join(progress.answers[-6:]) or "none yet")
        parts = [
            Panel(done, title=f"injects done ({len(progress.done)})"),
            Panel(upcoming, title=f"next ({len(progress.upcoming)} left)"),
            Panel(answers, title="simulated answers"),
        ]
        if progress.objectives:
            parts.append(
                Panel(
                    Text("\n".join(progress.objectives)),
                    title=f"objectives (met {progress.met} of {len(progress.objectives)})",
                )
            )
        if progress.alerts:
            parts.append(
                Panel(
                    Text("\n".join(progress.alerts[-5:])), title=f"alerts ({len(progress.alerts)})"
                )
            )
        if progress.problems:
            parts.append(Panel(Text("\n".join(progress.problems[-5:])), title="problems"))
        heading = Text(
            f"{self.scenario.name} · run {progress.run_id} · time scale {scale:g}",
            style="bold",
        )
        self.live.update(Group(heading, *parts), refresh=True)


async def run_evaluate(args: argparse.Namespace) -> int:
    scenario = read_scenario(args.scenario, "exercise evaluate") if args.scenario else None
    with recorded.opened_log(args, "exercise evaluate") as backend:
        recorded.verification(backend, args, "exercise evaluate")
        evaluations = evaluate_runs(recorded.parsed_records(backend), scenario)
    if not evaluations:
        raise SystemExit("hotline exercise evaluate: the log holds no scenario run")
    for evaluation in evaluations:
        print_evaluation(evaluation)
    missed = sum(r.verdict is not Verdict.MET for e in evaluations for r in e.objectives)
    return 1 if missed else 0


def print_evaluation(evaluation: RunEvaluation) -> None:
    """The evaluation as plain text: objectives with their evidence, then the injects."""
    scenario = evaluation.scenario
    ended = "" if evaluation.end_index is not None else " (the log ends before the run did)"
    print(
        f"run {evaluation.run_id}: {scenario.name}, time scale {evaluation.time_scale:g}, "
        f"from log record {evaluation.start_index}{ended}"
    )
    for problem in evaluation.problems:
        print(f"  problem: {problem}")
    print(f"  objectives met: {evaluation.met} of {len(evaluation.objectives)}")
    for result in evaluation.objectives:
        objective = result.objective
        print(
            f"  [{result.verdict.value.upper()}] {objective.objective_id} "
            f"{objective.description or objective.kind.value}: {result.reason}"
        )
        for evidence in result.evidence:
            print(f"      record {evidence.index} at T+{_span(evidence.at)}: {evidence.what}")
    print("  injects:")
    for outcome in evaluation.injects:
        inject = outcome.inject
        where = f"record {outcome.index}" if outcome.index is not None else "not in the log"
        line = f"    {inject.inject_id} at T+{_span(inject.at)} ({where})"
        if outcome.answered_by:
            lost = _span(outcome.time_lost or 0.0)
            line += f": {outcome.answer} from {outcome.answered_by} after {lost}"
        elif inject.envelope is not None and outcome.index is not None:
            line += ": never answered"
        print(line)
        for alert in outcome.alerts:
            print(f"      alert {alert.kind} at T+{_span(alert.at)} (record {alert.index})")
    for outage in evaluation.outages:
        lasted = outage.lasted
        how_long = f"for {_span(lasted)}" if lasted is not None else "until the end"
        print(
            f"  line cut {outage.inject_id} ({outage.what}) at T+{_span(outage.start)}, "
            f"{how_long}; {outage.traffic} message(s) sent on the line meanwhile"
        )
    if evaluation.alerts:
        counted = ", ".join(f"{kind} {count}" for kind, count in evaluation.alerts.items())
        print(f"  alerts: {counted}")
    if evaluation.incursions:
        print(f"  incursions: {len(evaluation.incursions)}")
    for incursion in evaluation.incursions:
        lasted = incursion.lasted
        how_long = f"for {_span(lasted)}" if lasted is not None else "until the end"
        print(
            f"    {incursion.party} {incursion.unit_id} into {incursion.zone_id} at "
            f"T+{_span(incursion.start)} (record {incursion.index}), {how_long}"
        )


def _span(length: float) -> str:
    whole = round(length)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
