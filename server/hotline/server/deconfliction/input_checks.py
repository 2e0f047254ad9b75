"""Validation of what clients send the engine: zones, unit positions, activity notices.

Every check raises :class:`~hotline.server.errors.InvalidArgument` with the path of the
offending field first, e.g. ``zone.geometry.polygon: fewer than 3 distinct vertices``.
Nothing is clamped or repaired: a value the engine cannot evaluate exactly is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hotline.contract import seconds
from hotline.server.deconfliction.geometry import Shape, coordinates, shape_from_geometry
from hotline.server.errors import InvalidArgument
from hotline.server.field_ranges import check_timestamp
from hotline.v1 import common_pb2, messages_pb2, positions_pb2, zones_pb2

#: Faster than any platform a hotline tracks; such a speed is a unit error.
MAX_SPEED_MPS = 3_000.0
_FINITE = math.inf
_DOMAINS = (common_pb2.DOMAIN_AIR, common_pb2.DOMAIN_GROUND, common_pb2.DOMAIN_SEA)


@dataclass(frozen=True, slots=True)
class NoticeArea:
    """Where, at which altitudes and when an activity notice applies."""

    shape: Shape
    floor_m: float
    ceiling_m: float
    start_s: float
    end_s: float


def validate_zone(zone: zones_pb2.Zone, field: str = "zone") -> Shape:
    """Checks a zone's content and returns its shape.

    Ids, version, owner and state are the server's business and are not checked here.
    A missing altitude band means all altitudes; a missing ``effective_from`` means
    "from now", a missing ``effective_until`` "until withdrawn". Raises InvalidArgument.
    """
    if zone.kind not in zones_pb2.ZoneKind.values() or zone.kind == zones_pb2.ZONE_KIND_UNSPECIFIED:
        raise InvalidArgument(f"{field}.kind: required (ROZ, NO_FIRE_AREA, ...), got {zone.kind}")
    for i, domain in enumerate(zone.restricted_domains):
        if domain not in _DOMAINS:
            raise InvalidArgument(
                f"{field}.restricted_domains[{i}]: must be AIR, GROUND or SEA, got {domain}"
            )
    if not zone.HasField("geometry"):
        raise InvalidArgument(f"{field}.geometry: required")
    if zone.HasField("altitude"):
        _band(zone.altitude, f"{field}.altitude")
    has_from = zone.HasField("effective_from")
    has_until = zone.HasField("effective_until")
    if has_from:
        check_timestamp(zone.effective_from, f"{field}.effective_from")
    if has_until:
        check_timestamp(zone.effective_until, f"{field}.effective_until")
    if has_from and has_until and seconds(zone.effective_until) <= seconds(zone.effective_from):
        raise InvalidArgument(f"{field}.effective_until: must be after effective_from")
    return shape_from_geometry(zone.geometry, f"{field}.geometry")


def validate_position(unit: positions_pb2.UnitPosition, field: str = "unit") -> None:
    """Checks one unit position. Raises InvalidArgument for a missing unit id, domain or
    observation time, coordinates out of range, a course outside [0, 360), a negative
    speed or accuracy, or any value that is not a finite number."""
    lat, lon, course, speed = unit.latitude, unit.longitude, unit.course_deg, unit.speed_mps
    # Every report comes through here: one combined test for the usual valid case (NaN
    # fails every comparison), the precise checks below only for a report that fails it.
    if (
        -90.0 <= lat <= 90.0
        and -180.0 <= lon <= 180.0
        and 0.0 <= course < 360.0
        and 0.0 <= speed <= MAX_SPEED_MPS
        and -_FINITE < unit.altitude_m < _FINITE
        and 0.0 <= unit.accuracy_m < _FINITE
        and unit.unit_id
        and unit.domain in _DOMAINS
        and unit.HasField("observed_at")
        and 0 <= unit.observed_at.nanos < 1_000_000_000
    ):
        return
    if not unit.unit_id:
        raise InvalidArgument(f"{field}.unit_id: required")
    if unit.domain not in _DOMAINS:
        raise InvalidArgument(f"{field}.domain: must be AIR, GROUND or SEA, got {unit.domain}")
    coordinates(unit.latitude, unit.longitude, field)
    if not math.isfinite(unit.altitude_m):
        raise InvalidArgument(f"{field}.altitude_m: {unit.altitude_m} is not a finite number")
    course = unit.course_deg
    if not (math.isfinite(course) and 0.0 <= course < 360.0):
        raise InvalidArgument(f"{field}.course_deg: {course} is not in [0, 360)")
    speed = unit.speed_mps
    if not (math.isfinite(speed) and 0.0 <= speed <= MAX_SPEED_MPS):
        raise InvalidArgument(f"{field}.speed_mps: {speed} is not in [0, {MAX_SPEED_MPS:.0f}]")
    if not (math.isfinite(unit.accuracy_m) and unit.accuracy_m >= 0.0):
        raise InvalidArgument(f"{field}.accuracy_m: {unit.accuracy_m} must be a number >= 0")
    if not unit.HasField("observed_at"):
        raise InvalidArgument(f"{field}.observed_at: required")
    check_timestamp(unit.observed_at, f"{field}.observed_at")


def validate_notice(notice: messages_pb2.ActivityNotice, field: str = "notice") -> NoticeArea:
    """Checks an activity notice and returns its area. Raises InvalidArgument for a
    missing activity, area or window, a window that does not end after it starts, a
    band whose floor is not below its ceiling, and any invalid area geometry."""
    if (
        notice.activity not in messages_pb2.ActivityType.values()
        or notice.activity == messages_pb2.ACTIVITY_TYPE_UNSPECIFIED
    ):
        raise InvalidArgument(f"{field}.activity: required (STRIKE, FLIGHT or GROUND_MOVEMENT)")
    if not notice.HasField("area"):
        raise InvalidArgument(f"{field}.area: required")
    floor, ceiling = -math.inf, math.inf
    if notice.HasField("altitude"):
        floor, ceiling = _band(notice.altitude, f"{field}.altitude")
    for name in ("window_start", "window_end"):
        if not notice.HasField(name):
            raise InvalidArgument(f"{field}.{name}: required")
        check_timestamp(getattr(notice, name), f"{field}.{name}")
    start, end = seconds(notice.window_start), seconds(notice.window_end)
    if end <= start:
        raise InvalidArgument(f"{field}.window_end: must be after window_start")
    shape = shape_from_geometry(notice.area, f"{field}.area")
    return NoticeArea(shape=shape, floor_m=floor, ceiling_m=ceiling, start_s=start, end_s=end)


def _band(band: zones_pb2.AltitudeBand, field: str) -> tuple[float, float]:
    floor, ceiling = band.floor_m, band.ceiling_m
    if not math.isfinite(floor):
        raise InvalidArgument(f"{field}.floor_m: {floor} is not a finite number")
    if not math.isfinite(ceiling):
        raise InvalidArgument(f"{field}.ceiling_m: {ceiling} is not a finite number")
    if floor >= ceiling:
        raise InvalidArgument(f"{field}: floor_m ({floor}) must be below ceiling_m ({ceiling})")
    return floor, ceiling
