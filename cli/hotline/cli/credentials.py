"""``hotline token``: issue a credential for the exercise the server runs.

The token goes to a file (``-o``, written 0600) or standard output; its id, which
``hotline pki revoke`` takes, goes to standard error."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from hotline.server.app import load_settings_exercise
from hotline.server.errors import ConfigurationError, HotlineError
from hotline.server.exercise import Exercise, parse_hotline
from hotline.server.identity import Credential, TokenAuthority, load_or_create_secret
from hotline.server.private_files import write_private
from hotline.server.scenario import load_scenario
from hotline.server.settings import Settings
from hotline.v1 import common_pb2

_ROLES = {
    "participant": common_pb2.ROLE_PARTICIPANT,
    "control": common_pb2.ROLE_EXERCISE_CONTROL,
    "observer": common_pb2.ROLE_OBSERVER,
    "admin": common_pb2.ROLE_ADMIN,
}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "token",
        help="issue a station credential",
        description="Print a credential for a station (or for exercise control). Run it "
        "where the server's data directory is: the credential is signed with its key.",
    )
    parser.add_argument("--party", help="party id, e.g. BLUE (participants)")
    parser.add_argument("--hotline", help="AIR_OPERATIONS, GROUND_COMMANDERS or GENERALS")
    parser.add_argument("--role", choices=sorted(_ROLES), default="participant")
    parser.add_argument("--standby", action="store_true", help="the standby operator's seat")
    parser.add_argument("--name", default="", help="who holds it (default: the station)")
    parser.add_argument(
        "--days", type=_days, default=7.0, help="valid for (more than 0; default 7)"
    )
    parser.add_argument(
        "-o", "--output", type=Path, help="write it to this file (mode 0600) instead of stdout"
    )
    parser.add_argument("--data-dir", dest="data_dir", help="server data directory")
    parser.add_argument("--exercise", help="the server's exercise TOML file")
    parser.add_argument(
        "--scenario", help="or the scenario file the server runs ('hotline serve --scenario')"
    )
    parser.add_argument(
        "--new-key",
        action="store_true",
        help="create the data directory's token key if it has none (for a server yet to "
        "start there); without it a directory with no key is refused",
    )
    parser.set_defaults(run=run)


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not days > 0:
        raise argparse.ArgumentTypeError(f"{text}: a credential must be valid for more than 0 days")
    return days


def server_exercise(args: argparse.Namespace, command: str) -> tuple[Settings, Exercise]:
    """The server's settings and exercise, as ``--data-dir`` and ``--exercise`` (or the
    environment) give them; exits with the reason if they are not valid."""
    try:
        settings = Settings.from_environment(os.environ)
        if args.data_dir:
            settings = replace(settings, data_dir=Path(args.data_dir))
        if args.exercise:
            settings = replace(settings, exercise_file=Path(args.exercise))
        scenario = getattr(args, "scenario", None)
        if scenario:
            if args.exercise:
                raise ConfigurationError("--exercise: give it or --scenario, not both")
            exercise = load_scenario(Path(scenario)).exercise
            assert exercise is not None
            return settings.checked(), exercise
        return settings, load_settings_exercise(settings.checked())
    except ConfigurationError as error:
        raise SystemExit(f"hotline {command}: {error}") from None


def participant(args: argparse.Namespace, command: str, exercise: Exercise) -> Credential:
    """The station credential ``--party``, ``--hotline``, ``--standby`` and ``--name``
    give; the party spelled as ``exercise`` spells it, whatever the case typed."""
    if not args.party or not args.hotline:
        raise SystemExit(f"hotline {command}: a station needs --party and --hotline")
    spelled = {party.party_id.upper(): party.party_id for party in exercise.parties}
    party = spelled.get(args.party.upper(), args.party)
    try:
        hotline = parse_hotline(args.hotline)
    except ValueError as error:
        raise SystemExit(f"hotline {command}: --hotline: {error}") from None
    return Credential(
        subject=args.name or f"{party}/{args.hotline}",
        role=common_pb2.ROLE_PARTICIPANT,
        party=party,
        hotline=hotline,
        operator=common_pb2.OPERATOR_STANDBY if args.standby else common_pb2.OPERATOR_PRIMARY,
    )


async def run(args: argparse.Namespace) -> int:
    settings, exercise = server_exercise(args, "token")
    key = settings.token_secret_file
    if not args.new_key and not key.exists():
        raise SystemExit(
            f"hotline token: no token key at {key}: {settings.data_dir} is not the data "
            "directory of a server that has run; give the server's with --data-dir, or "
            "--new-key to create one there for a server yet to start"
        )
    role = _ROLES[args.role]
    if role == common_pb2.ROLE_PARTICIPANT:
        credential = participant(args, "token", exercise)
    else:
        credential = Credential(subject=args.name or args.role, role=role)
    authority = TokenAuthority(load_or_create_secret(settings.token_secret_file), exercise)
    try:
        token = authority.issue(credential, ttl_s=args.days * 86400)
    except HotlineError as error:
        raise SystemExit(f"hotline token: {error.message}") from None
    if args.output:
        write_private(args.output, f"{token}\n".encode())
    else:
        print(token)
    issued = authority.verify(token)
    print(f"credential {issued.credential_id} for {issued.station_label}", file=sys.stderr)
    return 0
