"""Zones travel as proposals and decisions; their lifecycle and versions are enforced."""

from __future__ import annotations

import time

import grpc
import pytest

from hotline.client import Refused
from hotline.testing.harness import GROUND, Harness, expect
from hotline.v1 import common_pb2, zones_pb2

Z = zones_pb2


def euphrates_line_zone(zone_id: str = "AO-EAST") -> zones_pb2.Zone:
    zone = Z.Zone(
        zone_id=zone_id,
        name="East of the Euphrates",
        kind=Z.ZONE_KIND_AREA_OF_OPERATIONS,
        geometry=Z.Geometry(
            polygon=Z.Polygon(
                vertices=[
                    common_pb2.LatLon(latitude=35.95, longitude=39.01),
                    common_pb2.LatLon(latitude=35.336, longitude=40.141),
                    common_pb2.LatLon(latitude=35.02, longitude=40.45),
                    common_pb2.LatLon(latitude=35.5, longitude=40.9),
                ]
            )
        ),
        altitude=Z.AltitudeBand(floor_m=0, ceiling_m=10000),
    )
    zone.effective_from.FromSeconds(int(time.time()) - 60)
    zone.effective_until.FromSeconds(int(time.time()) + 3600)
    return zone


def zone_status(state: int) -> object:
    return lambda e: e.WhichOneof("body") == "zone_status" and e.zone_status.zone.state == state


async def test_proposal_acceptance_update_and_withdrawal(server: Harness) -> None:
    async with (
        server.station("BLUE", GROUND) as blue,
        server.station("RED", GROUND) as red,
        server.control() as control,
    ):
        await blue.send(Z.ZoneProposal(zone=euphrates_line_zone()))
        proposed = await expect(red, zone_status(Z.ZONE_STATE_PROPOSED))  # type: ignore[arg-type]
        assert proposed.zone_status.zone.version == 1
        assert proposed.zone_status.zone.owner_party == "BLUE"

        # BLUE cannot accept its own proposal.
        with pytest.raises(Refused) as own:
            await blue.send(
                Z.ZoneDecision(zone_id="AO-EAST", version=1, decision=Z.ZONE_DECISION_KIND_ACCEPT)
            )
        assert own.value.code == grpc.StatusCode.FAILED_PRECONDITION

        await red.send(
            Z.ZoneDecision(zone_id="AO-EAST", version=1, decision=Z.ZONE_DECISION_KIND_ACCEPT)
        )
        await expect(blue, zone_status(Z.ZONE_STATE_ACCEPTED))  # type: ignore[arg-type]
        zones = await control.zones([Z.ZONE_STATE_ACTIVE])
        assert [z.zone_id for z in zones] == ["AO-EAST"]

        # Deciding again on the decided version is refused.
        with pytest.raises(Refused) as again:
            await red.send(
                Z.ZoneDecision(
                    zone_id="AO-EAST", version=1, decision=Z.ZONE_DECISION_KIND_REJECT, reason="no"
                )
            )
        assert again.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "already decided" in again.value.detail

        # An update is version 2, proposed again; a counter proposal makes version 3.
        smaller = euphrates_line_zone()
        smaller.altitude.ceiling_m = 5000
        await blue.send(Z.ZoneUpdate(zone=smaller))
        await expect(red, zone_status(Z.ZONE_STATE_PROPOSED))  # type: ignore[arg-type]
        counter = euphrates_line_zone()
        counter.altitude.ceiling_m = 3000
        await red.send(
            Z.ZoneDecision(
                zone_id="AO-EAST",
                version=2,
                decision=Z.ZONE_DECISION_KIND_COUNTER,
                counter_proposal=counter,
            )
        )
        current = await control.zone("AO-EAST")
        assert current.zone.version == 3
        assert current.zone.proposed_by == "RED"
        assert current.zone.owner_party == "BLUE"
        assert [(z.version, z.state) for z in current.history] == [
            (1, Z.ZONE_STATE_PROPOSED),
            (1, Z.ZONE_STATE_ACCEPTED),
            (2, Z.ZONE_STATE_PROPOSED),
            (2, Z.ZONE_STATE_REJECTED),
            (3, Z.ZONE_STATE_PROPOSED),
        ]

        await blue.send(Z.ZoneWithdrawal(zone_id="AO-EAST", reason="moved on"))
        final = await control.zone("AO-EAST")
        assert final.zone.state == Z.ZONE_STATE_WITHDRAWN


async def test_deciding_on_an_unknown_zone_is_a_failed_precondition(server: Harness) -> None:
    async with server.station("RED", GROUND) as red:
        with pytest.raises(Refused) as unknown:
            await red.send(
                Z.ZoneDecision(zone_id="NOPE", version=1, decision=Z.ZONE_DECISION_KIND_ACCEPT)
            )
        assert unknown.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "no zone 'NOPE'" in unknown.value.detail


@pytest.mark.parametrize(
    ("mutate", "names"),
    [
        (lambda z: setattr(z.altitude, "floor_m", 20000), "floor"),
        (lambda z: z.effective_until.FromSeconds(0), "effective_until"),
        (lambda z: z.geometry.polygon.vertices[0].__setattr__("latitude", 91.0), "latitude"),
        (
            lambda z: z.geometry.circle.CopyFrom(
                Z.Circle(center=common_pb2.LatLon(latitude=35.3, longitude=40.1), radius_m=-1)
            ),
            "radius_m",
        ),
    ],
)
async def test_invalid_zones_are_refused(server: Harness, mutate: object, names: str) -> None:
    async with server.station("BLUE", GROUND) as blue:
        zone = euphrates_line_zone()
        mutate(zone)  # type: ignore[operator]
        with pytest.raises(Refused) as bad:
            await blue.send(Z.ZoneProposal(zone=zone))
        assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert names in bad.value.detail
