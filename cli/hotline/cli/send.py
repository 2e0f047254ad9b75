"""``hotline send KIND ...``: one message of any kind, sent and recorded."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509

from hotline.cli import render
from hotline.cli.options import (
    ZONE_KINDS_HELP,
    add_geometry,
    enum_value,
    geometry,
    stamp,
    token_text,
    when,
    zone_kind,
)
from hotline.client import Body, HotlineClient, acknowledgment, envelope
from hotline.server.errors import ConfigurationError
from hotline.server.pki import parse_credential_uri, read_certificate
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    messages_pb2,
    positions_pb2,
    zones_pb2,
)


def _sender(args: argparse.Namespace) -> common_pb2.StationRef:
    """The station the credential names: the token's, or with a client certificate alone
    (mutual TLS) the certificate's."""
    token = token_text(args)
    if token or not args.cert:
        return _station_of(token)
    return _station_of_certificate(Path(args.cert))


def _station_of_certificate(path: Path) -> common_pb2.StationRef:
    try:
        names = read_certificate(path).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
        for uri in names.value.get_values_for_type(x509.UniformResourceIdentifier):
            credential = parse_credential_uri(uri)[1]
            if credential.party:
                return common_pb2.StationRef(party=credential.party, hotline=credential.hotline)
    except (ConfigurationError, x509.ExtensionNotFound, ValueError) as error:
        raise SystemExit(f"hotline send: {error}") from None
    raise SystemExit(f"hotline send: the certificate {path} names no station")


def _station_of(token: str) -> common_pb2.StationRef:
    # The credential names the station; reading its claims needs no key (the server
    # verifies the signature).
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        hotline = common_pb2.Hotline.Value(f"HOTLINE_{claims['hotline']}")
        return common_pb2.StationRef(party=claims["party"], hotline=hotline)
    except (jwt.InvalidTokenError, KeyError, ValueError) as error:
        raise SystemExit(f"hotline send: the credential names no station ({error})") from None


def add_parser(commands: Any, connected: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("send", help="send one message")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    common = argparse.ArgumentParser(add_help=False, parents=[connected])
    add_common_options(common)
    add_kinds(kinds, common)
    parser.set_defaults(run=run)


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """``--priority`` and ``--message-id``, which every kind takes."""
    parser.add_argument(
        "--priority",
        help="FLASH, IMMEDIATE, PRIORITY or ROUTINE (default ROUTINE; a stop request is "
        "always FLASH)",
    )
    parser.add_argument("--message-id", help="choose the id (a retry with it takes effect once)")


def add_kinds(kinds: Any, common: argparse.ArgumentParser) -> None:
    """A sub-command per message kind (``text``, ``position``, ``zone-propose`` ...),
    each with ``common``'s options; also used by the station console's ``send``."""
    _add_messages(kinds, common)
    _add_zones(kinds, common)
    _add_warnings(kinds, common)


def priority_of(args: argparse.Namespace, body: Body) -> common_pb2.Priority.ValueType:
    """The priority ``--priority`` asks for; raises ArgumentTypeError for a stop request
    at anything but FLASH (it is refused, not silently upgraded)."""
    stop = isinstance(body, messages_pb2.StopRequest)
    if args.priority is None:
        return common_pb2.PRIORITY_FLASH if stop else common_pb2.PRIORITY_ROUTINE
    priority = enum_value(common_pb2.Priority, "PRIORITY_", args.priority)
    if stop and priority != common_pb2.PRIORITY_FLASH:
        raise argparse.ArgumentTypeError(
            f"--priority {args.priority}: a stop request is always FLASH; leave --priority out"
        )
    return priority  # type: ignore[return-value]


def _add_messages(kinds: Any, common: argparse.ArgumentParser) -> None:
    text = kinds.add_parser("text", parents=[common], help="free text or a code word")
    text.add_argument("text", nargs="?", default="")
    text.add_argument("--language", default="en")
    text.add_argument("--translation", default="")
    text.add_argument("--code-word", default="")
    text.add_argument("--code-number", type=int, default=0)
    text.set_defaults(body=_text)

    position = kinds.add_parser("position", parents=[common], help="an own-unit position")
    position.add_argument("--unit", required=True, help="the unit's id, e.g. B-COY-1")
    position.add_argument("--callsign", default="", help="(default: the unit's id)")
    position.add_argument("--domain", default="AIR", help="AIR, GROUND or SEA (default AIR)")
    position.add_argument("--lat", type=float, required=True, help="latitude, WGS-84 degrees")
    position.add_argument("--lon", type=float, required=True, help="longitude, WGS-84 degrees")
    position.add_argument("--alt", type=float, default=0.0, help="metres MSL")
    position.add_argument("--course", type=float, default=0.0, help="degrees true")
    position.add_argument("--speed", type=float, default=0.0, help="m/s")
    position.set_defaults(body=_position)

    ack = kinds.add_parser("ack", parents=[common], help="answer a message")
    # Not "message_id": that is --message-id, the id of the acknowledgment itself.
    ack.add_argument("answered", metavar="MESSAGE_ID", help="the id of the message answered")
    ack.add_argument("answer", choices=["receipt", "wilco", "unable", "roger"])
    ack.add_argument("--reason", default="")
    ack.set_defaults(body=_ack)


def _zone_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--zone-id", required=True)
    parser.add_argument("--name", default="")
    parser.add_argument(
        "--kind", type=zone_kind, default="ROZ", help=f"{ZONE_KINDS_HELP} (default ROZ)"
    )
    parser.add_argument(
        "--floor", type=float, default=0.0, help="lowest altitude, metres MSL (default 0)"
    )
    parser.add_argument(
        "--ceiling",
        type=float,
        default=15000.0,
        help="highest altitude, metres MSL (default 15000)",
    )
    parser.add_argument("--from", dest="start", type=when, help="ISO time or +10m")
    parser.add_argument("--until", type=when, help="ISO time or +2h")
    add_geometry(parser)


def _add_zones(kinds: Any, common: argparse.ArgumentParser) -> None:
    propose = kinds.add_parser("zone-propose", parents=[common], help="propose a zone")
    _zone_options(propose)
    propose.set_defaults(body=_zone_proposal)

    update = kinds.add_parser(
        "zone-update", parents=[common], help="propose a new version of an own zone"
    )
    _zone_options(update)
    update.set_defaults(body=lambda args: zones_pb2.ZoneUpdate(zone=_zone(args)))

    decide = kinds.add_parser(
        "zone-decide", parents=[common], help="accept, reject or counter a proposed zone"
    )
    decide.add_argument("--version", type=int, required=True)
    decide.add_argument("decision", choices=["accept", "reject", "counter"])
    decide.add_argument("--reason", default="")
    _zone_options(decide)
    decide.set_defaults(body=_zone_decision)

    withdraw = kinds.add_parser("zone-withdraw", parents=[common], help="withdraw own zone")
    withdraw.add_argument("--zone-id", required=True)
    withdraw.add_argument("--reason", default="")
    withdraw.set_defaults(body=_zone_withdrawal)


def _add_warnings(kinds: Any, common: argparse.ArgumentParser) -> None:
    stop = kinds.add_parser("stop", parents=[common], help="stop request (always FLASH)")
    stop.add_argument("reason")
    stop.set_defaults(body=_stop)

    incident = kinds.add_parser("incident", parents=[common], help="report an incident")
    incident.add_argument("description")
    incident.add_argument("--lat", type=float)
    incident.add_argument("--lon", type=float)
    incident.set_defaults(body=_incident)

    line_test = kinds.add_parser("line-test", parents=[common], help="test the line")
    line_test.set_defaults(body=lambda _: messages_pb2.LineTest(test_number=1))

    notice = kinds.add_parser("notice", parents=[common], help="pre-notify an activity")
    notice.add_argument("--activity", default="STRIKE", help="STRIKE, FLIGHT, GROUND_MOVEMENT")
    notice.add_argument("--start", type=when, required=True, help="ISO time or +10m")
    notice.add_argument("--end", type=when, required=True, help="ISO time or +40m")
    notice.add_argument("--description", default="")
    add_geometry(notice)
    notice.set_defaults(body=_notice)


def _text(args: argparse.Namespace) -> Body:
    return messages_pb2.TextMessage(
        text=args.text,
        language=args.language,
        translation=args.translation,
        code_word=args.code_word,
        code_number=args.code_number,
    )


def _position(args: argparse.Namespace) -> Body:
    unit = positions_pb2.UnitPosition(
        unit_id=args.unit,
        callsign=args.callsign or args.unit,
        domain=enum_value(common_pb2.Domain, "DOMAIN_", args.domain),  # type: ignore[arg-type]
        latitude=args.lat,
        longitude=args.lon,
        altitude_m=args.alt,
        course_deg=args.course,
        speed_mps=args.speed,
        observed_at=stamp(when("+0s")),  # type: ignore[arg-type]
    )
    return positions_pb2.PositionReport(positions=[unit])


def _zone(args: argparse.Namespace) -> zones_pb2.Zone:
    zone = zones_pb2.Zone(
        zone_id=args.zone_id,
        name=args.name or args.zone_id,
        kind=args.kind,
        geometry=geometry(args),
        altitude=zones_pb2.AltitudeBand(floor_m=args.floor, ceiling_m=args.ceiling),
    )
    if args.start is not None:
        zone.effective_from.CopyFrom(stamp(args.start))  # type: ignore[arg-type]
    if args.until is not None:
        zone.effective_until.CopyFrom(stamp(args.until))  # type: ignore[arg-type]
    return zone


def _zone_proposal(args: argparse.Namespace) -> Body:
    return zones_pb2.ZoneProposal(zone=_zone(args))


_DECISIONS = {
    "accept": zones_pb2.ZONE_DECISION_KIND_ACCEPT,
    "reject": zones_pb2.ZONE_DECISION_KIND_REJECT,
    "counter": zones_pb2.ZONE_DECISION_KIND_COUNTER,
}


def _zone_decision(args: argparse.Namespace) -> Body:
    if args.decision != "counter":
        given = [
            option
            for option, value in (
                ("--circle", args.circle),
                ("--polygon", args.polygon),
                ("--corridor", args.corridor),
                ("--name", args.name),
                ("--from", args.start),
                ("--until", args.until),
            )
            if value
        ]
        if given:
            raise argparse.ArgumentTypeError(
                f"{', '.join(given)}: only a counter proposal has a zone; "
                f"'{args.decision}' takes --zone-id, --version and --reason"
            )
    if args.decision == "accept" and args.reason:
        raise argparse.ArgumentTypeError("--reason: an acceptance gives none")
    decision = zones_pb2.ZoneDecision(
        zone_id=args.zone_id,
        version=args.version,
        decision=_DECISIONS[args.decision],
        reason=args.reason,
    )
    if args.decision == "counter":
        # The counter proposal: the zone as this side would accept it.
        decision.counter_proposal.CopyFrom(_zone(args))
    return decision


def _zone_withdrawal(args: argparse.Namespace) -> Body:
    return zones_pb2.ZoneWithdrawal(zone_id=args.zone_id, reason=args.reason)


def _notice(args: argparse.Namespace) -> Body:
    return messages_pb2.ActivityNotice(
        activity=enum_value(messages_pb2.ActivityType, "ACTIVITY_TYPE_", args.activity),  # type: ignore[arg-type]
        area=geometry(args),
        window_start=stamp(args.start),  # type: ignore[arg-type]
        window_end=stamp(args.end),  # type: ignore[arg-type]
        description=args.description,
    )


def _stop(args: argparse.Namespace) -> Body:
    return messages_pb2.StopRequest(reason=args.reason)


def _incident(args: argparse.Namespace) -> Body:
    report = messages_pb2.IncidentReport(description=args.description)
    if args.lat is not None and args.lon is not None:
        report.location.latitude = args.lat
        report.location.longitude = args.lon
    return report


def _ack(args: argparse.Namespace) -> Body:
    if args.answer == "unable" and not args.reason:
        raise argparse.ArgumentTypeError("unable: give the reason with --reason")
    if args.answer != "unable" and args.reason:
        raise argparse.ArgumentTypeError(f"--reason: only UNABLE gives one, not {args.answer}")
    kind = enum_value(acknowledgments_pb2.AckKind, "ACK_KIND_", args.answer)
    return acknowledgment(args.answered, kind, args.reason)  # type: ignore[arg-type]


async def run(args: argparse.Namespace) -> int:
    body = args.body(args)
    message = envelope(_sender(args), body, priority_of(args, body), args.message_id)
    async with HotlineClient(args.address, args.token, tls=args.tls) as client:
        result = await client.send(message)
    again = " (already recorded: this was a retry)" if result.duplicate else ""
    print(
        f"recorded on {render.hotline(message.hotline)} as #{result.sequence}, "
        f"message id {result.message_id}{again}"
    )
    return 0
