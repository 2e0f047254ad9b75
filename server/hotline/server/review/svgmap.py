"""The report's map: zones, tracks and alerts as one inline SVG, with its legend.

No map tiles and no external resources: the report must open on a machine with no
network. The projection is a local equirectangular one centred on the picture
(longitude scaled by the cosine of the middle latitude), good enough to see who flew
where across the few hundred kilometres of an exercise area; zone edges are drawn
straight between vertices. Tracks crossing the antimeridian are not handled.

The size is bounded whatever the log: each track is thinned to an even selection of its
fixes (first and last kept) within a budget of points shared by all tracks, at most
``MAX_TRACKS`` tracks are drawn (those with the most fixes), and alert markers that fall
on the same spot are drawn once, up to ``MAX_MARKERS``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hotline.server.review.markup import number, text
from hotline.server.review.picture import AlertEvent, Fix, Picture, ZoneHistory
from hotline.v1 import acknowledgments_pb2, common_pb2, zones_pb2

__all__ = ["MAX_MARKERS", "MAX_POINTS", "MAX_TRACKS", "Projection", "party_colour", "render_map"]

A = acknowledgments_pb2
Z = zones_pb2
WIDTH = 960.0
MARGIN = 28.0
MAX_HEIGHT = 720.0
MAX_POINTS = 20_000
MAX_TRACKS = 400
MAX_MARKERS = 1_500
#: Metres per degree of latitude (mean), for sizes on the map.
METRES_PER_DEGREE = 111_320.0
#: Labels are drawn only up to this many tracks; beyond, they would hide the map.
LABELLED_TRACKS = 60

_NAMED = {
    "BLUE": "#1f5fbf",
    "RED": "#c62828",
    "GREEN": "#2e7d32",
    "YELLOW": "#b08900",
    "ORANGE": "#e65100",
    "PURPLE": "#6a1b9a",
    "WHITE": "#607d8b",
    "BLACK": "#212121",
}
_PALETTE = ("#00838f", "#8d6e63", "#ad1457", "#558b2f", "#5e35b1", "#ef6c00", "#37474f")
_IN_FORCE = frozenset({Z.ZONE_STATE_ACCEPTED, Z.ZONE_STATE_ACTIVE})
_ENDED = frozenset({Z.ZONE_STATE_REJECTED, Z.ZONE_STATE_WITHDRAWN, Z.ZONE_STATE_EXPIRED})
#: Alert kind -> (label, marker shape, colour).
_MARKERS: dict[int, tuple[str, str, str]] = {
    A.ALERT_KIND_ZONE_INCURSION: ("zone incursion", "triangle", "#d50000"),
    A.ALERT_KIND_ZONE_INCURSION_CLEARED: ("incursion cleared", "dot", "#9e9e9e"),
    A.ALERT_KIND_SEPARATION_BREACH: ("separation breach", "diamond", "#ff6d00"),
    A.ALERT_KIND_PREDICTED_CONFLICT: ("predicted conflict", "ring", "#ffab00"),
    A.ALERT_KIND_NOTICE_CONFLICT: ("notice conflict", "square", "#7b1fa2"),
    A.ALERT_KIND_NOTICE_MISMATCH: ("notice mismatch", "square", "#0277bd"),
    A.ALERT_KIND_ZONE_OVERLAP: ("zone overlap", "cross", "#4a148c"),
}
_OTHER_MARKER = ("other alert", "dot", "#424242")


def party_colour(party: str, parties: Sequence[str]) -> str:
    """A party's colour: its own when its id names one (``BLUE``, ``RED``), else one of
    a fixed palette by its place among ``parties``."""
    named = _NAMED.get(party.upper())
    if named is not None:
        return named
    unnamed = [p for p in parties if p.upper() not in _NAMED]
    position = unnamed.index(party) if party in unnamed else len(unnamed)
    return _PALETTE[position % len(_PALETTE)]


@dataclass(frozen=True, slots=True)
class Projection:
    """Local equirectangular projection of a latitude/longitude box onto the map."""

    north: float
    west: float
    cos_lat: float
    scale: float
    offset_x: float
    height: float

    @classmethod
    def fit(cls, south: float, west: float, north: float, east: float) -> Projection:
        """The projection that shows the box whole, ``WIDTH`` wide, at most
        ``MAX_HEIGHT`` high; a box that is a point or a line is widened to 2 km."""
        minimum = 2_000.0 / METRES_PER_DEGREE
        cos_lat = max(math.cos(math.radians((south + north) / 2)), 0.05)
        if north - south < minimum:
            middle = (south + north) / 2
            south, north = middle - minimum / 2, middle + minimum / 2
        if (east - west) * cos_lat < minimum:
            middle = (west + east) / 2
            half = minimum / cos_lat / 2
            west, east = middle - half, middle + half
        span_x = (east - west) * cos_lat
        span_y = north - south
        scale = min((WIDTH - 2 * MARGIN) / span_x, (MAX_HEIGHT - 2 * MARGIN) / span_y)
        offset_x = (WIDTH - span_x * scale) / 2
        return cls(north, west, cos_lat, scale, offset_x, span_y * scale + 2 * MARGIN)

    def xy(self, latitude: float, longitude: float) -> tuple[float, float]:
        return (
            self.offset_x + (longitude - self.west) * self.cos_lat * self.scale,
            MARGIN + (self.north - latitude) * self.scale,
        )

    def pixels(self, metres: float) -> float:
        return metres / METRES_PER_DEGREE * self.scale


def _points(projection: Projection, coordinates: Sequence[tuple[float, float]]) -> str:
    return " ".join(
        f"{x:.1f},{y:.1f}" for x, y in (projection.xy(lat, lon) for lat, lon in coordinates)
    )


def thin(fixes: Sequence[Fix], budget: int) -> list[Fix]:
    """At most ``budget`` (at least 2) fixes evenly spread over ``fixes``, the first and
    the last included."""
    count = len(fixes)
    budget = max(budget, 2)
    if count <= budget:
        return list(fixes)
    step = (count - 1) / (budget - 1)
    return [fixes[round(n * step)] for n in range(budget)]


def _extent(picture: Picture) -> tuple[float, float, float, float] | None:
    """South, west, north, east of everything drawn: fixes, zones with their radius or
    half-width, and alert locations."""
    bounds = picture.bounds()
    south, west, north, east = bounds if bounds else (90.0, 180.0, -90.0, -180.0)
    found = bounds is not None

    def include(lat: float, lon: float, metres: float = 0.0) -> None:
        nonlocal south, west, north, east, found
        found = True
        dlat = metres / METRES_PER_DEGREE
        dlon = dlat / max(math.cos(math.radians(lat)), 0.05)
        south, north = min(south, lat - dlat), max(north, lat + dlat)
        west, east = min(west, lon - dlon), max(east, lon + dlon)

    for history in picture.zones.values():
        geometry = history.latest.geometry
        if geometry.HasField("circle"):
            centre = geometry.circle.center
            include(centre.latitude, centre.longitude, geometry.circle.radius_m)
        elif geometry.HasField("corridor"):
            for point in geometry.corridor.path:
                include(point.latitude, point.longitude, geometry.corridor.half_width_m)
    for event in picture.alerts:
        if event.alert.HasField("location"):
            include(event.alert.location.latitude, event.alert.location.longitude)
    return (south, west, north, east) if found else None


def _zone(projection: Projection, history: ZoneHistory, parties: Sequence[str]) -> str:
    zone = history.latest
    state = zone.state
    colour = party_colour(zone.owner_party, parties)
    if state in _ENDED:
        style = 'fill="#9e9e9e" fill-opacity="0.08" stroke="#9e9e9e" stroke-dasharray="2 3"'
    elif state in _IN_FORCE:
        style = f'fill="{colour}" fill-opacity="0.16" stroke="{colour}" stroke-width="1.6"'
    else:
        style = f'fill="{colour}" fill-opacity="0.05" stroke="{colour}" stroke-dasharray="6 4"'
    state_name = Z.ZoneState.Name(state).removeprefix("ZONE_STATE_")
    kind = Z.ZoneKind.Name(zone.kind).removeprefix("ZONE_KIND_").replace("_", " ")
    title = (
        f"<title>{text(zone.name or zone.zone_id)} ({text(zone.zone_id)} v{zone.version}): "
        f"{text(kind)} of {text(zone.owner_party)}, {text(state_name)}</title>"
    )
    geometry = zone.geometry
    shape = geometry.WhichOneof("shape")
    label_at: tuple[float, float] | None = None
    if shape == "polygon":
        vertices = [(v.latitude, v.longitude) for v in geometry.polygon.vertices]
        drawn = f'<polygon points="{_points(projection, vertices)}" {style}>{title}</polygon>'
        if vertices:
            label_at = projection.xy(max(v[0] for v in vertices), min(v[1] for v in vertices))
    elif shape == "circle":
        cx, cy = projection.xy(geometry.circle.center.latitude, geometry.circle.center.longitude)
        radius = projection.pixels(geometry.circle.radius_m)
        drawn = f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{radius:.1f}" {style}>{title}</circle>'
        label_at = (cx - radius, cy - radius)
    elif shape == "corridor":
        path = [(p.latitude, p.longitude) for p in geometry.corridor.path]
        width = max(2 * projection.pixels(geometry.corridor.half_width_m), 2.0)
        drawn = (
            f'<g class="corridor"><polyline points="{_points(projection, path)}" fill="none" '
            f'stroke="{"#9e9e9e" if state in _ENDED else colour}" stroke-opacity="0.22" '
            f'stroke-width="{width:.1f}" stroke-linecap="round" stroke-linejoin="round">'
            f'{title}</polyline><polyline points="{_points(projection, path)}" fill="none" '
            f'stroke="{"#9e9e9e" if state in _ENDED else colour}" stroke-width="1" '
            f'stroke-dasharray="8 4"/></g>'
        )
        if path:
            label_at = projection.xy(*path[0])
    else:
        return ""
    label = ""
    if label_at is not None:
        x, y = label_at
        label = (
            f'<text x="{x + 3:.1f}" y="{y + 12:.1f}" class="zone-label">'
            f"{text(zone.name or zone.zone_id)}</text>"
        )
    return drawn + label


def _marker(
    shape: str, x: float, y: float, colour: str, *, size: float = 6.0, title: str = ""
) -> str:
    """One alert marker; ``title`` (plain text) becomes its tooltip."""
    inner = f"<title>{text(title)}</title>" if title else ""
    outline = 'stroke="#fff" stroke-width="1"'
    if shape in ("triangle", "diamond"):
        if shape == "triangle":
            corners = [(x, y - size), (x + size, y + size * 0.8), (x - size, y + size * 0.8)]
        else:
            corners = [(x, y - size), (x + size, y), (x, y + size), (x - size, y)]
        points = " ".join(f"{px:.1f},{py:.1f}" for px, py in corners)
        return f'<polygon points="{points}" fill="{colour}" {outline}>{inner}</polygon>'
    if shape == "square":
        side = size * 1.6
        return (
            f'<rect x="{x - side / 2:.1f}" y="{y - side / 2:.1f}" width="{side:.1f}" '
            f'height="{side:.1f}" fill="{colour}" {outline}>{inner}</rect>'
        )
    if shape == "ring":
        return (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size * 0.9:.1f}" fill="none" '
            f'stroke="{colour}" stroke-width="2.2">{inner}</circle>'
        )
    if shape == "cross":
        return (
            f'<path d="M{x - size:.1f},{y - size:.1f}L{x + size:.1f},{y + size:.1f}'
            f'M{x - size:.1f},{y + size:.1f}L{x + size:.1f},{y - size:.1f}" '
            f'stroke="{colour}" stroke-width="2.2">{inner}</path>'
        )
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size * 0.6:.1f}" fill="{colour}">{inner}</circle>'
    )


def _markers(projection: Projection, alerts: Sequence[AlertEvent]) -> tuple[str, set[int], int]:
    """The markers of located alerts, the kinds drawn, and how many were merged away."""
    seen: set[tuple[int, int, int]] = set()
    drawn: list[str] = []
    kinds: set[int] = set()
    merged = 0
    for event in alerts:
        alert = event.alert
        if not alert.HasField("location"):
            continue
        x, y = projection.xy(alert.location.latitude, alert.location.longitude)
        spot = (alert.kind, round(x / 4), round(y / 4))
        if spot in seen or len(drawn) >= MAX_MARKERS:
            merged += 1
            continue
        seen.add(spot)
        kinds.add(alert.kind)
        label, shape, colour = _MARKERS.get(alert.kind, _OTHER_MARKER)
        title = f"#{event.index} {label}: {alert.summary}"
        drawn.append(_marker(shape, x, y, colour, title=title))
    return "".join(drawn), kinds, merged


def _tracks(projection: Projection, picture: Picture, parties: Sequence[str]) -> tuple[str, int]:
    """The track polylines, and how many tracks were left out."""
    tracks = sorted(picture.tracks.values(), key=lambda t: (-len(t.fixes), t.key))
    drawn_tracks = tracks[:MAX_TRACKS]
    budget = MAX_POINTS // max(len(drawn_tracks), 1)
    labelled = len(drawn_tracks) <= LABELLED_TRACKS
    out: list[str] = []
    for track in sorted(drawn_tracks, key=lambda t: t.key):
        fixes = thin(track.fixes, budget)
        if not fixes:
            continue
        colour = party_colour(track.party, parties)
        dash = ' stroke-dasharray="5 3"' if track.domain == common_pb2.DOMAIN_GROUND else ""
        title = (
            f"<title>{text(track.key)} {text(track.callsign)} ({len(track.fixes)} fixes)</title>"
        )
        points = _points(projection, [(f.latitude, f.longitude) for f in fixes])
        sx, sy = projection.xy(fixes[0].latitude, fixes[0].longitude)
        ex, ey = projection.xy(fixes[-1].latitude, fixes[-1].longitude)
        out.append(
            f'<g class="track"><polyline points="{points}" fill="none" stroke="{colour}" '
            f'stroke-width="1.8" stroke-linejoin="round"{dash}>{title}</polyline>'
            f'<circle cx="{sx:.1f}" cy="{sy:.1f}" r="2.5" fill="#fff" stroke="{colour}"/>'
            f'<circle cx="{ex:.1f}" cy="{ey:.1f}" r="3" fill="{colour}"/>'
        )
        if labelled:
            out.append(
                f'<text x="{ex + 5:.1f}" y="{ey - 4:.1f}" class="track-label" fill="{colour}">'
                f"{text(track.callsign or track.unit_id)}</text>"
            )
        out.append("</g>")
    return "".join(out), len(tracks) - len(drawn_tracks)


def _scale_bar(projection: Projection) -> str:
    """A bar of a round length near a fifth of the map's width."""
    target_m = (WIDTH / 5) / projection.scale * METRES_PER_DEGREE
    lengths = [n * 10**e for e in range(7) for n in (1, 2, 5)]
    metres = max((m for m in lengths if m <= target_m), default=1)
    pixels = projection.pixels(metres)
    label = f"{metres / 1000:g} km" if metres >= 1000 else f"{metres} m"
    y = projection.height - 10
    return (
        f'<g class="scale"><line x1="12" y1="{y:.1f}" x2="{12 + pixels:.1f}" y2="{y:.1f}" '
        f'stroke="#333" stroke-width="2"/><text x="12" y="{y - 4:.1f}">{label}</text></g>'
    )


_LINE = '<line x1="1" y1="7" x2="21" y2="7" stroke="{colour}" stroke-width="2.5"{dash}/>'
_BOX = (
    '<rect x="1" y="2" width="20" height="10" fill="{fill}" fill-opacity="0.2" '
    'stroke="{stroke}"{dash}/>'
)
_ZONE_SWATCHES = (
    (
        _BOX.format(fill="#555", stroke="#555", dash=' stroke-width="1.6"'),
        "zone accepted or active",
    ),
    (_BOX.format(fill="none", stroke="#555", dash=' stroke-dasharray="6 4"'), "zone proposed"),
    (
        _BOX.format(fill="none", stroke="#9e9e9e", dash=' stroke-dasharray="2 3"'),
        "zone rejected, withdrawn or expired",
    ),
    (_LINE.format(colour="#555", dash=' stroke-dasharray="5 3"'), "ground unit (dashed track)"),
)


def _legend(parties: Sequence[str], kinds: set[int]) -> str:
    def item(swatch: str, label: str) -> str:
        return (
            '<li><svg width="22" height="14" viewBox="0 0 22 14" aria-hidden="true">'
            f"{swatch}</svg>{text(label)}</li>"
        )

    items = [
        item(_LINE.format(colour=party_colour(p, parties), dash=""), f"{p} tracks and zones")
        for p in parties
    ]
    items += [item(swatch, label) for swatch, label in _ZONE_SWATCHES]
    for kind in sorted(kinds):
        label, shape, colour = _MARKERS.get(kind, _OTHER_MARKER)
        items.append(item(_marker(shape, 11, 7, colour, size=5), label))
    return f'<ul class="legend">{"".join(items)}</ul>'


def render_map(picture: Picture) -> str:
    """The map figure (inline SVG and legend) of a picture, or a note that the exercise
    recorded no geography."""
    extent = _extent(picture)
    if extent is None:
        return '<p class="empty">No positions, zones or located alerts were recorded.</p>'
    projection = Projection.fit(*extent)
    parties = sorted(
        {t.party for t in picture.tracks.values()}
        | {h.latest.owner_party for h in picture.zones.values() if h.latest.owner_party}
    )
    zones = "".join(
        _zone(projection, history, parties) for _, history in sorted(picture.zones.items())
    )
    tracks, untracked = _tracks(projection, picture, parties)
    markers, kinds, merged = _markers(projection, picture.alerts)
    svg = (
        f'<svg class="map" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="Map of zones, tracks and alerts" width="{WIDTH:.0f}" '
        f'height="{projection.height:.0f}" viewBox="0 0 {WIDTH:.0f} {projection.height:.0f}">'
        f'<rect width="100%" height="100%" fill="#f7f5ef"/>'
        f'<g class="zones">{zones}</g><g class="tracks">{tracks}</g>'
        f'<g class="alerts">{markers}</g>{_scale_bar(projection)}</svg>'
    )
    south, west, north, east = extent
    notes = [
        f"Area {south:.3f}\u00b0 to {north:.3f}\u00b0 N, {west:.3f}\u00b0 to {east:.3f}\u00b0 E; "
        f"{number(len(picture.tracks))} tracks, {number(len(picture.zones))} zones "
        "(each in its latest state)."
    ]
    if untracked:
        notes.append(f"{number(untracked)} tracks with the fewest fixes are not drawn.")
    if merged:
        notes.append(f"{number(merged)} alerts at the same spot as another are drawn once.")
    return (
        f'<figure class="map-figure">{svg}<figcaption>{_legend(parties, kinds)}'
        f'<p class="note">{text(" ".join(notes))} Tracks are thinned to at most '
        f"{number(MAX_POINTS)} points in all.</p></figcaption></figure>"
    )
