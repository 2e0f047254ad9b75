"""The zones the engine knows: accepted ones indexed for point queries, and proposals.

Which domains a measure restricts, when ``Zone.restricted_domains`` is empty:

====================================  ===============================================
kind                                  restricts
====================================  ===============================================
ROZ, KILL_BOX                         AIR
AREA_OF_OPERATIONS, SPECIAL_CAUTION   AIR and GROUND
DECONFLICTION_LINE                    GROUND: being inside its corridor, or crossing
                                      its centre line between two reports
NO_FIRE_AREA, RESTRICTED_FIRE_AREA    no movement; they restrict *fires*, so they
                                      matter to STRIKE activity notices
====================================  ===============================================

The altitude band of a zone applies to aircraft only: ground and sea units are on the
surface whatever their height above sea level. A deconfliction line binds every party,
the owner included, since both sides agreed where it runs; other measures bind the
parties other than the owner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon

from hotline.contract import seconds
from hotline.server.deconfliction.geodesy import metres_per_degree
from hotline.server.deconfliction.geometry import Shape
from hotline.v1 import common_pb2, zones_pb2

AIR = common_pb2.DOMAIN_AIR
GROUND = common_pb2.DOMAIN_GROUND
SEA = common_pb2.DOMAIN_SEA

_DEFAULT_DOMAINS: dict[zones_pb2.ZoneKind.ValueType, frozenset[common_pb2.Domain.ValueType]] = {
    zones_pb2.ZONE_KIND_RESTRICTED_OPERATIONS_ZONE: frozenset({AIR}),
    zones_pb2.ZONE_KIND_KILL_BOX: frozenset({AIR}),
    zones_pb2.ZONE_KIND_AREA_OF_OPERATIONS: frozenset({AIR, GROUND}),
    zones_pb2.ZONE_KIND_SPECIAL_CAUTION_AREA: frozenset({AIR, GROUND}),
    zones_pb2.ZONE_KIND_DECONFLICTION_LINE: frozenset({GROUND}),
    zones_pb2.ZONE_KIND_NO_FIRE_AREA: frozenset(),
    zones_pb2.ZONE_KIND_RESTRICTED_FIRE_AREA: frozenset(),
}

#: Kinds that restrict fires whatever their restricted domains.
FIRE_RESTRICTING_KINDS = frozenset(
    {zones_pb2.ZONE_KIND_NO_FIRE_AREA, zones_pb2.ZONE_KIND_RESTRICTED_FIRE_AREA}
)


def restricted_domains(zone: zones_pb2.Zone) -> frozenset[common_pb2.Domain.ValueType]:
    """The domains whose units may not enter ``zone``: explicit, or the kind's defaults."""
    if zone.restricted_domains:
        return frozenset(zone.restricted_domains)
    return _DEFAULT_DOMAINS.get(zone.kind, frozenset())


@dataclass(slots=True, eq=False)
class KnownZone:
    """One version of a zone as the engine holds it."""

    zone: zones_pb2.Zone
    shape: Shape
    domains: frozenset[common_pb2.Domain.ValueType]
    floor_m: float
    ceiling_m: float
    from_s: float
    until_s: float
    zone_id: str = ""
    owner: str = ""

    @classmethod
    def build(cls, zone: zones_pb2.Zone, shape: Shape) -> KnownZone:
        """Wraps a validated zone: a missing band means all altitudes, a missing
        ``effective_from`` means since ever, a missing ``effective_until`` until withdrawn."""
        has_band = zone.HasField("altitude")
        return cls(
            zone=zone,
            shape=shape,
            domains=restricted_domains(zone),
            floor_m=zone.altitude.floor_m if has_band else -math.inf,
            ceiling_m=zone.altitude.ceiling_m if has_band else math.inf,
            from_s=seconds(zone.effective_from) if zone.HasField("effective_from") else -math.inf,
            until_s=seconds(zone.effective_until) if zone.HasField("effective_until") else math.inf,
        )

    def __post_init__(self) -> None:
        # Plain attributes: the hot path reads them on every candidate.
        self.zone_id = self.zone.zone_id
        self.owner = self.zone.owner_party

    @property
    def is_line(self) -> bool:
        return self.zone.kind == zones_pb2.ZONE_KIND_DECONFLICTION_LINE

    def effective_at(self, now: float) -> bool:
        return self.from_s <= now < self.until_s

    def bands_overlap(self, floor_m: float, ceiling_m: float) -> bool:
        return self.floor_m < ceiling_m and floor_m < self.ceiling_m

    def windows_overlap(self, from_s: float, until_s: float) -> bool:
        return self.from_s < until_s and from_s < self.until_s

    def label(self) -> str:
        name = self.zone.name or self.zone_id
        return f"{self.owner} {_KIND_NAMES.get(self.zone.kind, 'zone')} {name}"


_KIND_NAMES = {
    zones_pb2.ZONE_KIND_RESTRICTED_OPERATIONS_ZONE: "ROZ",
    zones_pb2.ZONE_KIND_NO_FIRE_AREA: "NFA",
    zones_pb2.ZONE_KIND_RESTRICTED_FIRE_AREA: "RFA",
    zones_pb2.ZONE_KIND_KILL_BOX: "kill box",
    zones_pb2.ZONE_KIND_SPECIAL_CAUTION_AREA: "special caution area",
    zones_pb2.ZONE_KIND_AREA_OF_OPERATIONS: "AO",
    zones_pb2.ZONE_KIND_DECONFLICTION_LINE: "deconfliction line",
}


@dataclass(slots=True, eq=False)
class ZoneEntry:
    """One copy of one zone's outline in a grid, with its bounds for a quick reject and
    two discs around a point inside it that settle most point tests without the outline.

    In the plane ``x = (lon - cx) * kx``, ``y = (lat - cy) * ky`` (metres near the
    centre), a point whose squared distance from the centre is below ``inner2`` is
    inside the outline, and one beyond ``outer2`` is outside it: only the points in
    between, close to the boundary of a circle, need the exact test.
    """

    known: KnownZone
    polygon: Polygon
    minx: float
    miny: float
    maxx: float
    maxy: float
    cx: float = 0.0
    cy: float = 0.0
    kx: float = 1.0
    ky: float = 1.0
    inner2: float = -1.0
    outer2: float = math.inf

    @classmethod
    def build(cls, known: KnownZone, polygon: Polygon) -> ZoneEntry:
        minx, miny, maxx, maxy = polygon.bounds
        entry = cls(known, polygon, minx, miny, maxx, maxy)
        cy, cx = known.shape.centre
        # The centre is given in [-180, 180]; bring it next to this copy of the outline.
        cx += 360.0 * round(((minx + maxx) / 2.0 - cx) / 360.0)
        ky, kx = metres_per_degree(cy)
        entry.cx, entry.cy, entry.kx, entry.ky = cx, cy, kx, ky
        local = shapely.transform(polygon, lambda xy: (xy - (cx, cy)) * (kx, ky))
        exterior = np.asarray(local.exterior.coords)
        outer = float(np.max(np.hypot(exterior[:, 0], exterior[:, 1])))
        # Margins of a millionth and a centimetre, far above the rounding of the test.
        entry.outer2 = (outer * (1.0 + 1e-6) + 0.01) ** 2
        if shapely.contains_xy(polygon, cx, cy):
            # A disc centred inside that meets no edge lies inside the outline.
            inner = float(shapely.distance(shapely.Point(0.0, 0.0), local.boundary))
            inner = inner * (1.0 - 1e-6) - 0.01
            if inner > 0.0:
                entry.inner2 = inner * inner
        return entry


class _Grid:
    """Cells of ``size`` degrees, each listing the entries whose bounds touch it."""

    def __init__(self, size: float) -> None:
        self.size = size
        self.inverse = 1.0 / size
        self.cells: dict[tuple[int, int], list[ZoneEntry]] = {}

    def span(self, minx: float, miny: float, maxx: float, maxy: float) -> tuple[range, range]:
        minx, maxx = max(minx, -180.0), min(maxx, 180.0)
        miny, maxy = max(miny, -90.0), min(maxy, 90.0)
        inv = self.inverse
        rows = range(int((miny + 90.0) * inv), int((maxy + 90.0) * inv) + 1)
        cols = range(int((minx + 540.0) * inv), int((maxx + 540.0) * inv) + 1)
        return rows, cols

    def add(self, entry: ZoneEntry) -> None:
        rows, cols = self.span(entry.minx, entry.miny, entry.maxx, entry.maxy)
        for r in rows:
            for c in cols:
                self.cells.setdefault((r, c), []).append(entry)

    def remove(self, entry: ZoneEntry) -> None:
        rows, cols = self.span(entry.minx, entry.miny, entry.maxx, entry.maxy)
        for r in rows:
            for c in cols:
                bucket = self.cells.get((r, c))
                if bucket is not None:
                    bucket.remove(entry)
                    if not bucket:
                        del self.cells[(r, c)]

    def at(self, lat: float, lon: float) -> list[ZoneEntry]:
        inv = self.inverse
        return self.cells.get((int((lat + 90.0) * inv), int((lon + 540.0) * inv)), _EMPTY)


_EMPTY: list[ZoneEntry] = []
_FINE = 0.05  # degrees; ZoneIndex.restricting computes its cells inline with 1 / _FINE


#: The owner under which measures binding every party (deconfliction lines) are held.
_EVERY_PARTY = ""


class _Grids:
    """A fine grid (0.05°, about 5 km) so that a cell lists only a few small zones, and
    a coarse one (1°) for zones spanning more than 2°, so that registering them stays
    cheap."""

    def __init__(self) -> None:
        self.fine = _Grid(_FINE)
        self.coarse = _Grid(1.0)

    def add(self, entry: ZoneEntry) -> _Grid:
        span = max(entry.maxx - entry.minx, entry.maxy - entry.miny)
        grid = self.fine if span <= 2.0 else self.coarse
        grid.add(entry)
        return grid


class ZoneIndex:
    """Zones by id, with grids for "which zones hold this point" and "which zones may
    overlap this area".

    Point queries come from every position report, so their grids are split by the
    domain a zone restricts and by its owner: a report only ever looks at the zones of
    other parties that restrict its own domain. Zones restricting no movement (fire
    areas) are only in the area grids.
    """

    def __init__(self) -> None:
        self.zones: dict[str, KnownZone] = {}
        self.lines: dict[str, KnownZone] = {}
        self._area = _Grids()
        self._points: dict[int, dict[str, _Grids]] = {}
        self._placed: dict[str, list[tuple[_Grid, ZoneEntry]]] = {}
        #: Bumped on every change, so that callers may cache what a query returned.
        self.generation = 0

    def put(self, known: KnownZone) -> KnownZone | None:
        """Adds or replaces the zone with this id; returns the version replaced."""
        previous = self.remove(known.zone_id)
        self.generation += 1
        self.zones[known.zone_id] = known
        if known.is_line:
            self.lines[known.zone_id] = known
        owner = _EVERY_PARTY if known.is_line else known.owner
        placed: list[tuple[_Grid, ZoneEntry]] = []
        for polygon in known.shape.copies:
            minx, _, maxx, _ = polygon.bounds
            if maxx < -180.0 or minx > 180.0:
                continue
            entry = ZoneEntry.build(known, polygon)
            placed.append((self._area.add(entry), entry))
            for domain in known.domains:
                grids = self._points.setdefault(domain, {}).setdefault(owner, _Grids())
                placed.append((grids.add(entry), entry))
        self._placed[known.zone_id] = placed
        return previous

    def remove(self, zone_id: str) -> KnownZone | None:
        """Removes the zone with this id; returns it, or None if it was not held."""
        known = self.zones.pop(zone_id, None)
        self.generation += 1
        self.lines.pop(zone_id, None)
        for grid, entry in self._placed.pop(zone_id, ()):
            grid.remove(entry)
        return known

    def restricting(self, lat: float, lon: float, domain: int, party: str) -> list[ZoneEntry]:
        """Entries of zones that restrict ``domain`` for ``party`` and whose grid cell
        holds the point: a superset of the zones that matter to a unit there."""
        found: list[ZoneEntry] = []
        # Inline cell arithmetic (fine cells of _FINE = 1/20 degree): this runs per report.
        fine_key = (int((lat + 90.0) * 20.0), int((lon + 540.0) * 20.0))
        coarse_key = (int(lat + 90.0), int(lon + 540.0))
        for owner, grids in self._points.get(domain, _NO_GRIDS).items():
            if owner == party:
                continue
            bucket = grids.fine.cells.get(fine_key)
            if bucket:
                found += bucket
            if grids.coarse.cells:
                bucket = grids.coarse.cells.get(coarse_key)
                if bucket:
                    found += bucket
        return found

    def touching(self, shape: Shape) -> list[KnownZone]:
        """Zones whose bounds meet the shape's bounds: a superset of those overlapping it."""
        found: dict[str, KnownZone] = {}
        for polygon in shape.copies:
            minx, miny, maxx, maxy = polygon.bounds
            for grid in (self._area.fine, self._area.coarse):
                rows, cols = grid.span(minx, miny, maxx, maxy)
                if len(rows) * len(cols) > 4 * len(self.zones) + 16:
                    # A huge area against few zones: comparing bounds directly is cheaper.
                    return list(self.zones.values())
                for r in rows:
                    for c in cols:
                        for entry in grid.cells.get((r, c), _EMPTY):
                            if (
                                entry.minx <= maxx
                                and minx <= entry.maxx
                                and entry.miny <= maxy
                                and miny <= entry.maxy
                            ):
                                found[entry.known.zone_id] = entry.known
        return list(found.values())


_NO_GRIDS: dict[str, _Grids] = {}
