"""Zone shapes built from the protobuf ``Geometry``, with their validation.

A :class:`Shape` is held in longitude/latitude degrees (x = longitude) with every edge
densified along its geodesic, so that straight segments between stored points stray
less than a metre from the true boundary up to ±85° of latitude. Point-in-zone is then
a plain planar test, which costs about a microsecond, and no projection is needed per
position report.

- **Polygon**: edges are geodesics between consecutive vertices.
- **Circle**: every point within ``radius_m`` (geodesic) of the centre; stored as an
  inscribed polygon whose chords stray at most 25 cm inside the circle.
- **Corridor**: every point within ``half_width_m`` of the geodesic polyline ``path``,
  with round ends and bends; its outline is traced on the ellipsoid
  (:mod:`hotline.server.deconfliction.corridors`), so its edge is within a metre of the
  half-width along its whole length.

A shape whose longitudes run past ±180 (it straddles the antimeridian) keeps one
continuous outline plus a copy shifted by 360°, so that a point given in [-180, 180]
finds it on either side. Shapes that enclose a pole, reach beyond ±85°, or extend more
than 1,000 km from their centre are refused: they cannot be evaluated to the accuracy
promised here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.affinity import translate
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from hotline.server.deconfliction import geodesy
from hotline.server.deconfliction.corridors import corridor_outline
from hotline.server.errors import InvalidArgument
from hotline.v1 import common_pb2, zones_pb2

#: Longest straight segment kept in an outline.
DENSIFY_SPACING_M = 2_000.0
#: Farthest a boundary point may be from the shape's centre.
MAX_EXTENT_M = 1_000_000.0
#: Beyond this latitude a longitude/latitude outline is not accurate enough.
MAX_ABS_LATITUDE = 85.0
MAX_VERTICES = 5_000
#: Most points an outline may be densified into (about 200,000 km of boundary).
MAX_OUTLINE_POINTS = 100_000
_MAX_SAGITTA_M = 0.25


@dataclass(frozen=True, slots=True)
class Shape:
    """An area of the earth's surface, validated and ready for fast tests."""

    outline: Polygon
    """Boundary in unwrapped longitude/latitude degrees (may run past ±180)."""
    copies: tuple[Polygon, ...]
    """``outline`` and, if it straddles the antimeridian, its copy shifted by 360°."""
    path_copies: tuple[LineString, ...]
    """For a corridor: its centre line (unwrapped) and shifted copy; empty otherwise."""
    centre: tuple[float, float]
    """A reference point (lat, lon) near the middle of the shape."""
    radius: float | None = None
    """For a circle: its radius about ``centre`` (m)."""
    frame: list[_Frame] = field(default_factory=list, compare=False, repr=False)
    """The plane :meth:`edge_distance_m` picks edge points in, made on first use."""

    def contains(self, lat: float, lon: float) -> bool:
        """Whether the point (degrees, longitude in [-180, 180]) is inside."""
        return any(shapely.contains_xy(copy, lon, lat) for copy in self.copies)

    def overlaps(self, other: Shape) -> bool:
        """Whether the two areas share interior (touching boundaries do not count)."""
        return any(
            shapely.relate_pattern(mine, theirs, "T********")
            for mine in self.copies
            for theirs in other.copies
        )

    def edge_distance_m(self, lat: float, lon: float, *, centre_line: bool = False) -> float:
        """Geodesic distance from (lat, lon) to the shape's nearest edge (inside or
        out), or with ``centre_line`` to a corridor's centre line.

        The nearest point of the edge is picked in a plane about the shape's middle
        (longitudes scaled by the radius of its parallel), and the distance to it is the
        exact WGS-84 geodesic one. The plane's distortion only moves the point picked
        along the edge, which changes the distance by the square of that: well under a
        metre for shapes 100 km across, about 0.1 % at 1,000 km.
        """
        if self.radius is not None:  # a circle: its edge is the radius from the centre
            return abs(self.radius - geodesy.distance_m(*self.centre, lat, lon))
        frame = self._frame()
        x = geodesy.wrap_longitude(lon - frame.lon) * frame.kx
        y = (lat - frame.lat) * frame.ky
        target = frame.path if centre_line and frame.path is not None else frame.boundary
        ex, ey = shapely.shortest_line(target, Point(x, y)).coords[0]
        edge_lat = frame.lat + ey / frame.ky
        edge_lon = geodesy.wrap_longitude(frame.lon + ex / frame.kx)
        return geodesy.distance_m(lat, lon, edge_lat, edge_lon)

    def edge_distances_planar(
        self, lats: np.ndarray, lons: np.ndarray, *, centre_line: bool = False
    ) -> np.ndarray:
        """Distances (m) of many points to the edge (or centre line) in the plane
        :meth:`edge_distance_m` picks edge points in: within a few per cent of the
        geodesic, to choose among points before measuring one exactly."""
        if self.radius is not None:
            n = len(lats)
            clat, clon = self.centre
            _, _, distances = geodesy.GEOD.inv(np.full(n, clon), np.full(n, clat), lons, lats)
            return np.abs(self.radius - np.asarray(distances, dtype=np.float64))
        frame = self._frame()
        xs = ((lons - frame.lon + 180.0) % 360.0 - 180.0) * frame.kx
        ys = (lats - frame.lat) * frame.ky
        target = frame.path if centre_line and frame.path is not None else frame.boundary
        return np.asarray(shapely.distance(target, shapely.points(xs, ys)), dtype=np.float64)

    def _frame(self) -> _Frame:
        if not self.frame:
            self.frame.append(_Frame.of(self))
        return self.frame[0]

    def representative_point(self) -> tuple[float, float]:
        """A point (lat, lon) guaranteed inside the shape."""
        point = self.outline.representative_point()
        return point.y, geodesy.wrap_longitude(point.x)


@dataclass(frozen=True, slots=True)
class _Frame:
    """A plane about a shape's middle: x east, y north, in metres at its latitude."""

    lat: float
    lon: float
    """Unwrapped like the outline."""
    kx: float
    ky: float
    boundary: BaseGeometry
    path: BaseGeometry | None

    @classmethod
    def of(cls, shape: Shape) -> _Frame:
        minx, miny, maxx, maxy = shape.outline.bounds
        lat, lon = (miny + maxy) / 2.0, (minx + maxx) / 2.0
        ky, kx = geodesy.metres_per_degree(lat)

        def plane(geometry: BaseGeometry) -> BaseGeometry:
            # Not prepared: a nearest point is a single pass over the edges anyway.
            return shapely.transform(geometry, lambda xy: (xy - (lon, lat)) * (kx, ky))

        paths = shape.path_copies
        return cls(
            lat, lon, kx, ky, plane(shape.outline.boundary), plane(paths[0]) if paths else None
        )


def latlon(point: common_pb2.LatLon, field: str) -> tuple[float, float]:
    """The (lat, lon) of a ``LatLon``; raises InvalidArgument if not finite or out of range."""
    return coordinates(point.latitude, point.longitude, field)


def coordinates(lat: float, lon: float, field: str) -> tuple[float, float]:
    """Checks a latitude/longitude pair; raises InvalidArgument naming ``field``."""
    if not math.isfinite(lat):
        raise InvalidArgument(f"{field}.latitude: {lat} is not a finite number")
    if not math.isfinite(lon):
        raise InvalidArgument(f"{field}.longitude: {lon} is not a finite number")
    if not -90.0 <= lat <= 90.0:
        raise InvalidArgument(f"{field}.latitude: {lat} is out of range [-90, 90]")
    if not -180.0 <= lon <= 180.0:
        raise InvalidArgument(f"{field}.longitude: {lon} is out of range [-180, 180]")
    return lat, lon


def shape_from_geometry(geometry: zones_pb2.Geometry, field: str) -> Shape:
    """Builds the shape of a ``Geometry``.

    Raises InvalidArgument, with ``field`` and the offending sub-field in the message,
    for a missing shape, non-finite or out-of-range coordinates, fewer than 3 distinct
    polygon vertices (2 for a corridor path), a self-intersecting or empty polygon, a
    non-positive radius or half-width, and shapes this module cannot evaluate exactly
    (see the module docstring).
    """
    which = geometry.WhichOneof("shape")
    if which == "polygon":
        return _polygon(geometry.polygon, f"{field}.polygon")
    if which == "circle":
        return _circle(geometry.circle, f"{field}.circle")
    if which == "corridor":
        return _corridor(geometry.corridor, f"{field}.corridor")
    raise InvalidArgument(f"{field}: one of polygon, circle or corridor is required")


def _distinct_points(points: list[tuple[float, float]], *, ring: bool) -> list[tuple[float, float]]:
    """Drops repeated consecutive points (and, for a ring, a closing repeat)."""

    def same(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] == b[0] and (
            abs(a[0]) == 90.0 or geodesy.wrap_longitude(a[1]) == geodesy.wrap_longitude(b[1])
        )

    out: list[tuple[float, float]] = []
    for p in points:
        if not out or not same(out[-1], p):
            out.append(p)
    if ring:
        while len(out) > 1 and same(out[0], out[-1]):
            out.pop()
    return out


def _check_vertex_count(count: int, field: str) -> None:
    if count > MAX_VERTICES:
        raise InvalidArgument(f"{field}: {count} vertices, more than {MAX_VERTICES}; simplify it")


def _polygon(polygon: zones_pb2.Polygon, field: str) -> Shape:
    _check_vertex_count(len(polygon.vertices), f"{field}.vertices")
    points = [latlon(v, f"{field}.vertices[{i}]") for i, v in enumerate(polygon.vertices)]
    points = _distinct_points(points, ring=True)
    if len({(lat, geodesy.wrap_longitude(lon)) for lat, lon in points}) < 3:
        raise InvalidArgument(f"{field}: fewer than 3 distinct vertices")
    for lat, _ in points:
        if abs(lat) > MAX_ABS_LATITUDE:
            raise _polar(field)
    lats = np.array([p[0] for p in points] + [points[0][0]])
    lons = np.array([p[1] for p in points] + [points[0][1]])
    _check_length(lats, lons, field)
    ring_lats, ring_lons = geodesy.geodesic_path(lats, lons, DENSIFY_SPACING_M)
    if abs(ring_lons[-1] - ring_lons[0]) > 180.0:
        raise InvalidArgument(f"{field}: encloses a pole, which is not supported")
    ring_lons[-1] = ring_lons[0]  # close exactly; the unwrapped closure may differ by 1e-12
    centre = _centre(ring_lats, ring_lons)
    _check_extent(centre, ring_lats, ring_lons, field)
    _check_latitudes(ring_lats, field)
    outline = Polygon(np.column_stack([ring_lons, ring_lats]))
    if outline.area == 0.0:
        raise InvalidArgument(f"{field}: the vertices are collinear; the polygon has no area")
    if not outline.is_valid:
        reason = shapely.is_valid_reason(outline)
        where = ""
        if "[" in reason:
            x, y = reason[reason.index("[") + 1 : reason.rindex("]")].split()[:2]
            where = (
                f" near latitude {float(y):.5f}, longitude {geodesy.wrap_longitude(float(x)):.5f}"
            )
        raise InvalidArgument(f"{field}: self-intersecting polygon (edges cross{where})")
    return _finish(outline, None, centre)


def _circle(circle: zones_pb2.Circle, field: str) -> Shape:
    lat, lon = latlon(circle.center, f"{field}.center")
    radius = circle.radius_m
    if not math.isfinite(radius):
        raise InvalidArgument(f"{field}.radius_m: {radius} is not a finite number")
    if radius <= 0.0:
        raise InvalidArgument(f"{field}.radius_m: must be positive, got {radius}")
    if radius > MAX_EXTENT_M:
        raise InvalidArgument(
            f"{field}.radius_m: {radius:.0f} m is larger than {MAX_EXTENT_M:.0f} m; "
            "split the measure"
        )
    if abs(lat) > MAX_ABS_LATITUDE:
        raise _polar(field)
    lats, lons = geodesy.geodesic_circle(lat, lon, radius, _MAX_SAGITTA_M)
    _check_latitudes(lats, field)
    outline = Polygon(np.column_stack([lons, lats]))
    return _finish(outline, None, (lat, lon), radius=radius)


def _corridor(corridor: zones_pb2.Corridor, field: str) -> Shape:
    half_width = corridor.half_width_m
    if not math.isfinite(half_width):
        raise InvalidArgument(f"{field}.half_width_m: {half_width} is not a finite number")
    if half_width <= 0.0:
        raise InvalidArgument(f"{field}.half_width_m: must be positive, got {half_width}")
    if half_width > MAX_EXTENT_M:
        raise InvalidArgument(
            f"{field}.half_width_m: {half_width:.0f} m is too wide; split the measure"
        )
    _check_vertex_count(len(corridor.path), f"{field}.path")
    points = [latlon(v, f"{field}.path[{i}]") for i, v in enumerate(corridor.path)]
    points = _distinct_points(points, ring=False)
    if len(points) < 2:
        raise InvalidArgument(f"{field}.path: fewer than 2 distinct points")
    for lat, _ in points:
        if abs(lat) > MAX_ABS_LATITUDE:
            raise _polar(field)
    lats = np.array([p[0] for p in points])
    lons = np.array([p[1] for p in points])
    _check_length(lats, lons, field)
    path_lats, path_lons = geodesy.geodesic_path(lats, lons, DENSIFY_SPACING_M)
    centre = _centre(path_lats, path_lons)
    _check_extent(centre, path_lats, path_lons, field, margin=half_width)
    # The vertices, with longitudes as continuous as the densified path's.
    vertex_lons = lons[0] + np.concatenate([[0.0], np.cumsum(_wrapped(np.diff(lons)))])
    vertex_lons += path_lons[0] - vertex_lons[0]
    outline = corridor_outline(
        lats,
        vertex_lons,
        half_width,
        spacing=DENSIFY_SPACING_M,
        max_sagitta=_MAX_SAGITTA_M,
    )
    if not isinstance(outline, Polygon):
        raise InvalidArgument(f"{field}: the corridor does not form a single area")
    _check_latitudes(np.asarray(outline.exterior.coords)[:, 1], field)
    if not outline.is_valid:
        raise InvalidArgument(f"{field}: the corridor folds over itself; split the measure")
    path = LineString(np.column_stack([path_lons, path_lats]))
    return _finish(outline, path, centre)


def _finish(
    outline: Polygon,
    path: LineString | None,
    centre: tuple[float, float],
    *,
    radius: float | None = None,
) -> Shape:
    minx, _, maxx, _ = outline.bounds
    shifts = [0.0]
    if maxx > 180.0:
        shifts.append(-360.0)
    if minx < -180.0:
        shifts.append(360.0)
    copies = tuple(translate(outline, xoff=s) for s in shifts)
    paths: tuple[LineString, ...] = ()
    if path is not None:
        paths = tuple(translate(path, xoff=s) for s in shifts)
    for geometry in (*copies, *paths):
        shapely.prepare(geometry)
    return Shape(outline=outline, copies=copies, path_copies=paths, centre=centre, radius=radius)


def _wrapped(dlons: np.ndarray) -> np.ndarray:
    return (dlons + 180.0) % 360.0 - 180.0


def _centre(lats: np.ndarray, lons: np.ndarray) -> tuple[float, float]:
    lat = (float(lats.min()) + float(lats.max())) / 2.0
    lon = (float(lons.min()) + float(lons.max())) / 2.0
    return lat, geodesy.wrap_longitude(lon)


def _check_extent(
    centre: tuple[float, float], lats: np.ndarray, lons: np.ndarray, field: str, margin: float = 0.0
) -> None:
    n = len(lats)
    _, _, distances = geodesy.GEOD.inv(np.full(n, centre[1]), np.full(n, centre[0]), lons, lats)
    farthest = float(np.max(distances)) + margin
    if farthest > MAX_EXTENT_M:
        raise InvalidArgument(
            f"{field}: reaches {farthest / 1000:.0f} km from its centre, more than "
            f"{MAX_EXTENT_M / 1000:.0f} km; split the measure"
        )


def _check_length(lats: np.ndarray, lons: np.ndarray, field: str) -> None:
    """Refuses legs and outlines too long to densify, before densifying them."""
    _, _, legs = geodesy.GEOD.inv(lons[:-1], lats[:-1], lons[1:], lats[1:])
    longest = float(np.max(legs))
    if longest > 2 * MAX_EXTENT_M:
        raise InvalidArgument(
            f"{field}: has a {longest / 1000:.0f} km edge, longer than "
            f"{2 * MAX_EXTENT_M / 1000:.0f} km; split the measure"
        )
    if float(np.sum(legs)) / DENSIFY_SPACING_M > MAX_OUTLINE_POINTS:
        raise InvalidArgument(f"{field}: the boundary is too long to evaluate; split the measure")


def _check_latitudes(lats: np.ndarray, field: str) -> None:
    if float(np.max(np.abs(lats))) > MAX_ABS_LATITUDE:
        raise _polar(field)


def _polar(field: str) -> InvalidArgument:
    return InvalidArgument(
        f"{field}: reaches beyond ±{MAX_ABS_LATITUDE:.0f}° latitude, which is not supported"
    )
