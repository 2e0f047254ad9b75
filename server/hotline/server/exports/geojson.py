"""GeoJSON (RFC 7946): one FeatureCollection with the zones, the tracks and the alerts.

Every feature has a ``category`` property (``zone``, ``track`` or ``alert``) to style or
filter on, and an ``id``:

- **zones** (``zone/<zone id>/v<version>``): one Polygon feature per content version of
  each zone, the outline of the area the server evaluated (see
  :class:`~hotline.server.exports._common.Outline`), with id, name, kind, owner,
  controlling authority, state (the last the version reached), version, ``current``
  (the zone's latest version), ``floor_m``/``ceiling_m``, ``effective_from``/
  ``effective_until``, the restricted domains in force (the zone's own, else its kind's
  defaults) and every announced state with its time and log index. A circle
  also carries its centre and radius, a corridor its centre line and half-width.
- **tracks** (``track/<PARTY>/<unit id>``): a LineString of ``[lon, lat, alt]`` per unit
  in time order, with ``times`` (ISO 8601, one per vertex), ``courses_deg``,
  ``speeds_mps`` and ``indexes`` (the log records) in step with the coordinates. A unit
  reported once is a Point with the same properties.
- **alerts** (``alert/<log index>``): a Point for every alert that has a location; an
  incursion's carries ``incursion`` (depth at entry, deepest depth and when, seconds
  inside).

Zones come first (by id), then tracks (by party and unit), then alerts (in log order).
The collection is written feature by feature, one per line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from hotline.server.deconfliction.zone_index import restricted_domains
from hotline.server.exports._common import (
    ContentVersion,
    ExportOptions,
    Recorded,
    Records,
    content_versions,
    domain_name,
    enum_name,
    gather,
    in_time_order,
    iso,
    outline,
    stamp_iso,
    zone_kind_name,
    zone_state_name,
)
from hotline.server.review.picture import AlertEvent, Track
from hotline.v1 import acknowledgments_pb2, common_pb2

__all__ = ["write"]

Feature = dict[str, Any]


def write(records: Records, out: TextIO, options: ExportOptions) -> None:
    """Writes the FeatureCollection of the log to ``out``."""
    recorded = gather(records)
    out.write('{"type":"FeatureCollection","features":[')
    separator = "\n"
    for feature in features(recorded):
        out.write(separator)
        out.write(json.dumps(feature, ensure_ascii=False, separators=(",", ":"), allow_nan=False))
        separator = ",\n"
    out.write("\n]}\n")


def features(recorded: Recorded) -> Iterator[Feature]:
    for history in recorded.zones():
        for version in content_versions(history):
            yield _zone(version)
    for track in recorded.tracks():
        yield _track(track)
    for event in recorded.picture.alerts:
        if event.alert.HasField("location"):
            yield _alert(event)


def _zone(version: ContentVersion) -> Feature:
    zone = version.zone
    area = outline(zone.geometry)
    geometry = None
    if area is not None:
        rings = [area.exterior, *area.holes]
        geometry = {"type": "Polygon", "coordinates": [[list(p) for p in r] for r in rings]}
    properties: dict[str, Any] = {
        "category": "zone",
        "zone_id": zone.zone_id,
        "name": zone.name,
        "kind": zone_kind_name(zone.kind),
        "owner": zone.owner_party,
        "controlling_authority": zone.controlling_authority,
        "proposed_by": zone.proposed_by,
        "state": zone_state_name(zone.state),
        "version": zone.version,
        "current": version.current,
        "floor_m": zone.altitude.floor_m,
        "ceiling_m": zone.altitude.ceiling_m,
        "effective_from": stamp_iso(zone.effective_from),
        "effective_until": stamp_iso(zone.effective_until),
        # The domains in force: the zone's own, else its kind's defaults.
        "restricted_domains": [domain_name(d) for d in sorted(restricted_domains(zone))],
        "shape": zone.geometry.WhichOneof("shape"),
        "states": [
            {"state": zone_state_name(a.zone.state), "time": iso(a.at), "index": a.index}
            for a in version.announcements
        ],
    }
    shape = zone.geometry
    if shape.HasField("circle"):
        properties["center"] = [shape.circle.center.longitude, shape.circle.center.latitude]
        properties["radius_m"] = shape.circle.radius_m
    elif shape.HasField("corridor"):
        properties["path"] = [[p.longitude, p.latitude] for p in shape.corridor.path]
        properties["half_width_m"] = shape.corridor.half_width_m
    return {
        "type": "Feature",
        "id": f"zone/{zone.zone_id}/v{zone.version}",
        "geometry": geometry,
        "properties": properties,
    }


def _track(track: Track) -> Feature:
    fixes = in_time_order(track)
    coordinates = [[f.longitude, f.latitude, f.altitude_m] for f in fixes]
    geometry: dict[str, Any] = (
        {"type": "LineString", "coordinates": coordinates}
        if len(coordinates) > 1
        else {"type": "Point", "coordinates": coordinates[0]}
    )
    return {
        "type": "Feature",
        "id": f"track/{track.key}",
        "geometry": geometry,
        "properties": {
            "category": "track",
            "party": track.party,
            "unit_id": track.unit_id,
            "callsign": track.callsign,
            "domain": domain_name(track.domain),
            "platform_type": track.platform_type,
            "start": iso(fixes[0].at),
            "end": iso(fixes[-1].at),
            "times": [iso(f.at) for f in fixes],
            "courses_deg": [f.course_deg for f in fixes],
            "speeds_mps": [f.speed_mps for f in fixes],
            "indexes": [f.index for f in fixes],
        },
    }


def _alert(event: AlertEvent) -> Feature:
    alert = event.alert
    return {
        "type": "Feature",
        "id": f"alert/{event.index}",
        "geometry": {
            "type": "Point",
            "coordinates": [alert.location.longitude, alert.location.latitude],
        },
        "properties": {
            "category": "alert",
            "alert_id": alert.alert_id,
            "kind": enum_name(acknowledgments_pb2.AlertKind, alert.kind, "ALERT_KIND_"),
            "summary": alert.summary,
            "time": iso(event.at),
            "index": event.index,
            "hotline": enum_name(common_pb2.Hotline, event.hotline, "HOTLINE_"),
            "unit_ids": list(alert.unit_ids),
            "zone_ids": list(alert.zone_ids),
            "parties": list(alert.parties),
            "distance_m": alert.distance_m,
            "time_to_cpa_s": alert.time_to_cpa_s,
            **_incursion(alert),
        },
    }


def _incursion(alert: acknowledgments_pb2.Alert) -> dict[str, Any]:
    """An incursion's depth and time inside, for the alerts that carry them."""
    if not alert.HasField("incursion"):
        return {}
    record = alert.incursion
    return {
        "incursion": {
            "entry_depth_m": record.entry_depth_m,
            "max_depth_m": record.max_depth_m,
            "max_depth_at": stamp_iso(record.max_depth_at),
            "duration_s": record.duration.ToNanoseconds() / 1e9,
        }
    }
