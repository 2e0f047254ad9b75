"""Crossing a deconfliction line between two position reports.

A unit crosses a line when the straight move between its last two reports (in
longitude/latitude; reports are seconds apart, so the move is short) cuts the line's
centre line. Counting crossings with a half-open rule at the vertices makes the count's
parity exact: an odd count means the unit has changed sides.
"""

from __future__ import annotations

from hotline.server.deconfliction.geometry import Shape

_CELL = 0.05
_INVERSE = 1.0 / _CELL
_MAX_CELLS = 400


class _Path:
    def __init__(self, coords: list[tuple[float, float]]) -> None:
        self.coords = coords
        xs = [c[0] for c in coords]
        ys = [c[1] for c in coords]
        self.bounds = (min(xs), min(ys), max(xs), max(ys))
        self.cells: dict[tuple[int, int], list[int]] = {}
        for i in range(len(coords) - 1):
            (x0, y0), (x1, y1) = coords[i], coords[i + 1]
            for key in _cells(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)):
                self.cells.setdefault(key, []).append(i)


def _cells(minx: float, miny: float, maxx: float, maxy: float) -> list[tuple[int, int]]:
    rows = range(int((miny + 90.0) * _INVERSE), int((maxy + 90.0) * _INVERSE) + 1)
    cols = range(int((minx + 540.0) * _INVERSE), int((maxx + 540.0) * _INVERSE) + 1)
    return [(r, c) for r in rows for c in cols]


def _side(a: tuple[float, float], b: tuple[float, float], p: tuple[float, float]) -> bool:
    """Half-open side of P relative to the directed line A→B (on the line counts as right)."""
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) > 0.0


class LineCrossing:
    """The centre line of one deconfliction line, indexed for crossing tests."""

    def __init__(self, shape: Shape) -> None:
        self._paths = [_Path([(x, y) for x, y in path.coords]) for path in shape.path_copies]
        #: Bounds (min lon, min lat, max lon, max lat) of every copy together.
        self.bounds = (
            min(p.bounds[0] for p in self._paths),
            min(p.bounds[1] for p in self._paths),
            max(p.bounds[2] for p in self._paths),
            max(p.bounds[3] for p in self._paths),
        )

    def crossings(self, lat0: float, lon0: float, lat1: float, lon1: float) -> int:
        """How many times the move from (lat0, lon0) to (lat1, lon1) cuts the line."""
        if lon1 - lon0 > 180.0:
            lon1 -= 360.0
        elif lon0 - lon1 > 180.0:
            lon1 += 360.0
        minx, maxx = min(lon0, lon1), max(lon0, lon1)
        miny, maxy = min(lat0, lat1), max(lat0, lat1)
        count = 0
        for path in self._paths:
            px0, py0, px1, py1 = path.bounds
            if maxx < px0 or minx > px1 or maxy < py0 or miny > py1:
                continue
            keys = _cells(minx, miny, maxx, maxy)
            if len(keys) > _MAX_CELLS:
                segments: set[int] | range = range(len(path.coords) - 1)
            else:
                segments = set()
                for key in keys:
                    segments.update(path.cells.get(key, ()))
            coords = path.coords
            start, end = (lon0, lat0), (lon1, lat1)
            for i in segments:
                a, b = coords[i], coords[i + 1]
                if _side(a, b, start) != _side(a, b, end) and _side(start, end, a) != _side(
                    start, end, b
                ):
                    count += 1
        return count
