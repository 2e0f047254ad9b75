"""``hotline pki``: the exercise's certificate authority and what it issues.

    hotline pki init                       the CA: pki/ca.crt (hand out) and pki/ca.key
    hotline pki issue server --name HOST   the server's certificate and key
    hotline pki issue station --party BLUE --hotline AIR_OPERATIONS [--standby]
    hotline pki issue control --name NAME  exercise control (or observer, admin)
    hotline pki issue bridge               the MQTT bridge's, for a broker (mqtts://)
    hotline pki revoke ID ...              certificates or tokens, into pki/revoked.crl

Keys are written 0600, the directory 0700. Each certificate's id (its serial number,
hex) is printed; ``revoke`` takes it, or a token's id from ``hotline token``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hotline.cli.credentials import participant, server_exercise
from hotline.server.errors import ConfigurationError
from hotline.server.identity import Credential
from hotline.server.pki import (
    ALGORITHMS,
    Authority,
    Issued,
    revocation_list,
)
from hotline.server.private_files import write_private, write_public
from hotline.v1 import common_pb2

#: Where the revocation list goes in the PKI directory (``hotline serve --revocations``).
REVOCATION_LIST = "revoked.crl"
_ROLES = {
    "control": common_pb2.ROLE_EXERCISE_CONTROL,
    "observer": common_pb2.ROLE_OBSERVER,
    "admin": common_pb2.ROLE_ADMIN,
}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "pki",
        help="the exercise CA: certificates for TLS and mutual TLS",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--dir", type=Path, default=Path("pki"), help="the PKI directory (default ./pki)"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    init = actions.add_parser("init", parents=[common], help="create the exercise CA")
    init.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        default="p256",
        help="the CA's key (default p256); the keys it issues are P-256",
    )
    init.add_argument("--days", type=float, default=365.0, help="valid for (default 365)")
    init.add_argument("--exercise", help="the server's exercise TOML file (its id)")
    init.add_argument("--data-dir", dest="data_dir", help=argparse.SUPPRESS)
    init.set_defaults(run=_init)

    issue = actions.add_parser("issue", help="issue a certificate and key")
    kinds = issue.add_subparsers(dest="kind", required=True, metavar="KIND")
    issued = argparse.ArgumentParser(add_help=False, parents=[common])
    issued.add_argument("--days", type=float, default=30.0, help="valid for (default 30)")
    issued.add_argument("-o", "--output", type=Path, help="file stem (default in --dir)")

    server = kinds.add_parser("server", parents=[issued], help="the server's certificate")
    server.add_argument(
        "--name",
        action="append",
        required=True,
        help="a DNS name or IP address clients connect to (repeat for more)",
    )
    server.set_defaults(run=_issue_server)

    station = kinds.add_parser("station", parents=[issued], help="a station's certificate")
    station.add_argument("--party", required=True)
    station.add_argument("--hotline", required=True)
    station.add_argument("--standby", action="store_true", help="the standby operator's seat")
    station.add_argument("--name", default="", help=argparse.SUPPRESS)
    station.add_argument("--exercise", help="the server's exercise TOML file")
    station.add_argument("--data-dir", dest="data_dir", help=argparse.SUPPRESS)
    station.set_defaults(run=_issue_station)

    control = kinds.add_parser(
        "control", parents=[issued], help="exercise control's (or an observer's)"
    )
    control.add_argument("--name", required=True, help="who holds it")
    control.add_argument("--role", choices=sorted(_ROLES), default="control")
    control.set_defaults(run=_issue_control)

    bridge = kinds.add_parser(
        "bridge", parents=[issued], help="the MQTT bridge's, for a broker requiring one"
    )
    bridge.add_argument("--name", default="hotline-bridge", help="its name (CN)")
    bridge.set_defaults(run=_issue_bridge)

    revoke = actions.add_parser(
        "revoke", parents=[common], help="revoke certificates or tokens by id"
    )
    revoke.add_argument("ids", nargs="+", metavar="ID", help="a certificate's or token's id")
    revoke.set_defaults(run=_revoke)


def _authority(directory: Path) -> Authority:
    try:
        return Authority.load(directory)
    except ConfigurationError as error:
        raise SystemExit(f"hotline pki: {error} (create the CA with 'hotline pki init')") from None


def _private_directory(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)


async def _init(args: argparse.Namespace) -> int:
    if (args.dir / "ca.key").exists():
        raise SystemExit(f"hotline pki init: {args.dir / 'ca.key'} exists; keep the CA you have")
    _, exercise = server_exercise(args, "pki init")
    try:
        authority = Authority.create(exercise.exercise_id, args.algorithm, args.days)
    except ConfigurationError as error:
        raise SystemExit(f"hotline pki init: {error}") from None
    _private_directory(args.dir)
    authority.save(args.dir)
    print(f"exercise CA for {exercise.exercise_id!r}: {args.dir / 'ca.crt'} (hand it out),")
    print(f"its key {args.dir / 'ca.key'} (keep it on this machine)")
    return 0


def _write(args: argparse.Namespace, stem: str, issued: Issued) -> int:
    base = args.output or args.dir / stem
    certificate = base.with_name(base.name + ".crt")
    key = base.with_name(base.name + ".key")
    write_public(certificate, issued.certificate)
    write_private(key, issued.key)
    print(f"{certificate} and {key}: certificate {issued.serial:x}")
    return 0


def _issue(args: argparse.Namespace, what: str, issue: Any) -> Issued:
    try:
        return issue()  # type: ignore[no-any-return]
    except ConfigurationError as error:
        raise SystemExit(f"hotline pki issue {what}: {error}") from None


async def _issue_server(args: argparse.Namespace) -> int:
    authority = _authority(args.dir)
    issued = _issue(
        args,
        "server",
        lambda: authority.issue_server(args.name, days=args.days),
    )
    return _write(args, "server", issued)


async def _issue_station(args: argparse.Namespace) -> int:
    authority = _authority(args.dir)
    _, exercise = server_exercise(args, "pki issue station")
    credential = participant(args, "pki issue station", exercise)
    if exercise.exercise_id != authority.exercise_id:
        raise SystemExit(
            f"hotline pki issue station: the CA is exercise {authority.exercise_id!r}'s, "
            f"the server runs {exercise.exercise_id!r}"
        )
    if not exercise.station(credential.party, credential.hotline):
        raise SystemExit(
            f"hotline pki issue station: exercise {exercise.exercise_id!r} has no "
            f"{args.party} station on {args.hotline}"
        )
    issued = _issue(
        args,
        "station",
        lambda: authority.issue_client(credential, days=args.days),
    )
    seat = "standby" if args.standby else "primary"
    return _write(args, f"{args.party}-{args.hotline}-{seat}", issued)


async def _issue_control(args: argparse.Namespace) -> int:
    authority = _authority(args.dir)
    credential = Credential(subject=args.name, role=_ROLES[args.role])
    issued = _issue(
        args,
        "control",
        lambda: authority.issue_client(credential, days=args.days),
    )
    return _write(args, f"{args.role}-{args.name}", issued)


async def _issue_bridge(args: argparse.Namespace) -> int:
    authority = _authority(args.dir)
    issued = _issue(
        args,
        "bridge",
        lambda: authority.issue_bridge(args.name, days=args.days),
    )
    return _write(args, args.name, issued)


async def _revoke(args: argparse.Namespace) -> int:
    authority = _authority(args.dir)
    try:
        ids = {int(text, 16) for text in args.ids}
    except ValueError:
        raise SystemExit(
            "hotline pki revoke: an id is hexadecimal (as 'hotline pki issue' and "
            "'hotline token' print it)"
        ) from None
    path = args.dir / REVOCATION_LIST
    before: frozenset[int] = frozenset()
    if path.exists():
        try:
            before = revocation_list(path.read_bytes(), authority.certificate)
        except ValueError as error:
            raise SystemExit(f"hotline pki revoke: {path}: {error}") from None
    crl: x509.CertificateRevocationList = authority.revocation_list(before | ids)
    write_public(path, crl.public_bytes(serialization.Encoding.PEM))
    print(f"{path}: {len(before | ids)} revoked ({len(ids - before)} new)", file=sys.stderr)
    return 0
