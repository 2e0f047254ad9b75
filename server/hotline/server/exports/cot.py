"""Cursor-on-Target 2.0 events for TAK clients (ATAK, WinTAK, iTAK) and TAK Server.

The output is a stream: one complete XML document per line, each an ``<event>`` with
its own XML declaration, in log order, the way TAK clients send events over TCP (and
how ``takproto`` and pytak read them). Nothing wraps them, so the file can be sent to a
TAK Server's streaming input as it is, or read line by line.

Which events:

- **every reported position** is one event, so a TAK replay shows the whole track. The
  uid is ``hotline.<exercise>.<PARTY>.<unit id>``: each new position moves the same
  marker. ``time`` and ``start`` are the position's observation time, ``stale``
  :data:`UNIT_STALE_S` later. The type is ``a-<affiliation>-<dimension>``: dimension
  ``A`` air, ``G`` ground, ``S`` sea surface; affiliation ``f`` (friendly) for the
  units of the ``perspective`` party and, for every other party, ``n`` (neutral: the
  other side of a deconfliction hotline is not an enemy) or ``h`` (hostile) as
  ``others`` says. With no perspective every unit is typed as the others.
  ``<point hae>`` is the reported altitude above mean sea level (CoT asks for height
  above the ellipsoid; the geoid is within ±30 m of it in the exercise areas of
  interest, less than a report's usual accuracy). ``ce`` is the reported accuracy.
- **every zone announcement** (a ZoneStatus record) is one event with the uid
  ``hotline.<exercise>.zone.<zone id>``, so a new version or state replaces the
  drawing: a polygon or a corridor's outline as a closed ``u-d-f`` shape (one
  ``<link point="lat,lon"/>`` per vertex, the first repeated last), a circle as
  ``u-d-c-c`` with ``<shape><ellipse major minor>`` (the radius, in metres). It stays
  until its effective window ends. A rejected, withdrawn or expired zone is removed
  with a ``t-x-d-d`` delete event.
- **alerts** are not sent: they are findings about the picture, not objects on it (the
  GeoJSON and KML exports place them).

Every event also carries a ``<hotline>`` element in its detail with the log index and
the fields TAK has no place for.
"""

from __future__ import annotations

from typing import TextIO
from xml.sax.saxutils import escape

from hotline.server.exports._common import (
    ENDED_STATES,
    Colour,
    ExportOptions,
    Records,
    domain_name,
    iso,
    number,
    outline,
    party_colours,
    stamp_seconds,
    zone_kind_name,
    zone_state_name,
)
from hotline.server.review.picture import Fix, Picture, Track, ZoneVersion
from hotline.v1 import common_pb2

__all__ = ["UNIT_STALE_S", "ZONE_STALE_S", "unit_type", "write"]

#: How long a unit's marker stays live after its position (about 25 PPLI intervals).
UNIT_STALE_S = 300.0
#: How long a zone without an effective end stays live.
ZONE_STALE_S = 86_400.0
#: CoT's "unknown" for ``hae``, ``ce`` and ``le``.
UNKNOWN = 9_999_999.0

_DIMENSIONS: dict[int, str] = {
    common_pb2.DOMAIN_AIR: "A",
    common_pb2.DOMAIN_GROUND: "G",
    common_pb2.DOMAIN_SEA: "S",
}
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def unit_type(party: str, domain: int, options: ExportOptions) -> str:
    """``a-f-A`` for a friendly aircraft, ``a-n-G`` for a neutral ground unit, ..."""
    if options.perspective is not None and party == options.perspective:
        affiliation = "f"
    else:
        affiliation = "h" if options.others == "hostile" else "n"
    return f"a-{affiliation}-{_DIMENSIONS.get(domain, 'X')}"


def write(records: Records, out: TextIO, options: ExportOptions) -> None:
    """Writes one event per position and zone announcement to ``out``, in log order."""
    prefix = "hotline"
    colours: dict[str, Colour] = {}
    for index, record in records:
        if record.WhichOneof("payload") == "exercise":
            exercise = record.exercise
            prefix = f"hotline.{exercise.exercise_id}" if exercise.exercise_id else "hotline"
            colours = party_colours(p.party_id for p in exercise.parties)
            continue
        # The picture of this one record: the same reading of positions and zones as
        # every other export, without holding the log in memory.
        one = Picture()
        one.add(index, record)
        for track in one.tracks.values():
            for fix in track.fixes:
                out.write(_unit(prefix, track, fix, options))
        for history in one.zones.values():
            for announced in history.versions:
                owner = announced.zone.owner_party
                if owner not in colours:
                    colours = party_colours([*colours, owner])
                out.write(_zone(prefix, announced, colours[owner]))


def _attrs(**values: str) -> str:
    return " ".join(
        f'{name}="{escape(value, {chr(34): "&quot;"})}"' for name, value in values.items()
    )


def _event(
    uid: str, kind: str, *, how: str, at: float, stale: float, point: str, detail: str
) -> str:
    head = _attrs(
        version="2.0", uid=uid, type=kind, how=how, time=iso(at), start=iso(at), stale=iso(stale)
    )
    return f"{_DECLARATION}<event {head}>{point}<detail>{detail}</detail></event>\n"


def _point(lat: float, lon: float, hae: float = UNKNOWN, ce: float = UNKNOWN) -> str:
    return (
        f"<point {_attrs(lat=number(lat), lon=number(lon), hae=number(hae), ce=number(ce))}"
        f' le="{number(UNKNOWN)}"/>'
    )


def _unit(prefix: str, track: Track, fix: Fix, options: ExportOptions) -> str:
    domain = domain_name(track.domain)
    point = _point(fix.latitude, fix.longitude, fix.altitude_m, fix.accuracy_m or UNKNOWN)
    remarks = f"{track.party} {domain} {track.unit_id}"
    if track.platform_type:
        remarks += f" ({track.platform_type})"
    fields = _attrs(
        party=track.party,
        unit=track.unit_id,
        domain=domain,
        platform=track.platform_type,
        index=str(fix.index),
    )
    detail = (
        f"<contact {_attrs(callsign=track.callsign or track.unit_id)}/>"
        f"<track {_attrs(course=number(fix.course_deg), speed=number(fix.speed_mps))}/>"
        f"<remarks>{escape(remarks)}</remarks><hotline {fields}/>"
    )
    uid = f"{prefix}.{track.party}.{track.unit_id}"
    kind = unit_type(track.party, track.domain, options)
    return _event(
        uid, kind, how="m-g", at=fix.at, stale=fix.at + UNIT_STALE_S, point=point, detail=detail
    )


def _zone(prefix: str, announced: ZoneVersion, colour: Colour) -> str:
    zone, at = announced.zone, announced.at
    uid = f"{prefix}.zone.{zone.zone_id}"
    if zone.state in ENDED_STATES:
        link = f"<link {_attrs(uid=uid, relation='none', type='none')}/><__forcedelete/>"
        delete_uid = f"{uid}.delete.{announced.index}"
        return _event(
            delete_uid,
            "t-x-d-d",
            how="h-g-i-g-o",
            at=at,
            stale=at + 60.0,
            point=_point(0, 0),
            detail=link,
        )
    area = outline(zone.geometry)
    if area is None:
        return ""
    until = stamp_seconds(zone.effective_until)
    stale = until if until is not None and until > at else at + ZONE_STALE_S
    kind, state = zone_kind_name(zone.kind), zone_state_name(zone.state)
    remarks = (
        f"{zone.owner_party} {kind} {zone.zone_id} v{zone.version} {state}, "
        f"{zone.altitude.floor_m:.0f} to {zone.altitude.ceiling_m:.0f} m MSL"
    )
    style = (
        f'<strokeColor value="{colour.argb()}"/><strokeWeight value="3.0"/>'
        f'<fillColor value="{colour.argb(0x40)}"/><labels_on value="true"/>'
    )
    fields = _attrs(
        zone_id=zone.zone_id,
        version=str(zone.version),
        kind=kind,
        state=state,
        owner=zone.owner_party,
        floor_m=number(zone.altitude.floor_m),
        ceiling_m=number(zone.altitude.ceiling_m),
        effective_from=_optional_iso(stamp_seconds(zone.effective_from)),
        effective_until=_optional_iso(until),
        index=str(announced.index),
    )
    common = (
        f"<contact {_attrs(callsign=zone.name or zone.zone_id)}/>{style}"
        f"<remarks>{escape(remarks)}</remarks><hotline {fields}/>"
    )
    geometry = zone.geometry
    if geometry.HasField("circle"):
        centre, radius = geometry.circle.center, number(geometry.circle.radius_m)
        shape = f'<shape><ellipse major="{radius}" minor="{radius}" angle="360"/></shape>'
        point = _point(centre.latitude, centre.longitude)
        return _event(
            uid, "u-d-c-c", how="h-e", at=at, stale=stale, point=point, detail=shape + common
        )
    if geometry.HasField("polygon"):
        vertices = [(v.latitude, v.longitude) for v in geometry.polygon.vertices]
        if vertices[0] != vertices[-1]:
            vertices.append(vertices[0])
    else:
        vertices = [(lat, lon) for lon, lat in area.exterior]
    links = "".join(f'<link point="{number(lat)},{number(lon)}"/>' for lat, lon in vertices)
    point = _point(*area.centre)
    return _event(uid, "u-d-f", how="h-e", at=at, stale=stale, point=point, detail=links + common)


def _optional_iso(seconds: float | None) -> str:
    return "" if seconds is None else iso(seconds)
