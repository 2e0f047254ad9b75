"""Shape checks of what a client sends, with errors that name the field.

These checks need no state; whether the state allows a message (zones, acknowledgments,
suspended hotlines) is decided by the switchboard. Geometry is checked here for what can
be seen without geodesy (ranges, counts, NaN); the deconfliction engine adds the rest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from hotline.contract import (
    ACKNOWLEDGMENT_SERVER_FIELDS,
    SERVER_FIELDS,
    SERVER_ID_PREFIX,
    STATION_BODIES,
    seconds,
)
from hotline.server.errors import InvalidArgument, PermissionDenied, ResourceExhausted
from hotline.server.field_ranges import check_ranges
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    messages_pb2,
    positions_pb2,
    zones_pb2,
)

#: Largest envelope accepted, serialised.
MAX_ENVELOPE_BYTES = 64 * 1024
MAX_POSITIONS = 1000
MAX_TEXT = 8000
#: How far a sender's clock may run ahead of the server's.
MAX_CLOCK_AHEAD_S = 300.0
_MESSAGE_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


def _any_set(message: type[Message], names: Iterable[str]) -> Callable[[Message], bool]:
    """A test of whether one of the fields ``names`` is set on a ``message``: one
    expression, a field at a time (listing every field set would build them all)."""
    fields = message.DESCRIPTOR.fields_by_name
    tests = [
        f"m.HasField({name!r})" if fields[name].message_type is not None else f"m.{name}"
        for name in names
    ]
    test: Callable[[Message], bool] = eval(f"lambda m: bool({' or '.join(tests)})")
    return test


#: What a station may not set; exercise control re-injecting may set ``replay_of``.
_STATION_REFUSED = _any_set(envelope_pb2.Envelope, SERVER_FIELDS)
_REPLAY_REFUSED = _any_set(envelope_pb2.Envelope, [f for f in SERVER_FIELDS if f != "replay_of"])
_SERVER_FIELDS_SET = (
    f"{', '.join(SERVER_FIELDS[:-1])} and {SERVER_FIELDS[-1]} are set by the server; "
    "leave them empty"
)
_ACKNOWLEDGMENT_REFUSED = _any_set(acknowledgments_pb2.Acknowledgment, ACKNOWLEDGMENT_SERVER_FIELDS)
_ACKNOWLEDGMENT_FIELDS_SET = (
    f"acknowledgment.{', '.join(ACKNOWLEDGMENT_SERVER_FIELDS[:-1])} and "
    f"{ACKNOWLEDGMENT_SERVER_FIELDS[-1]} are set by the server"
)


_ENUM_VALUES: dict[int, tuple[frozenset[int], frozenset[int]]] = {}


def _enum_values(enum: object, *, required: bool = True) -> frozenset[int]:
    """The numbers ``enum`` accepts: all its values, or, if ``required``, all but 0."""
    values = _ENUM_VALUES.get(id(enum))
    if values is None:
        every = frozenset(enum.values())  # type: ignore[attr-defined]
        values = _ENUM_VALUES[id(enum)] = (every, every - {0})
    return values[required]


def _enum_problem(value: int, enum: object, *, required: bool = True) -> str | None:
    """Why ``value`` is not one of ``enum``'s (proto3 keeps unknown numbers), or None."""
    if value in _enum_values(enum, required=required):
        return None
    if value not in _enum_values(enum, required=False):
        return f"unknown value {value}"
    names = ", ".join(n for n in enum.keys()[1:])  # type: ignore[attr-defined]
    return f"required; one of {names}"


def check_enum(value: int, enum: object, field: str, *, required: bool = True) -> None:
    """Refuses unknown enum numbers (proto3 keeps them) and, if required, the zero value."""
    if value not in _enum_values(enum, required=required):
        raise InvalidArgument(f"{field}: {_enum_problem(value, enum, required=required)}")


#: What every envelope is checked against.
_HOTLINES = _enum_values(common_pb2.Hotline)
_PRIORITIES = _enum_values(common_pb2.Priority)
_DOMAINS = _enum_values(common_pb2.Domain)


def check_finite(value: float, field: str) -> None:
    if not math.isfinite(value):
        raise InvalidArgument(f"{field}: must be a finite number, got {value}")


def check_lat_lon(latitude: float, longitude: float, field: str) -> None:
    check_finite(latitude, f"{field}.latitude")
    check_finite(longitude, f"{field}.longitude")
    if not -90.0 <= latitude <= 90.0:
        raise InvalidArgument(f"{field}.latitude: {latitude} is outside [-90, 90] degrees")
    if not -180.0 <= longitude <= 180.0:
        raise InvalidArgument(f"{field}.longitude: {longitude} is outside [-180, 180] degrees")


def _instant(stamp: Timestamp) -> tuple[int, int]:
    """A timestamp for ordering (exact, and whatever its values)."""
    return stamp.seconds, stamp.nanos


def check_envelope(envelope: envelope_pb2.Envelope, now: float, *, replay: bool = False) -> str:
    """Checks a client envelope's shape; returns the name of its body.

    Every Timestamp, Duration and uint64 in it is checked first, wherever it is (see
    :mod:`~hotline.server.field_ranges`), so the checks below read only valid values.
    ``replay_of`` is refused like the other server fields unless ``replay`` says the
    caller may re-inject recorded traffic (exercise control); then it must be a
    message id."""
    size = envelope.ByteSize()
    if size > MAX_ENVELOPE_BYTES:
        raise ResourceExhausted(
            f"envelope: {size} bytes is over the limit of {MAX_ENVELOPE_BYTES} bytes"
        )
    check_ranges(envelope)
    if not _MESSAGE_ID.match(envelope.message_id):
        raise InvalidArgument(
            "message_id: required, 1-128 printable ASCII characters without spaces"
        )
    if envelope.message_id.startswith(SERVER_ID_PREFIX):
        raise InvalidArgument(f"message_id: the prefix {SERVER_ID_PREFIX!r} is the server's")
    sender = envelope.sender
    if not sender.party:
        raise InvalidArgument("sender.party: required")
    if sender.hotline not in _HOTLINES:
        check_enum(sender.hotline, common_pb2.Hotline, "sender.hotline")
    if envelope.hotline not in _HOTLINES:
        check_enum(envelope.hotline, common_pb2.Hotline, "hotline")
    if envelope.priority not in _PRIORITIES:
        check_enum(envelope.priority, common_pb2.Priority, "priority")
    if not envelope.HasField("sent_at"):
        raise InvalidArgument("sent_at: required")
    sent_at = seconds(envelope.sent_at)
    if sent_at > now + MAX_CLOCK_AHEAD_S:
        raise InvalidArgument(
            f"sent_at: {sent_at - now:.0f} s in the future; check the station's clock"
        )
    if (_REPLAY_REFUSED if replay else _STATION_REFUSED)(envelope):
        raise InvalidArgument(_SERVER_FIELDS_SET)
    if replay and not _MESSAGE_ID.match(envelope.replay_of):
        raise InvalidArgument(
            "replay_of: the recorded original's message id, 1-128 printable ASCII characters"
        )
    body = envelope.WhichOneof("body")
    if body is None:
        raise InvalidArgument("body: required; an envelope carries exactly one message")
    if body not in STATION_BODIES:
        raise PermissionDenied(f"{body}: raised by the server only")
    _BODY_CHECKS[body](envelope)
    return body


def _text(envelope: envelope_pb2.Envelope) -> None:
    text = envelope.text
    if not text.text and not text.code_word:
        raise InvalidArgument("text.text: required (or a pre-agreed text.code_word)")
    if len(text.text) > MAX_TEXT or len(text.translation) > MAX_TEXT:
        raise InvalidArgument(f"text.text: longer than {MAX_TEXT} characters")


#: A unit's numbers that must be finite, in the order a refusal names the first.
_UNIT_NUMBERS = ("latitude", "longitude", "altitude_m", "course_deg", "speed_mps", "accuracy_m")


def _unit_problem(unit: positions_pb2.UnitPosition) -> str | None:
    """What is wrong with one reported position (``field: reason``), or None. Every
    report carries positions: the common case, all valid, builds no string."""
    if not unit.unit_id:
        return "unit_id: required"
    if unit.domain not in _DOMAINS:
        return f"domain: {_enum_problem(unit.domain, common_pb2.Domain)}"
    latitude, longitude, course = unit.latitude, unit.longitude, unit.course_deg
    speed, accuracy = unit.speed_mps, unit.accuracy_m
    # A sum is finite only if every term is (or, rarely, when large terms overflow it).
    if not math.isfinite(latitude + longitude + unit.altitude_m + course + speed + accuracy):
        for name in _UNIT_NUMBERS:
            value = getattr(unit, name)
            if not math.isfinite(value):
                return f"{name}: must be a finite number, got {value}"
    if not -90.0 <= latitude <= 90.0:
        return f"latitude: {latitude} is outside [-90, 90] degrees"
    if not -180.0 <= longitude <= 180.0:
        return f"longitude: {longitude} is outside [-180, 180] degrees"
    if not 0.0 <= course < 360.0:
        return f"course_deg: {course} is outside [0, 360)"
    if speed < 0:
        return "speed_mps: must not be negative"
    if accuracy < 0:
        return "accuracy_m: must not be negative"
    if not unit.HasField("observed_at"):
        return "observed_at: required"
    return None


def _position_report(envelope: envelope_pb2.Envelope) -> None:
    positions = envelope.position_report.positions
    if not positions:
        raise InvalidArgument("position_report.positions: at least one position required")
    if len(positions) > MAX_POSITIONS:
        raise InvalidArgument(f"position_report.positions: more than {MAX_POSITIONS}")
    for i, unit in enumerate(positions):
        problem = _unit_problem(unit)
        if problem is not None:
            raise InvalidArgument(f"position_report.positions[{i}].{problem}")


def check_geometry(geometry: zones_pb2.Geometry, field: str) -> None:
    shape = geometry.WhichOneof("shape")
    if shape is None:
        raise InvalidArgument(f"{field}: a polygon, circle or corridor is required")
    if shape == "polygon":
        vertices = geometry.polygon.vertices
        for i, v in enumerate(vertices):
            check_lat_lon(v.latitude, v.longitude, f"{field}.polygon.vertices[{i}]")
        if len({(v.latitude, v.longitude) for v in vertices}) < 3:
            raise InvalidArgument(f"{field}.polygon: fewer than 3 distinct vertices")
    elif shape == "circle":
        circle = geometry.circle
        if not circle.HasField("center"):
            raise InvalidArgument(f"{field}.circle.center: required")
        check_lat_lon(circle.center.latitude, circle.center.longitude, f"{field}.circle.center")
        check_finite(circle.radius_m, f"{field}.circle.radius_m")
        if circle.radius_m <= 0:
            raise InvalidArgument(f"{field}.circle.radius_m: must be positive")
    else:
        corridor = geometry.corridor
        for i, p in enumerate(corridor.path):
            check_lat_lon(p.latitude, p.longitude, f"{field}.corridor.path[{i}]")
        if len({(p.latitude, p.longitude) for p in corridor.path}) < 2:
            raise InvalidArgument(f"{field}.corridor.path: at least 2 distinct points required")
        check_finite(corridor.half_width_m, f"{field}.corridor.half_width_m")
        if corridor.half_width_m <= 0:
            raise InvalidArgument(f"{field}.corridor.half_width_m: must be positive")


def check_altitude(band: zones_pb2.AltitudeBand, field: str) -> None:
    check_finite(band.floor_m, f"{field}.floor_m")
    check_finite(band.ceiling_m, f"{field}.ceiling_m")
    if band.floor_m >= band.ceiling_m:
        raise InvalidArgument(
            f"{field}: floor {band.floor_m} m must be below ceiling {band.ceiling_m} m"
        )


def check_zone(zone: zones_pb2.Zone, field: str) -> None:
    check_enum(zone.kind, zones_pb2.ZoneKind, f"{field}.kind")
    if not zone.HasField("geometry"):
        raise InvalidArgument(f"{field}.geometry: required")
    check_geometry(zone.geometry, f"{field}.geometry")
    if zone.HasField("altitude"):
        check_altitude(zone.altitude, f"{field}.altitude")
    if (
        zone.HasField("effective_from")
        and zone.HasField("effective_until")
        and _instant(zone.effective_until) <= _instant(zone.effective_from)
    ):
        raise InvalidArgument(f"{field}.effective_until: must be after effective_from")
    for i, domain in enumerate(zone.restricted_domains):
        check_enum(domain, common_pb2.Domain, f"{field}.restricted_domains[{i}]")
    if zone.version or zone.state or zone.proposed_by:
        raise InvalidArgument(f"{field}: version, state and proposed_by are set by the server")


def _zone_proposal(envelope: envelope_pb2.Envelope) -> None:
    if not envelope.zone_proposal.HasField("zone"):
        raise InvalidArgument("zone_proposal.zone: required")
    check_zone(envelope.zone_proposal.zone, "zone_proposal.zone")


def _zone_update(envelope: envelope_pb2.Envelope) -> None:
    if not envelope.zone_update.HasField("zone"):
        raise InvalidArgument("zone_update.zone: required")
    check_zone(envelope.zone_update.zone, "zone_update.zone")


def _zone_withdrawal(envelope: envelope_pb2.Envelope) -> None:
    if not envelope.zone_withdrawal.zone_id:
        raise InvalidArgument("zone_withdrawal.zone_id: required")


def _zone_decision(envelope: envelope_pb2.Envelope) -> None:
    decision = envelope.zone_decision
    if not decision.zone_id:
        raise InvalidArgument("zone_decision.zone_id: required")
    if decision.version == 0:
        raise InvalidArgument("zone_decision.version: required (the version decided on)")
    check_enum(decision.decision, zones_pb2.ZoneDecisionKind, "zone_decision.decision")
    if decision.decision == zones_pb2.ZONE_DECISION_KIND_REJECT and not decision.reason:
        raise InvalidArgument("zone_decision.reason: required for REJECT")
    if decision.decision == zones_pb2.ZONE_DECISION_KIND_COUNTER:
        if not decision.HasField("counter_proposal"):
            raise InvalidArgument("zone_decision.counter_proposal: required for COUNTER")
        check_zone(decision.counter_proposal, "zone_decision.counter_proposal")


def _activity_notice(envelope: envelope_pb2.Envelope) -> None:
    notice = envelope.activity_notice
    check_enum(notice.activity, messages_pb2.ActivityType, "activity_notice.activity")
    if not notice.HasField("area"):
        raise InvalidArgument("activity_notice.area: required")
    check_geometry(notice.area, "activity_notice.area")
    if notice.HasField("altitude"):
        check_altitude(notice.altitude, "activity_notice.altitude")
    if not notice.HasField("window_start") or not notice.HasField("window_end"):
        raise InvalidArgument("activity_notice.window_start and window_end: required")
    if _instant(notice.window_end) <= _instant(notice.window_start):
        raise InvalidArgument("activity_notice.window_end: must be after window_start")


def _stop_request(envelope: envelope_pb2.Envelope) -> None:
    if envelope.priority != common_pb2.PRIORITY_FLASH:
        raise InvalidArgument("priority: a stop request is always FLASH")
    if not envelope.stop_request.reason:
        raise InvalidArgument("stop_request.reason: required")
    if envelope.stop_request.HasField("area"):
        check_geometry(envelope.stop_request.area, "stop_request.area")


def _incident_report(envelope: envelope_pb2.Envelope) -> None:
    report = envelope.incident_report
    if not report.description:
        raise InvalidArgument("incident_report.description: required")
    if report.HasField("location"):
        check_lat_lon(
            report.location.latitude, report.location.longitude, "incident_report.location"
        )


def _line_test(envelope: envelope_pb2.Envelope) -> None:
    return


def _acknowledgment(envelope: envelope_pb2.Envelope) -> None:
    ack = envelope.acknowledgment
    if not ack.message_id:
        raise InvalidArgument("acknowledgment.message_id: required")
    check_enum(ack.kind, acknowledgments_pb2.AckKind, "acknowledgment.kind")
    if ack.kind == acknowledgments_pb2.ACK_KIND_UNABLE and not ack.reason:
        raise InvalidArgument("acknowledgment.reason: UNABLE needs a reason")
    if _ACKNOWLEDGMENT_REFUSED(ack):
        raise InvalidArgument(_ACKNOWLEDGMENT_FIELDS_SET)


_BODY_CHECKS = {
    "text": _text,
    "position_report": _position_report,
    "zone_proposal": _zone_proposal,
    "zone_update": _zone_update,
    "zone_withdrawal": _zone_withdrawal,
    "zone_decision": _zone_decision,
    "activity_notice": _activity_notice,
    "stop_request": _stop_request,
    "incident_report": _incident_report,
    "line_test": _line_test,
    "acknowledgment": _acknowledgment,
}
