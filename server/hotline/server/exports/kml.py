"""KML 2.2 with Google's ``gx`` extensions: zones, time-stamped tracks and alerts, for
Google Earth and other virtual globes.

One Document with three Folders:

- **Zones**: a Placemark per content version of each zone, styled by its owner's
  colour. The outline (the area the server evaluated) is drawn at the zone's ceiling,
  ``altitudeMode`` absolute (above mean sea level) and extruded, so the zone stands as
  a column from the ground to its ceiling; the floor, like every other field, is in the
  ExtendedData. The TimeSpan is the zone's effective window. When the file opens only
  the latest version of each zone still in force (not rejected, withdrawn or expired)
  is visible; the others are there to switch on.
- **Tracks**: a Placemark per unit with a ``gx:Track``: a ``<when>`` per fix in time
  order, then the ``<gx:coord>`` (``lon lat alt``) and ``<gx:angles>`` (course) in
  the same order. Altitudes are above mean sea level.
- **Alerts**: a Point Placemark with a TimeStamp for every alert that has a location.

The document is written Placemark by Placemark.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TextIO
from xml.sax.saxutils import escape, quoteattr

from hotline.server.exports._common import (
    ENDED_STATES,
    Colour,
    ContentVersion,
    ExportOptions,
    Recorded,
    Records,
    Ring,
    content_versions,
    domain_name,
    enum_name,
    gather,
    in_time_order,
    iso,
    number,
    outline,
    party_colours,
    stamp_iso,
    zone_kind_name,
    zone_state_name,
)
from hotline.server.review.picture import AlertEvent, Track
from hotline.v1 import acknowledgments_pb2

__all__ = ["GX_NAMESPACE", "KML_NAMESPACE", "write"]

KML_NAMESPACE = "http://www.opengis.net/kml/2.2"
GX_NAMESPACE = "http://www.google.com/kml/ext/2.2"


#: Alerts are drawn in amber whoever raised them.
_ALERT_COLOUR = Colour("Orange", 0xFF, 0x90, 0x00)


def write(records: Records, out: TextIO, options: ExportOptions) -> None:
    """Writes the KML document of the log to ``out``."""
    recorded = gather(records)
    colours = party_colours(recorded.parties())
    title = recorded.exercise.name if recorded.exercise else "hotline exercise"
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f'<kml xmlns="{KML_NAMESPACE}" xmlns:gx="{GX_NAMESPACE}">\n<Document>\n')
    out.write(f"<name>{escape(title)}</name>\n")
    for party, colour in colours.items():
        out.write(_styles(party, colour))
    out.write(
        f'<Style id="alert"><IconStyle><color>{_ALERT_COLOUR.kml()}</color></IconStyle></Style>\n'
    )
    out.write("<Folder><name>Zones</name>\n")
    for history in recorded.zones():
        for version in content_versions(history):
            out.write(_zone(version))
    out.write("</Folder>\n<Folder><name>Tracks</name>\n")
    for track in recorded.tracks():
        out.write(_track(track, recorded))
    out.write("</Folder>\n<Folder><name>Alerts</name>\n")
    for event in recorded.picture.alerts:
        if event.alert.HasField("location"):
            out.write(_alert(event))
    out.write("</Folder>\n</Document>\n</kml>\n")


def xml_id(prefix: str, name: str) -> str:
    """``zone-BLUE``: a valid XML id (an NCName) built from any name."""
    return f"{prefix}-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}"


def _styles(party: str, colour: Colour) -> str:
    return (
        f'<Style id="{xml_id("zone", party)}">'
        f"<LineStyle><color>{colour.kml()}</color><width>2</width></LineStyle>"
        f"<PolyStyle><color>{colour.kml(0x40)}</color></PolyStyle></Style>\n"
        f'<Style id="{xml_id("track", party)}">'
        f"<IconStyle><color>{colour.kml()}</color></IconStyle>"
        f"<LineStyle><color>{colour.kml()}</color><width>2</width></LineStyle></Style>\n"
    )


def _data(fields: Iterable[tuple[str, object]]) -> str:
    items = "".join(
        f"<Data name={quoteattr(name)}><value>{escape(str(value))}</value></Data>"
        for name, value in fields
    )
    return f"<ExtendedData>{items}</ExtendedData>"


def _coordinates(ring: Ring, altitude: float) -> str:
    alt = number(altitude)
    points = " ".join(f"{number(lon)},{number(lat)},{alt}" for lon, lat in ring)
    return f"<LinearRing><coordinates>{points}</coordinates></LinearRing>"


def _zone(version: ContentVersion) -> str:
    zone = version.zone
    kind, state = zone_kind_name(zone.kind), zone_state_name(zone.state)
    start, end = stamp_iso(zone.effective_from), stamp_iso(zone.effective_until)
    floor, ceiling = zone.altitude.floor_m, zone.altitude.ceiling_m
    announced = version.announcements
    description = (
        f"{zone.owner_party} {kind} {zone.zone_id} v{zone.version}, {state}, "
        f"{floor:.0f} to {ceiling:.0f} m MSL, effective {start or '-'} to {end or '-'}"
    )
    span = "".join(
        f"<{tag}>{value}</{tag}>" for tag, value in (("begin", start), ("end", end)) if value
    )
    data = _data(
        [
            ("zone_id", zone.zone_id),
            ("version", zone.version),
            ("kind", kind),
            ("state", state),
            ("owner", zone.owner_party),
            ("controlling_authority", zone.controlling_authority),
            ("floor_m", number(floor)),
            ("ceiling_m", number(ceiling)),
            ("effective_from", start or ""),
            ("effective_until", end or ""),
            ("states", " ".join(f"{zone_state_name(a.zone.state)}@{iso(a.at)}" for a in announced)),
        ]
    )
    head = (
        f'<Placemark id="{xml_id("zone", f"{zone.zone_id}-v{zone.version}")}">'
        f"<name>{escape(f'{zone.name or zone.zone_id} v{zone.version} ({state})')}</name>"
        f"<visibility>{int(version.current and zone.state not in ENDED_STATES)}</visibility>"
        f"<description>{escape(description)}</description>"
        f"{f'<TimeSpan>{span}</TimeSpan>' if span else ''}"
        f"<styleUrl>#{xml_id('zone', zone.owner_party)}</styleUrl>{data}"
    )
    area = outline(zone.geometry)
    if area is None:
        return f"{head}</Placemark>\n"
    holes = "".join(
        f"<innerBoundaryIs>{_coordinates(hole, ceiling)}</innerBoundaryIs>" for hole in area.holes
    )
    return (
        f"{head}<Polygon><extrude>1</extrude><altitudeMode>absolute</altitudeMode>"
        f"<outerBoundaryIs>{_coordinates(area.exterior, ceiling)}</outerBoundaryIs>{holes}"
        "</Polygon></Placemark>\n"
    )


def _track(track: Track, recorded: Recorded) -> str:
    fixes = in_time_order(track)
    name = track.callsign or track.unit_id
    data = _data(
        [
            ("party", track.party),
            ("party_name", recorded.party_name(track.party)),
            ("unit_id", track.unit_id),
            ("callsign", track.callsign),
            ("domain", domain_name(track.domain)),
            ("platform_type", track.platform_type),
        ]
    )
    whens = "".join(f"<when>{iso(f.at)}</when>" for f in fixes)
    coords = "".join(
        f"<gx:coord>{number(f.longitude)} {number(f.latitude)} {number(f.altitude_m)}</gx:coord>"
        for f in fixes
    )
    angles = "".join(f"<gx:angles>{number(f.course_deg)} 0 0</gx:angles>" for f in fixes)
    return (
        f'<Placemark id="{xml_id("track", track.key)}"><name>{escape(name)}</name>'
        f"<description>{escape(f'{track.party} {domain_name(track.domain)} {track.unit_id}')}"
        f"</description><styleUrl>#{xml_id('track', track.party)}</styleUrl>{data}"
        f"<gx:Track><altitudeMode>absolute</altitudeMode>{whens}{coords}{angles}</gx:Track>"
        "</Placemark>\n"
    )


def _alert(event: AlertEvent) -> str:
    alert = event.alert
    kind = enum_name(acknowledgments_pb2.AlertKind, alert.kind, "ALERT_KIND_")
    data = _data(
        [
            ("kind", kind),
            ("index", event.index),
            ("unit_ids", " ".join(alert.unit_ids)),
            ("zone_ids", " ".join(alert.zone_ids)),
            ("parties", " ".join(alert.parties)),
        ]
    )
    where = f"{number(alert.location.longitude)},{number(alert.location.latitude)}"
    return (
        f'<Placemark id="alert-{event.index}"><name>{escape(kind)}</name>'
        f"<description>{escape(alert.summary)}</description>"
        f"<TimeStamp><when>{iso(event.at)}</when></TimeStamp>"
        f"<styleUrl>#alert</styleUrl>{data}"
        f"<Point><coordinates>{where}</coordinates></Point></Placemark>\n"
    )
