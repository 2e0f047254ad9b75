"""Incursions measured: how deep a unit is inside a zone, and the episode's record.

The depth of a point inside a zone is its geodesic distance to the zone's nearest edge
(:meth:`~hotline.server.deconfliction.geometry.Shape.edge_distance_m`); across a
deconfliction line it is the distance to the line's centre line (how far across).

An :class:`Incursion` follows one unit inside one zone from entry to exit: depth at
entry, the deepest seen and when, and so the duration. Depth changes by at most the
distance moved, so a report that cannot have gone deeper than the deepest so far is not
measured at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hotline.contract import duration, timestamp
from hotline.server.deconfliction.geodesy import metres_per_degree, wrap_longitude
from hotline.v1 import acknowledgments_pb2


@dataclass(slots=True)
class Incursion:
    """One unit inside one zone, from the report that found it there."""

    alert: acknowledgments_pb2.Alert
    """The ZONE_INCURSION raised on entry."""
    entered_at: float
    entry_depth_m: float
    max_depth_m: float
    max_depth_at: float
    #: Where depth was last measured, and what it was: a bound for the next report.
    measured_lat: float
    measured_lon: float
    measured_depth_m: float

    @classmethod
    def entered(
        cls, alert: acknowledgments_pb2.Alert, now: float, lat: float, lon: float, depth: float
    ) -> Incursion:
        """The episode of a unit just found inside; fills the alert's depth record."""
        incursion = cls(alert, now, depth, depth, now, lat, lon, depth)
        incursion.fill(alert.incursion, now)
        return incursion

    def may_be_deeper(self, lat: float, lon: float) -> bool:
        """Whether a unit now at (lat, lon) can be deeper than the deepest seen: it must
        have moved farther than the gap since the last measurement (flat distance, with
        a margin far above its error at these ranges)."""
        ky, kx = metres_per_degree(lat)
        dx = wrap_longitude(lon - self.measured_lon) * kx
        dy = (lat - self.measured_lat) * ky
        moved = math.hypot(dx, dy) * 1.01 + 1.0
        return self.measured_depth_m + moved > self.max_depth_m

    def measured(self, lat: float, lon: float, depth: float, now: float) -> None:
        self.measured_lat, self.measured_lon, self.measured_depth_m = lat, lon, depth
        if depth > self.max_depth_m:
            self.max_depth_m = depth
            self.max_depth_at = now

    def fill(self, record: acknowledgments_pb2.IncursionDepth, now: float) -> None:
        """Writes the episode as it stands at ``now`` into ``record``."""
        record.entry_depth_m = self.entry_depth_m
        record.max_depth_m = self.max_depth_m
        record.max_depth_at.CopyFrom(timestamp(self.max_depth_at))
        record.duration.CopyFrom(duration(max(now - self.entered_at, 0.0)))
