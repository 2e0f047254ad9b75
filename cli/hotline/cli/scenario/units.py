"""Simulated units: where each is along its route at an exercise time, and the position
reports a reporting station sends for them on schedule."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence

from hotline.cli.scenario.clock import ScenarioClock
from hotline.cli.scenario.patience import patiently
from hotline.client import HotlineClient, HotlineClientError, envelope
from hotline.contract import timestamp
from hotline.server.deconfliction.geodesy import destination, inverse
from hotline.server.scenario import SimulatedUnit, StationName
from hotline.v1 import common_pb2, positions_pb2

log = logging.getLogger(__name__)


def position_at(unit: SimulatedUnit, at: float) -> positions_pb2.UnitPosition | None:
    """The unit's position, course and speed at exercise time ``at`` (None before its
    route starts; its last point, at rest, after the route ends). ``observed_at`` is
    left for the caller."""
    route = unit.route
    if at < route[0].at:
        return None
    base = positions_pb2.UnitPosition(
        unit_id=unit.unit_id,
        callsign=unit.callsign,
        domain=unit.domain,
        platform_type=unit.platform_type,
    )
    for start, end in itertools.pairwise(route):
        if start.at <= at < end.at:
            length, azimuth = inverse(start.latitude, start.longitude, end.latitude, end.longitude)
            fraction = (at - start.at) / (end.at - start.at)
            base.latitude, base.longitude = destination(
                start.latitude, start.longitude, azimuth, length * fraction
            )
            base.altitude_m = start.altitude_m + (end.altitude_m - start.altitude_m) * fraction
            base.course_deg = azimuth
            base.speed_mps = length / (end.at - start.at)
            return base
    last = route[-1]
    base.latitude, base.longitude, base.altitude_m = last.latitude, last.longitude, last.altitude_m
    if len(route) > 1:
        base.course_deg = inverse(
            route[-2].latitude, route[-2].longitude, last.latitude, last.longitude
        )[1]
    return base


class UnitReporter:
    """Sends the position reports of ``station``'s units: at each unit's report times,
    one report holding every unit due then."""

    def __init__(
        self,
        station: StationName,
        units: Sequence[SimulatedUnit],
        client: HotlineClient,
        clock: ScenarioClock,
        *,
        ends_at: float,
        on_problem: Callable[[str], None],
    ) -> None:
        self.station = station
        self.units = units
        self.client = client
        self.clock = clock
        self.ends_at = ends_at
        self.on_problem = on_problem

    def schedule(self) -> list[tuple[float, list[SimulatedUnit]]]:
        """Every report time with the units due then, in time order."""
        due: dict[float, list[SimulatedUnit]] = {}
        for unit in self.units:
            at = unit.route[0].at
            while at <= self.ends_at:
                due.setdefault(round(at, 6), []).append(unit)
                at += unit.report_every
        return sorted(due.items())

    async def run(self) -> None:
        """Reports on schedule until the end of the run."""
        sender = common_pb2.StationRef(party=self.station.party, hotline=self.station.hotline)
        for at, units in self.schedule():
            await self.clock.until(at)
            observed = timestamp(self.clock.wall(at))
            report = positions_pb2.PositionReport()
            for unit in units:
                position = position_at(unit, at)
                if position is not None:
                    position.observed_at.CopyFrom(observed)
                    report.positions.append(position)
            try:
                result = await patiently(self.client.send, envelope(sender, report))
            except HotlineClientError as error:
                self.on_problem(f"{self.station} position report: {error}")
                continue
            if result.code:
                self.on_problem(f"{self.station} position report refused: {result.error}")
