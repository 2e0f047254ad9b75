"""A short exercise near Deir Ezzor, recorded through a real server for the export tests.

BLUE and RED agree three measures: BLUE's ROZ east of the Euphrates (a polygon), RED's
kill box west of it (a circle) and BLUE's deconfliction line along the river on the
ground commanders' line (a corridor). Then two aircraft and two ground units report
their positions; RED's Su-34 flies east through BLUE's ROZ, which raises an incursion
and its clearance; RED finally withdraws its kill box. The test modules compare the
exports with what was sent here.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from server.deconfliction.scenario import circle, corridor, polygon

from hotline.cli import main
from hotline.client import StationClient
from hotline.testing.harness import AIR, GROUND, expect, is_alert, running_server
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, positions_pb2, zones_pb2

Z = zones_pb2

ROZ = "ROZ-KHASHAM"
KILL_BOX = "KB-WEST"
LINE = "EUPHRATES-LINE"
#: BLUE's ROZ around Khasham, (lat, lon), 0 to 9,000 m.
ROZ_VERTICES = [(35.40, 40.20), (35.40, 40.45), (35.20, 40.45), (35.20, 40.20)]
ROZ_BAND = (0.0, 9000.0)
KILL_BOX_CENTRE = (35.00, 39.60)
KILL_BOX_RADIUS_M = 8000.0
#: The river from Deir Ezzor to Abu Kamal.
RIVER = [(35.336, 40.141), (35.02, 40.45), (34.45, 40.92)]
RIVER_HALF_WIDTH_M = 1500.0

#: What each unit reports, in order: (lat, lon, altitude m).
ROUTES: dict[str, list[tuple[float, float, float]]] = {
    # Through the ROZ at 5,000 m and out of it.
    "RED/FENCER-11": [(35.30, lon, 5000.0) for lon in (40.10, 40.22, 40.30, 40.38, 40.55)],
    "BLUE/VIPER-01": [(35.70, 39.60, 7000.0), (35.72, 39.70, 7100.0), (35.74, 39.80, 7200.0)],
    "BLUE/SDF-1": [(35.10, 40.60, 220.0), (35.10, 40.62, 221.0), (35.10, 40.64, 222.0)],
    "RED/TIGER-2": [(35.20, 39.90, 240.0), (35.21, 39.90, 241.0)],
}
DOMAINS = {
    "FENCER-11": common_pb2.DOMAIN_AIR,
    "VIPER-01": common_pb2.DOMAIN_AIR,
    "SDF-1": common_pb2.DOMAIN_GROUND,
    "TIGER-2": common_pb2.DOMAIN_GROUND,
}
PLATFORMS = {"FENCER-11": "Su-34", "VIPER-01": "F-16C", "SDF-1": "", "TIGER-2": "T-90"}
#: Where the incursion alert places the Su-34: its first report inside the ROZ.
INCURSION_AT = (35.30, 40.22)


@dataclass
class Recording:
    """What was sent: observation times in whole milliseconds, per ``PARTY/unit``, and
    each zone's effective window."""

    observed_ms: dict[str, list[int]] = field(default_factory=dict)
    windows_ms: dict[str, tuple[int, int]] = field(default_factory=dict)

    def observed_iso(self, key: str) -> list[str]:
        return [iso_ms(ms) for ms in self.observed_ms[key]]


def iso_ms(ms: int) -> str:
    """What a reader expects: UTC, milliseconds, ``Z``."""
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _zone(
    recording: Recording,
    zone_id: str,
    geometry: Z.Geometry,
    kind: Z.ZoneKind.ValueType,
    band: tuple[float, float],
) -> Z.Zone:
    zone = Z.Zone(zone_id=zone_id, name=f"{zone_id} measure", kind=kind, geometry=geometry)
    zone.altitude.floor_m, zone.altitude.ceiling_m = band
    now = round(time.time() * 1000)
    start, end = now - 60_000, now + 3_600_000
    zone.effective_from.FromMilliseconds(start)
    zone.effective_until.FromMilliseconds(end)
    recording.windows_ms[zone_id] = (start, end)
    return zone


def _status(zone_id: str, state: int) -> Callable[[envelope_pb2.Envelope], bool]:
    return lambda e: (
        e.WhichOneof("body") == "zone_status"
        and e.zone_status.zone.zone_id == zone_id
        and e.zone_status.zone.state == state
    )


async def _agree(proposer: StationClient, decider: StationClient, zone: Z.Zone) -> None:
    await proposer.send(Z.ZoneProposal(zone=zone), common_pb2.PRIORITY_IMMEDIATE)
    await expect(decider, _status(zone.zone_id, Z.ZONE_STATE_PROPOSED))
    await decider.send(
        Z.ZoneDecision(zone_id=zone.zone_id, version=1, decision=Z.ZONE_DECISION_KIND_ACCEPT)
    )
    for station in (proposer, decider):
        await expect(station, _status(zone.zone_id, Z.ZONE_STATE_ACCEPTED))


async def _report(station: StationClient, recording: Recording, key: str, step: int) -> None:
    unit_id = key.partition("/")[2]
    lat, lon, alt = ROUTES[key][step]
    ms = round(time.time() * 1000)
    position = positions_pb2.UnitPosition(
        unit_id=unit_id,
        callsign=unit_id,
        domain=DOMAINS[unit_id],
        latitude=lat,
        longitude=lon,
        altitude_m=alt,
        course_deg=90.0,
        speed_mps=230.0 if DOMAINS[unit_id] == common_pb2.DOMAIN_AIR else 8.0,
        accuracy_m=15.0,
        platform_type=PLATFORMS[unit_id],
    )
    position.observed_at.FromMilliseconds(ms)
    await station.send(positions_pb2.PositionReport(positions=[position]))
    recording.observed_ms.setdefault(key, []).append(ms)


async def record_exercise(data_dir: Path) -> Recording:
    """Runs the exercise on a real server and returns what was sent."""
    recording = Recording()
    async with (
        running_server(data_dir) as server,
        server.station("BLUE", AIR) as blue_air,
        server.station("RED", AIR) as red_air,
        server.station("BLUE", GROUND) as blue_ground,
        server.station("RED", GROUND) as red_ground,
    ):
        roz = _zone(
            recording,
            ROZ,
            polygon(ROZ_VERTICES),
            Z.ZONE_KIND_RESTRICTED_OPERATIONS_ZONE,
            ROZ_BAND,
        )
        await _agree(blue_air, red_air, roz)
        kill_box = circle(KILL_BOX_CENTRE, KILL_BOX_RADIUS_M)
        await _agree(
            red_air,
            blue_air,
            _zone(recording, KILL_BOX, kill_box, Z.ZONE_KIND_KILL_BOX, (0.0, 12000.0)),
        )
        line = corridor(RIVER, RIVER_HALF_WIDTH_M)
        await _agree(
            blue_ground,
            red_ground,
            _zone(recording, LINE, line, Z.ZONE_KIND_DECONFLICTION_LINE, (0.0, 500.0)),
        )

        stations = {"BLUE/": (blue_air, blue_ground), "RED/": (red_air, red_ground)}
        for step in range(max(len(route) for route in ROUTES.values())):
            for key in sorted(ROUTES):
                if step < len(ROUTES[key]):
                    air, ground = stations[key[: key.index("/") + 1]]
                    domain = DOMAINS[key.partition("/")[2]]
                    station = air if domain == common_pb2.DOMAIN_AIR else ground
                    await _report(station, recording, key, step)
        for station in (blue_air, red_air):
            await expect(station, is_alert(acknowledgments_pb2.ALERT_KIND_ZONE_INCURSION_CLEARED))

        await red_air.send(Z.ZoneWithdrawal(zone_id=KILL_BOX, reason="strike package done"))
        await expect(blue_air, _status(KILL_BOX, Z.ZONE_STATE_WITHDRAWN))
    return recording


def export(
    capsys: pytest.CaptureFixture[str], log: Path, fmt: str, *options: str, key: bool = True
) -> tuple[int, str, str]:
    """Runs ``hotline export``; the exit status, output and errors."""
    args = ["export", str(log), "--format", fmt, *options]
    if key:
        args += ["--key", str(log.parent / "signing.pub")]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    code = exited.value.code
    if isinstance(code, str):
        return 1, out, err + code
    return code or 0, out, err


def exported(capsys: pytest.CaptureFixture[str], log: Path, fmt: str, *options: str) -> str:
    """The export of a verified log, which must succeed."""
    code, out, err = export(capsys, log, fmt, *options)
    assert code == 0, err
    return out
