"""Builders for zones, positions and notices, and places of the Deir Ezzor scenario."""

from __future__ import annotations

from collections.abc import Sequence

from hotline.server.deconfliction import Finding
from hotline.v1 import acknowledgments_pb2, common_pb2, messages_pb2, positions_pb2, zones_pb2

T0 = 1_700_000_000.0
DEIR_EZZOR = (35.336, 40.141)
EUPHRATES = ((35.95, 39.01), (35.336, 40.141), (35.02, 40.45), (34.45, 40.92))
KHASHAM = (35.29, 40.26)

AIR = common_pb2.DOMAIN_AIR
GROUND = common_pb2.DOMAIN_GROUND
K = acknowledgments_pb2


def polygon(vertices: Sequence[tuple[float, float]]) -> zones_pb2.Geometry:
    geometry = zones_pb2.Geometry()
    for lat, lon in vertices:
        geometry.polygon.vertices.add(latitude=lat, longitude=lon)
    return geometry


def circle(centre: tuple[float, float], radius_m: float) -> zones_pb2.Geometry:
    geometry = zones_pb2.Geometry()
    geometry.circle.center.latitude, geometry.circle.center.longitude = centre
    geometry.circle.radius_m = radius_m
    return geometry


def corridor(path: Sequence[tuple[float, float]], half_width_m: float) -> zones_pb2.Geometry:
    geometry = zones_pb2.Geometry()
    for lat, lon in path:
        geometry.corridor.path.add(latitude=lat, longitude=lon)
    geometry.corridor.half_width_m = half_width_m
    return geometry


def zone(
    zone_id: str,
    geometry: zones_pb2.Geometry,
    *,
    kind: zones_pb2.ZoneKind.ValueType = zones_pb2.ZONE_KIND_RESTRICTED_OPERATIONS_ZONE,
    owner: str = "BLUE",
    state: zones_pb2.ZoneState.ValueType = zones_pb2.ZONE_STATE_ACCEPTED,
    band: tuple[float, float] | None = None,
    window: tuple[float, float] | None = None,
    version: int = 1,
) -> zones_pb2.Zone:
    z = zones_pb2.Zone(
        zone_id=zone_id,
        version=version,
        name=zone_id,
        kind=kind,
        owner_party=owner,
        state=state,
        geometry=geometry,
    )
    if band is not None:
        z.altitude.floor_m, z.altitude.ceiling_m = band
    if window is not None:
        z.effective_from.FromNanoseconds(int(window[0] * 1e9))
        z.effective_until.FromNanoseconds(int(window[1] * 1e9))
    return z


def unit(
    unit_id: str,
    at: tuple[float, float],
    observed: float,
    *,
    domain: common_pb2.Domain.ValueType = AIR,
    altitude_m: float = 6000.0,
    course_deg: float = 0.0,
    speed_mps: float = 0.0,
) -> positions_pb2.UnitPosition:
    u = positions_pb2.UnitPosition(
        unit_id=unit_id,
        callsign=unit_id,
        domain=domain,
        latitude=at[0],
        longitude=at[1],
        altitude_m=altitude_m,
        course_deg=course_deg,
        speed_mps=speed_mps,
    )
    u.observed_at.FromNanoseconds(int(observed * 1e9))
    return u


def notice(
    activity: messages_pb2.ActivityType.ValueType,
    area: zones_pb2.Geometry,
    window: tuple[float, float],
    band: tuple[float, float] | None = None,
) -> messages_pb2.ActivityNotice:
    n = messages_pb2.ActivityNotice(activity=activity, area=area)
    n.window_start.FromNanoseconds(int(window[0] * 1e9))
    n.window_end.FromNanoseconds(int(window[1] * 1e9))
    if band is not None:
        n.altitude.floor_m, n.altitude.ceiling_m = band
    return n


def kinds(findings: Sequence[Finding]) -> list[str]:
    return [K.AlertKind.Name(f.alert.kind).removeprefix("ALERT_KIND_") for f in findings]
