"""The theatre a scenario starts from and moves: measures agreed before the exercise,
and simulated units with their routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format

from hotline.server.deconfliction.geodesy import distance_m
from hotline.server.errors import ConfigurationError
from hotline.server.exercise import Exercise, hotline_name
from hotline.server.scenario.fields import (
    check_known,
    read_id,
    read_list,
    read_number,
    read_offset,
    read_station,
    read_table,
    read_tables,
    read_text,
)
from hotline.server.scenario.model import PreloadedZone, SimulatedUnit, StationName, Waypoint
from hotline.v1 import common_pb2, zones_pb2

_DOMAINS = {
    "AIR": common_pb2.DOMAIN_AIR,
    "GROUND": common_pb2.DOMAIN_GROUND,
    "SEA": common_pb2.DOMAIN_SEA,
}
#: The hotline of a unit's domain, where its own reports go by default.
_DOMAIN_HOTLINE = {
    common_pb2.DOMAIN_AIR: common_pb2.HOTLINE_AIR_OPERATIONS,
    common_pb2.DOMAIN_GROUND: common_pb2.HOTLINE_GROUND_COMMANDERS,
    common_pb2.DOMAIN_SEA: common_pb2.HOTLINE_GROUND_COMMANDERS,
}


def preloaded_zone(
    table: Mapping[str, Any], where: str, exercise: Exercise | None, duration: float
) -> PreloadedZone:
    check_known(table, ("owner", "accepted_by", "effective_from", "effective_until", "zone"), where)
    stations = {(s.party, s.hotline) for s in exercise.stations} if exercise else None
    owner = read_station(table.get("owner"), f"{where}.owner", stations)
    if "accepted_by" in table:
        accepted_by = tuple(
            read_station(v, f"{where}.accepted_by[{i}]", stations)
            for i, v in enumerate(read_list(table["accepted_by"], f"{where}.accepted_by"))
        )
    else:
        accepted_by = tuple(
            StationName(party, hotline)
            for party, hotline in sorted(stations or ())
            if hotline == owner.hotline and party != owner.party
        )
    for i, station in enumerate(accepted_by):
        if station.party == owner.party or station.hotline != owner.hotline:
            raise ConfigurationError(
                f"{where}.accepted_by[{i}]: {station} cannot accept {owner}'s zone; another "
                f"party's station on {hotline_name(owner.hotline)} can"
            )
    zone = zones_pb2.Zone()
    try:
        json_format.ParseDict(dict(read_table(table.get("zone"), f"{where}.zone")), zone)
    except json_format.ParseError as error:
        raise ConfigurationError(f"{where}.zone: {error}") from None
    if not zone.zone_id:
        raise ConfigurationError(f"{where}.zone.zone_id: required")
    start = read_offset(table.get("effective_from", 0), f"{where}.effective_from")
    end = read_offset(table.get("effective_until", duration), f"{where}.effective_until")
    if end <= start:
        raise ConfigurationError(f"{where}.effective_until: must come after effective_from")
    return PreloadedZone(zone, owner, accepted_by, start, end)


def simulated_unit(
    table: Mapping[str, Any], where: str, exercise: Exercise | None
) -> SimulatedUnit:
    check_known(
        table,
        ("id", "callsign", "party", "domain", "reported_by", "report_every", "speed_mps",
         "route", "platform_type"),
        where,
    )  # fmt: skip
    unit_id = read_id(table, where)
    party = read_text(table, "party", where)
    if exercise is not None and not exercise.has_party(party):
        raise ConfigurationError(f"{where}.party: the exercise has no party {party!r}")
    domain_text = str(table.get("domain", "GROUND")).upper().removeprefix("DOMAIN_")
    if domain_text not in _DOMAINS:
        raise ConfigurationError(f"{where}.domain: {domain_text!r}: use AIR, GROUND or SEA")
    domain = _DOMAINS[domain_text]
    stations = {(s.party, s.hotline) for s in exercise.stations} if exercise else None
    if "reported_by" in table:
        reporter = read_station(table["reported_by"], f"{where}.reported_by", stations)
    else:
        reporter = StationName(party, _DOMAIN_HOTLINE[domain])
        if stations is not None and (reporter.party, reporter.hotline) not in stations:
            raise ConfigurationError(
                f"{where}.reported_by: required: {party} has no station {reporter}"
            )
    every = read_offset(table.get("report_every", "12s"), f"{where}.report_every", required=True)
    if every <= 0:
        raise ConfigurationError(f"{where}.report_every: must be more than 0")
    speed = read_number(table.get("speed_mps", 0), f"{where}.speed_mps")
    route = read_route(table.get("route"), f"{where}.route", speed)
    return SimulatedUnit(
        unit_id=unit_id,
        callsign=str(table.get("callsign", unit_id)),
        party=party,
        domain=domain,
        reported_by=reporter,
        report_every=every,
        route=route,
        platform_type=str(table.get("platform_type", "")),
    )


def read_route(value: object, where: str, speed: float) -> tuple[Waypoint, ...]:
    points = read_tables(value, where)
    if not points:
        raise ConfigurationError(f"{where}: at least one waypoint")
    route: list[Waypoint] = []
    for i, point in enumerate(points):
        here = f"{where}[{i}]"
        check_known(point, ("at", "latitude", "longitude", "altitude_m"), here)
        lat = read_number(point.get("latitude"), f"{here}.latitude")
        lon = read_number(point.get("longitude"), f"{here}.longitude")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ConfigurationError(f"{here}: ({lat}, {lon}) is not a latitude and longitude")
        altitude = read_number(point.get("altitude_m", 0), f"{here}.altitude_m")
        if "at" in point:
            at = read_offset(point["at"], f"{here}.at")
        elif not route:
            at = 0.0
        elif speed > 0:
            last = route[-1]
            at = last.at + distance_m(last.latitude, last.longitude, lat, lon) / speed
        else:
            raise ConfigurationError(f"{here}.at: required, or give the unit's speed_mps")
        if route and at <= route[-1].at:
            raise ConfigurationError(f"{here}.at: must come after the waypoint before it")
        route.append(Waypoint(at, lat, lon, altitude))
    return tuple(route)
