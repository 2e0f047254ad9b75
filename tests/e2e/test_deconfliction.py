"""Deconfliction through real gRPC, near Deir Ezzor: what the duty officers see.

The server checks every recorded position report, activity notice and zone change and
raises alerts on the hotline of the unit's domain, to the parties concerned. Position
reports carry the time each position was observed; the server evaluates them at the
time it records them, so the reports here are observed "now" and the aircraft are
placed where they are meant to be at that moment.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import grpc
import pytest
from server.deconfliction.reference import G
from server.deconfliction.scenario import KHASHAM, circle, corridor, polygon

from hotline.client import HotlineClient, Refused, StationClient
from hotline.contract import seconds, timestamp
from hotline.server.checks import DECONFLICTION_ALERTS
from hotline.server.deconfliction.geodesy import distance_m
from hotline.server.exercise import load_exercise
from hotline.server.identity import TokenAuthority, load_or_create_secret
from hotline.server.storage import open_backend
from hotline.testing.harness import (
    AIR,
    GROUND,
    Harness,
    ServerProcess,
    expect,
    is_alert,
    running_server,
)
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    log_pb2,
    messages_pb2,
    positions_pb2,
    zones_pb2,
)

A = acknowledgments_pb2
Z = zones_pb2
Envelope = envelope_pb2.Envelope

#: A box east of the Euphrates around Khasham, about 22 km by 23 km.
EAST_OF_THE_RIVER = [(35.40, 40.20), (35.40, 40.45), (35.20, 40.45), (35.20, 40.20)]
#: West of the river, clear of EAST_OF_THE_RIVER.
WEST_OF_THE_RIVER = [(35.45, 39.80), (35.45, 40.00), (35.25, 40.00), (35.25, 39.80)]


# ---------------------------------------------------------------------- builders


def measure(
    zone_id: str,
    geometry: Z.Geometry,
    kind: Z.ZoneKind.ValueType = Z.ZONE_KIND_RESTRICTED_OPERATIONS_ZONE,
    band: tuple[float, float] = (0.0, 9000.0),
) -> Z.Zone:
    """A measure in effect from a minute ago for an hour, as a station proposes it."""
    zone = Z.Zone(zone_id=zone_id, name=zone_id, kind=kind, geometry=geometry)
    zone.altitude.floor_m, zone.altitude.ceiling_m = band
    now = time.time()
    zone.effective_from.CopyFrom(timestamp(now - 60))
    zone.effective_until.CopyFrom(timestamp(now + 3600))
    return zone


def unit(
    unit_id: str,
    at: tuple[float, float],
    *,
    domain: common_pb2.Domain.ValueType = common_pb2.DOMAIN_AIR,
    altitude_m: float = 6000.0,
    course_deg: float = 90.0,
    speed_mps: float = 0.0,
) -> positions_pb2.UnitPosition:
    """One unit as observed now."""
    return positions_pb2.UnitPosition(
        unit_id=unit_id,
        callsign=unit_id,
        domain=domain,
        latitude=at[0],
        longitude=at[1],
        altitude_m=altitude_m,
        course_deg=course_deg,
        speed_mps=speed_mps,
        observed_at=timestamp(),
        accuracy_m=15.0,
    )


def report(*units: positions_pb2.UnitPosition) -> positions_pb2.PositionReport:
    return positions_pb2.PositionReport(positions=units)


def strike_notice(area: Z.Geometry) -> messages_pb2.ActivityNotice:
    """A strike in ten minutes, for twenty minutes."""
    now = time.time()
    return messages_pb2.ActivityNotice(
        activity=messages_pb2.ACTIVITY_TYPE_STRIKE,
        area=area,
        window_start=timestamp(now + 600),
        window_end=timestamp(now + 1800),
        description="Strike on the Conoco gas field",
    )


def zone_status(zone_id: str, state: int) -> Callable[[Envelope], bool]:
    return lambda e: (
        e.WhichOneof("body") == "zone_status"
        and e.zone_status.zone.zone_id == zone_id
        and e.zone_status.zone.state == state
    )


def is_message(message_id: str) -> Callable[[Envelope], bool]:
    return lambda e: e.message_id == message_id


def alerts(envelopes: Sequence[Envelope], kind: int) -> list[A.Alert]:
    return [e.alert for e in envelopes if e.WhichOneof("body") == "alert" and e.alert.kind == kind]


async def agree(blue: StationClient, red: StationClient, zone: Z.Zone) -> None:
    """BLUE proposes the measure, RED accepts it, and both see it accepted."""
    await blue.send(Z.ZoneProposal(zone=zone), common_pb2.PRIORITY_IMMEDIATE)
    await expect(red, zone_status(zone.zone_id, Z.ZONE_STATE_PROPOSED))
    await red.send(
        Z.ZoneDecision(zone_id=zone.zone_id, version=1, decision=Z.ZONE_DECISION_KIND_ACCEPT)
    )
    for station in (blue, red):
        await expect(station, zone_status(zone.zone_id, Z.ZONE_STATE_ACCEPTED))


async def alert_records(control: HotlineClient, count: int) -> list[log_pb2.LogRecord]:
    """The first ``count`` alerts exercise control sees on the log."""
    found: list[log_pb2.LogRecord] = []
    async for record in control.watch(resume_after_index=0):
        if record.kind == log_pb2.RECORD_KIND_ENVELOPE and record.envelope.HasField("alert"):
            found.append(record)
            if len(found) == count:
                break
    return found


# ---------------------------------------------------------------------- zones


async def test_an_aircraft_entering_an_accepted_roz_alerts_both_sides_once(
    server: Harness,
) -> None:
    async with (
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as red,
        server.control() as control,
    ):
        await agree(blue, red, measure("ROZ-KHASHAM", polygon(EAST_OF_THE_RIVER)))

        # A RED Su-34 flies east along 35.3° N at 5,000 m, through the ROZ and out.
        track = [40.10, 40.22, 40.30, 40.38, 40.44, 40.55]
        for lon in track:
            fencer = unit("FENCER-11", (35.30, lon), altitude_m=5000.0, speed_mps=230.0)
            await red.send(report(fencer))

        seen: dict[str, list[Envelope]] = {"BLUE": [], "RED": []}
        for party, station in (("BLUE", blue), ("RED", red)):
            cleared = await expect(
                station, is_alert(A.ALERT_KIND_ZONE_INCURSION_CLEARED), seen=seen[party]
            )
            # One alert on entry, none while inside, one on the way out.
            (entered,) = alerts(seen[party], A.ALERT_KIND_ZONE_INCURSION)
            assert entered.unit_ids == ["FENCER-11"]
            assert entered.zone_ids == ["ROZ-KHASHAM"]
            assert sorted(entered.parties) == ["BLUE", "RED"]
            assert "RED aircraft FENCER-11 entered BLUE ROZ ROZ-KHASHAM at 5000 m" in (
                entered.summary
            )
            assert (entered.location.latitude, entered.location.longitude) == (35.30, 40.22)
            assert cleared.alert.unit_ids == ["FENCER-11"]
            assert cleared.alert.zone_ids == ["ROZ-KHASHAM"]
            assert "left BLUE ROZ ROZ-KHASHAM" in cleared.alert.summary
            assert cleared.alert.location.longitude == 40.55
            # Measured: 2 km inside the western edge (40.20 E) on entry, 9 km at
            # 40.30 E at the deepest, then out.
            entry = G.Inverse(35.30, 40.22, 35.30, 40.20)["s12"]
            deepest = G.Inverse(35.30, 40.30, 35.30, 40.20)["s12"]
            assert entered.incursion.entry_depth_m == pytest.approx(entry, abs=1.0)
            assert entered.incursion.max_depth_m == entered.incursion.entry_depth_m
            assert f"{entered.incursion.entry_depth_m:.0f} m inside" in entered.summary
            record = cleared.alert.incursion
            assert record.entry_depth_m == entered.incursion.entry_depth_m
            assert record.max_depth_m == pytest.approx(deepest, abs=1.0)
            entered_at = seconds(entered.incursion.max_depth_at)
            inside = seconds(record.duration)
            assert entered_at < seconds(record.max_depth_at) < entered_at + inside
            assert f"at most {record.max_depth_m:.0f} m inside" in cleared.alert.summary
        # BLUE saw RED's reports as well; the alerts came on the air operations line.
        assert len([e for e in seen["BLUE"] if e.HasField("position_report")]) >= 2
        assert all(e.hotline == AIR for e in seen["BLUE"] + seen["RED"])

        # Exercise control sees the same two alerts on the log.
        records = await alert_records(control, 2)
        assert [r.envelope.alert.kind for r in records] == [
            A.ALERT_KIND_ZONE_INCURSION,
            A.ALERT_KIND_ZONE_INCURSION_CLEARED,
        ]
        assert sorted(records[0].envelope.audience) == ["BLUE", "RED"]


async def test_the_owner_and_aircraft_above_the_ceiling_raise_no_incursion(
    server: Harness,
) -> None:
    async with server.station("BLUE", AIR) as blue, server.station("RED", AIR) as red:
        await agree(blue, red, measure("ROZ-LOW", polygon(EAST_OF_THE_RIVER), band=(0, 3000)))
        # BLUE's own aircraft inside its ROZ, and a RED one crossing above it.
        await blue.send(report(unit("VIPER-01", KHASHAM, altitude_m=2000.0)))
        await red.send(report(unit("FENCER-21", KHASHAM, altitude_m=8000.0)))
        # ... then the RED aircraft descends into the band.
        await red.send(report(unit("FENCER-21", KHASHAM, altitude_m=2500.0)))
        seen: list[Envelope] = []
        entered = await expect(blue, is_alert(A.ALERT_KIND_ZONE_INCURSION), seen=seen)
        assert entered.alert.unit_ids == ["FENCER-21"]
        assert "at 2500 m" in entered.alert.summary
        assert not alerts(seen, A.ALERT_KIND_ZONE_INCURSION)


async def test_overlapping_proposal_is_flagged_before_the_other_side_decides(
    server: Harness,
) -> None:
    async with server.station("BLUE", AIR) as blue, server.station("RED", AIR) as red:
        await blue.send(Z.ZoneProposal(zone=measure("BLUE-ROZ", polygon(EAST_OF_THE_RIVER))))
        await expect(red, zone_status("BLUE-ROZ", Z.ZONE_STATE_PROPOSED))

        # RED proposes a kill box west of the river (clear of BLUE's ROZ), then one over
        # Khasham that overlaps it in area, altitude and time.
        west = measure("RED-KB-WEST", polygon(WEST_OF_THE_RIVER), Z.ZONE_KIND_KILL_BOX)
        await red.send(Z.ZoneProposal(zone=west))
        over = measure("RED-KB-KHASHAM", circle(KHASHAM, 8000.0), Z.ZONE_KIND_KILL_BOX)
        overlapping = await red.send(Z.ZoneProposal(zone=over))

        seen: list[Envelope] = []
        overlap = await expect(blue, is_alert(A.ALERT_KIND_ZONE_OVERLAP), seen=seen)
        flagged = overlap.alert
        assert flagged.message_id == overlapping.message_id
        assert list(flagged.zone_ids) == ["RED-KB-KHASHAM", "BLUE-ROZ"]
        assert sorted(flagged.parties) == ["BLUE", "RED"]
        assert "RED proposal RED-KB-KHASHAM overlaps proposed BLUE ROZ BLUE-ROZ" in flagged.summary
        assert overlap.hotline == AIR
        # The first proposal raised nothing.
        assert not alerts(seen, A.ALERT_KIND_ZONE_OVERLAP)
        # The alert was recorded with the proposal (it is FLASH and may overtake it).
        if overlapping.message_id not in [e.message_id for e in seen]:
            await expect(blue, lambda e: e.message_id == overlapping.message_id)
        assert overlap.sequence == overlapping.sequence + 2  # proposal, its status, alert
        # RED is told too.
        await expect(red, is_alert(A.ALERT_KIND_ZONE_OVERLAP))

        # With the alert in hand, BLUE rejects the overlapping proposal.
        await blue.send(
            Z.ZoneDecision(
                zone_id="RED-KB-KHASHAM",
                version=1,
                decision=Z.ZONE_DECISION_KIND_REJECT,
                reason="overlaps BLUE-ROZ",
            )
        )
        await expect(red, zone_status("RED-KB-KHASHAM", Z.ZONE_STATE_REJECTED))


# ---------------------------------------------------------------------- separation


async def test_converging_aircraft_are_predicted_in_conflict_before_they_breach(
    server: Harness,
) -> None:
    async with server.station("BLUE", AIR) as blue, server.station("RED", AIR) as red:
        # Head-on along 35.336° N at 7,000 and 7,100 m, 250 m/s each.
        west, east = (35.336, 40.00), (35.336, 40.40)
        apart = distance_m(*west, *east)
        await blue.send(report(unit("VIPER-31", west, altitude_m=7000.0, speed_mps=250.0)))
        await red.send(
            report(unit("FENCER-41", east, altitude_m=7100.0, course_deg=270.0, speed_mps=250.0))
        )
        seen: list[Envelope] = []
        predicted = await expect(blue, is_alert(A.ALERT_KIND_PREDICTED_CONFLICT), seen=seen)
        conflict = predicted.alert
        assert sorted(conflict.unit_ids) == ["FENCER-41", "VIPER-31"]
        assert sorted(conflict.parties) == ["BLUE", "RED"]
        # They close at 500 m/s on the same parallel: CPA in apart / 500 s, about 0 m apart.
        assert conflict.time_to_cpa_s == pytest.approx(apart / 500.0, abs=2.0)
        assert conflict.distance_m < 200.0
        assert "Predicted conflict" in conflict.summary
        assert conflict.location.longitude == pytest.approx(40.20, abs=0.01)
        assert not alerts(seen, A.ALERT_KIND_SEPARATION_BREACH)
        await expect(red, is_alert(A.ALERT_KIND_PREDICTED_CONFLICT))

        # A minute later: 3.6 km apart, inside the 3 NM minimum.
        west, east = (35.336, 40.16), (35.336, 40.20)
        await blue.send(report(unit("VIPER-31", west, altitude_m=7000.0, speed_mps=250.0)))
        await red.send(
            report(unit("FENCER-41", east, altitude_m=7100.0, course_deg=270.0, speed_mps=250.0))
        )
        seen.clear()
        breach = await expect(blue, is_alert(A.ALERT_KIND_SEPARATION_BREACH), seen=seen)
        assert sorted(breach.alert.unit_ids) == ["FENCER-41", "VIPER-31"]
        assert breach.alert.distance_m == pytest.approx(distance_m(*west, *east), abs=50.0)
        assert "100 m vertically (minimum 5556 m)" in breach.alert.summary
        # The prediction was raised once for the episode.
        assert not alerts(seen, A.ALERT_KIND_PREDICTED_CONFLICT)
        await expect(red, is_alert(A.ALERT_KIND_SEPARATION_BREACH))


async def test_an_aircraft_just_inside_a_long_corridor_near_its_end_is_an_incursion(
    server: Harness,
) -> None:
    async with server.station("BLUE", AIR) as blue, server.station("RED", AIR) as red:
        # A transit corridor 900 km east along 35° N, 20 km either side of its path.
        start = (35.0, 33.0)
        middle = G.Direct(*start, 90.0, 450_000.0)
        end = G.Direct(middle["lat2"], middle["lon2"], middle["azi2"], 450_000.0)
        path = [start, (middle["lat2"], middle["lon2"]), (end["lat2"], end["lon2"])]
        await agree(blue, red, measure("TRANSIT", corridor(path, 20_000.0)))

        # 1 km short of its end: RED aircraft 15 m outside, then 15 m inside its edge.
        leg = G.InverseLine(*path[1], *path[2])
        foot = leg.Position(leg.s13 - 1_000.0)
        for unit_id, across in (("FENCER-OUT", 20_015.0), ("FENCER-IN", 19_985.0)):
            p = G.Direct(foot["lat2"], foot["lon2"], foot["azi2"] + 90.0, across)
            await red.send(report(unit(unit_id, (p["lat2"], p["lon2"]))))

        # The first incursion (alerts keep their order) is the aircraft inside's.
        entered = await expect(blue, is_alert(A.ALERT_KIND_ZONE_INCURSION))
        assert entered.alert.unit_ids == ["FENCER-IN"]
        assert entered.alert.zone_ids == ["TRANSIT"]


@pytest.mark.parametrize(("latitude", "side"), [(35.0, 1.0), (35.0, -1.0), (60.0, -1.0)])
async def test_a_hover_just_off_a_fast_aircraft_geodesic_is_predicted_at_its_true_distance(
    server: Harness, latitude: float, side: float
) -> None:
    async with server.station("BLUE", AIR) as blue, server.station("RED", AIR) as red:
        # A BLUE jet at 420 m/s heading east; a RED helicopter hovering 120 km along its
        # geodesic, 5,000 m to one side: inside the 3 NM (5,556 m) minimum at the CPA.
        jet = (latitude, 40.0)
        ahead = G.Direct(*jet, 90.0, 120_000.0)
        hover = G.Direct(ahead["lat2"], ahead["lon2"], ahead["azi2"] + 90.0 * side, 5_000.0)
        await red.send(report(unit("HIND-1", (hover["lat2"], hover["lon2"]), altitude_m=6050.0)))
        await expect(blue, lambda e: e.HasField("position_report"))
        await blue.send(report(unit("VIPER-1", jet, altitude_m=6000.0, speed_mps=420.0)))

        predicted = await expect(blue, is_alert(A.ALERT_KIND_PREDICTED_CONFLICT))
        conflict = predicted.alert
        assert sorted(conflict.unit_ids) == ["HIND-1", "VIPER-1"]
        assert conflict.distance_m == pytest.approx(5_000.0, abs=50.0)
        # 120 km at 420 m/s, less the moments the report took to be recorded.
        assert 120_000.0 / 420.0 - 5.0 < conflict.time_to_cpa_s <= 120_000.0 / 420.0 + 1.0
        assert "will pass 5" in conflict.summary


# ---------------------------------------------------------------------- notices


async def test_a_notice_far_from_the_notifiers_own_aircraft_is_a_mismatch_for_control_alone(
    server: Harness,
) -> None:
    async with (
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as red,
        server.control() as control,
    ):
        # RED's only aircraft is 45 km west of the gas field, flying away from it; RED
        # pre-notifies a strike on the gas field all the same.
        far = (35.30, 39.70)
        await red.send(report(unit("FENCER-1", far, course_deg=270.0, speed_mps=200.0)))
        sent = await red.send(strike_notice(circle(KHASHAM, 5000.0)), common_pb2.PRIORITY_IMMEDIATE)

        found: list[log_pb2.LogRecord] = []
        async for record in control.watch(resume_after_index=0):
            found.append(record)
            if record.envelope.alert.kind == A.ALERT_KIND_NOTICE_MISMATCH:
                break
        mismatch = found[-1].envelope
        assert list(mismatch.audience) == ["EXERCISE_CONTROL"]
        assert mismatch.alert.message_id == sent.message_id
        assert list(mismatch.alert.unit_ids) == ["FENCER-1"]
        # 5 km short of the 45 km to the field's centre, along the parallel.
        expected = G.Inverse(*far, *KHASHAM)["s12"] - 5_000.0
        assert mismatch.alert.distance_m == pytest.approx(expected, rel=0.01)

        # The parties are not told: what each hears next is the other's text.
        for station, other in ((blue, red), (red, blue)):
            marker = await other.send(messages_pb2.TextMessage(text="radio check"))
            seen: list[Envelope] = []
            await expect(station, is_message(marker.message_id), seen=seen)
            assert not alerts(seen, A.ALERT_KIND_NOTICE_MISMATCH)


@pytest.mark.parametrize("hotline", [AIR, GROUND])
async def test_a_strike_notice_over_friendly_ground_units_warns_the_ground_commanders(
    server: Harness, hotline: common_pb2.Hotline.ValueType
) -> None:
    async with (
        server.station("BLUE", GROUND) as blue_ground,
        server.station("RED", GROUND) as red_ground,
        server.station("BLUE", hotline) as blue,
        server.station("RED", hotline) as red,
    ):
        # BLUE's commanders report their units east of the Euphrates, and one west of it.
        sdf = [
            unit("SDF-1", KHASHAM, domain=common_pb2.DOMAIN_GROUND, altitude_m=220.0),
            unit("SDF-2", (35.30, 40.27), domain=common_pb2.DOMAIN_GROUND, altitude_m=220.0),
            unit("SDF-9", (35.30, 39.95), domain=common_pb2.DOMAIN_GROUND, altitude_m=220.0),
        ]
        await blue_ground.send(report(*sdf))

        # RED pre-notifies a strike on the gas field, on whichever hotline.
        notice = await red.send(
            strike_notice(circle(KHASHAM, 5000.0)), common_pb2.PRIORITY_IMMEDIATE
        )
        # The warning is about ground units: it goes to both sides' ground commanders.
        for station in (blue_ground, red_ground):
            warning = await expect(station, is_alert(A.ALERT_KIND_NOTICE_CONFLICT))
            conflict = warning.alert
            assert warning.hotline == GROUND
            assert conflict.message_id == notice.message_id
            assert list(conflict.unit_ids) == ["SDF-1", "SDF-2"]
            assert sorted(conflict.parties) == ["BLUE", "RED"]
            summary = "STRIKE notice from RED covers 2 BLUE unit(s) (SDF-1, SDF-2)"
            assert summary in conflict.summary
            assert (conflict.location.latitude, conflict.location.longitude) == KHASHAM
        # BLUE has the notice to answer on the hotline it came on.
        if hotline != GROUND:
            seen: list[Envelope] = []
            await expect(blue, lambda e: e.message_id == notice.message_id, seen=seen)
            assert not alerts(seen, A.ALERT_KIND_NOTICE_CONFLICT)


async def test_an_escalated_notice_is_not_checked_again(short_server: Harness) -> None:
    server = short_server  # an unanswered notice reaches GENERALS in about 3.5 s
    async with (
        server.station("BLUE", GROUND) as blue_ground,
        server.station("RED", AIR) as red,
        server.control() as control,
    ):
        sdf = unit("SDF-1", KHASHAM, domain=common_pb2.DOMAIN_GROUND, altitude_m=220.0)
        await blue_ground.send(report(sdf))
        notice = await red.send(strike_notice(circle(KHASHAM, 5000.0)))
        # Nobody on BLUE's air operations line answers: the notice goes up to GENERALS.
        records: list[log_pb2.LogRecord] = []
        async with asyncio.timeout(15):
            async for record in control.watch(resume_after_index=0):
                records.append(record)
                if record.envelope.escalation_of == notice.message_id:
                    break
        # RED's next message on the line is not taken for a cause of the old conflict.
        await red.send(messages_pb2.TextMessage(text="Do you copy our strike notice?"))
        marker = await control.annotate("after RED's text")
        async with asyncio.timeout(15):
            async for record in control.watch(resume_after_index=records[-1].index):
                records.append(record)
                if record.index >= marker:
                    break
        conflicts = [
            r.envelope.alert
            for r in records
            if r.envelope.alert.kind == A.ALERT_KIND_NOTICE_CONFLICT
        ]
        assert [c.message_id for c in conflicts] == [notice.message_id]


# ---------------------------------------------------------------------- refusals

BOW_TIE = [(35.20, 40.20), (35.40, 40.45), (35.20, 40.45), (35.40, 40.20)]
AROUND_THE_POLE = [(80.0, 0.0), (80.0, 90.0), (80.0, 180.0), (80.0, -90.0)]


def proposal(geometry: Z.Geometry) -> Z.ZoneProposal:
    return Z.ZoneProposal(zone=measure("BAD", geometry))


def counter(geometry: Z.Geometry) -> Z.ZoneDecision:
    return Z.ZoneDecision(
        zone_id="ROZ-KHASHAM",
        version=1,
        decision=Z.ZONE_DECISION_KIND_COUNTER,
        counter_proposal=measure("ROZ-KHASHAM", geometry),
    )


@pytest.mark.parametrize(
    ("party", "body", "names"),
    [
        (
            "BLUE",
            proposal(polygon(BOW_TIE)),
            # Edges are geodesics: they cross a little north of the parallel of 35.3°.
            "zone_proposal.zone.geometry.polygon: self-intersecting polygon (edges cross near "
            "latitude 35.300",
        ),
        (
            "BLUE",
            proposal(polygon(AROUND_THE_POLE)),
            "zone_proposal.zone.geometry.polygon: encloses a pole",
        ),
        (
            "BLUE",
            proposal(circle((84.5, 40.0), 100_000.0)),
            "zone_proposal.zone.geometry.circle: reaches beyond ±85° latitude",
        ),
        (
            "BLUE",
            proposal(circle(KHASHAM, 1_500_000.0)),
            "zone_proposal.zone.geometry.circle.radius_m: 1500000 m is larger than 1000000 m",
        ),
        (
            "BLUE",
            Z.ZoneUpdate(zone=measure("ROZ-KHASHAM", polygon(BOW_TIE))),
            "zone_update.zone.geometry.polygon: self-intersecting polygon",
        ),
        (
            "RED",
            counter(polygon(BOW_TIE)),
            "zone_decision.counter_proposal.geometry.polygon: self-intersecting polygon",
        ),
        (
            "RED",
            strike_notice(polygon(BOW_TIE)),
            "activity_notice.area.polygon: self-intersecting polygon",
        ),
        (
            "RED",
            report(unit("FENCER-11", KHASHAM, speed_mps=5000.0)),
            "position_report.positions[0].speed_mps: 5000.0 is not in [0, 3000]",
        ),
    ],
    ids=[
        "bow-tie",
        "around-the-pole",
        "past-85-degrees",
        "too-large",
        "update",
        "counter-proposal",
        "notice-area",
        "speed",
    ],
)
@pytest.mark.parametrize("checks", [True, False], ids=["checks-on", "checks-off"])
async def test_geometry_the_engine_cannot_handle_is_refused_naming_the_field(
    tmp_path: Path,
    checks: bool,
    party: str,
    body: Z.ZoneProposal | Z.ZoneUpdate | Z.ZoneDecision | messages_pb2.ActivityNotice,
    names: str,
) -> None:
    """Whether or not the deconfliction checks run (``--no-deconfliction``): what is
    recorded must be what they could read, should they run on the log later."""
    async with (
        running_server(tmp_path / "data", deconfliction=checks) as server,
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as red,
        server.control() as control,
    ):
        original = measure("ROZ-KHASHAM", polygon(EAST_OF_THE_RIVER))
        await blue.send(Z.ZoneProposal(zone=original))
        await expect(red, zone_status("ROZ-KHASHAM", Z.ZONE_STATE_PROPOSED))
        station = blue if party == "BLUE" else red
        with pytest.raises(Refused) as refused:
            await station.send(body)
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert names in refused.value.detail

        # Nothing of the refused message took effect.
        zones = await control.zones()
        assert [(z.zone_id, z.version, z.state) for z in zones] == [
            ("ROZ-KHASHAM", 1, Z.ZONE_STATE_PROPOSED)
        ]
        assert zones[0].geometry == original.geometry


# ---------------------------------------------------------------------- restart


async def test_the_picture_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    roz = measure("ROZ-KHASHAM", polygon(EAST_OF_THE_RIVER))
    async with (
        running_server(data) as server,
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as red,
    ):
        await agree(blue, red, roz)
        # FENCER-11 is inside the ROZ when the server stops.
        await red.send(report(unit("FENCER-11", KHASHAM, altitude_m=5000.0)))
        await expect(blue, is_alert(A.ALERT_KIND_ZONE_INCURSION))

    async with (
        running_server(data) as server,
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as red,
    ):
        # Still inside: the incursion is known already and not raised again. A second
        # aircraft enters the zone agreed before the restart; then the first leaves.
        await red.send(report(unit("FENCER-11", (35.30, 40.30), altitude_m=5000.0)))
        await red.send(report(unit("FENCER-12", (35.35, 40.40), altitude_m=4000.0)))
        await red.send(report(unit("FENCER-11", (35.30, 40.60), altitude_m=5000.0)))
        for station in (blue, red):
            seen: list[Envelope] = []
            cleared = await expect(
                station, is_alert(A.ALERT_KIND_ZONE_INCURSION_CLEARED), seen=seen
            )
            assert cleared.alert.unit_ids == ["FENCER-11"]
            (entered,) = alerts(seen, A.ALERT_KIND_ZONE_INCURSION)
            assert entered.unit_ids == ["FENCER-12"]
            assert entered.zone_ids == ["ROZ-KHASHAM"]


CRASH_EXERCISE = """
[exercise]
id = "crash-checks"
name = "Checks across a crash"

[[parties]]
id = "BLUE"

[[parties]]
id = "RED"
"""


def process_harness(process: ServerProcess, data: Path, exercise_file: Path) -> Harness:
    exercise = load_exercise(exercise_file)
    authority = TokenAuthority(load_or_create_secret(data / "token.key"), exercise)
    return Harness(process.address, data, exercise, authority)


def recorded_alerts(data: Path) -> list[tuple[int, A.Alert]]:
    """Every deconfliction alert in the log, with its index, read from the file."""
    backend = open_backend(str(data / "hotline.sqlite"))
    try:
        found = []
        for stored in backend.read():
            record = log_pb2.LogRecord.FromString(stored.data)
            alert = record.envelope.alert
            if record.envelope.HasField("alert") and alert.kind in DECONFLICTION_ALERTS:
                found.append((stored.index, alert))
        return found
    finally:
        backend.close()


async def test_an_alert_a_crash_kept_from_being_recorded_is_raised_at_restart(
    tmp_path: Path,
) -> None:
    """A server killed after recording a report but before recording the alert it
    raises: the restarted server raises that alert, late, once."""
    data = tmp_path / "data"
    exercise_file = tmp_path / "exercise.toml"
    exercise_file.write_text(CRASH_EXERCISE)
    # With the checks off, the report is recorded and no alert can be: the log then
    # ends as if the server had died in between.
    unchecked = ServerProcess(data, exercise_file, options=["--no-deconfliction"])
    unchecked.start()
    server = process_harness(unchecked, data, exercise_file)
    async with server.station("BLUE", AIR) as blue, server.station("RED", AIR) as red:
        await agree(blue, red, measure("ROZ-KHASHAM", polygon(EAST_OF_THE_RIVER)))
        inside = await red.send(report(unit("FENCER-11", KHASHAM, altitude_m=5000.0)))
        await expect(blue, lambda e: e.message_id == inside.message_id)
    unchecked.kill()
    assert recorded_alerts(data) == []

    exercise = load_exercise(exercise_file)
    async with running_server(data, exercise) as restarted, restarted.control() as control:
        async for record in control.watch(resume_after_index=0):
            if record.envelope.alert.kind in DECONFLICTION_ALERTS:
                break
        late = record.envelope.alert
        assert late.kind == A.ALERT_KIND_ZONE_INCURSION
        assert late.message_id == inside.message_id
        assert late.unit_ids == ["FENCER-11"]
        assert sorted(record.envelope.audience) == ["BLUE", "RED"]
        # Raised by this run, after its start.
        assert record.index > inside.sequence
    # A later start finds it recorded: it is not raised again.
    async with running_server(data, exercise):
        pass
    assert [alert.kind for _, alert in recorded_alerts(data)] == [A.ALERT_KIND_ZONE_INCURSION]


async def test_an_alert_recorded_before_a_crash_is_not_raised_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    exercise_file = tmp_path / "exercise.toml"
    exercise_file.write_text(CRASH_EXERCISE)
    checked = ServerProcess(data, exercise_file)
    checked.start()
    server = process_harness(checked, data, exercise_file)
    async with server.station("BLUE", AIR) as blue, server.station("RED", AIR) as red:
        await agree(blue, red, measure("ROZ-KHASHAM", polygon(EAST_OF_THE_RIVER)))
        await red.send(report(unit("FENCER-11", KHASHAM, altitude_m=5000.0)))
        await expect(blue, is_alert(A.ALERT_KIND_ZONE_INCURSION))
    checked.kill()

    exercise = load_exercise(exercise_file)
    async with (
        running_server(data, exercise) as restarted,
        restarted.station("BLUE", AIR) as blue,
        restarted.station("RED", AIR) as red,
    ):
        # The picture came back: leaving the zone clears the incursion.
        await red.send(report(unit("FENCER-11", (35.30, 40.60), altitude_m=5000.0)))
        await expect(blue, is_alert(A.ALERT_KIND_ZONE_INCURSION_CLEARED))
    assert [alert.kind for _, alert in recorded_alerts(data)] == [
        A.ALERT_KIND_ZONE_INCURSION,
        A.ALERT_KIND_ZONE_INCURSION_CLEARED,
    ]
