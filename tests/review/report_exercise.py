"""A short exercise recorded through a real server, for the after-action report tests.

Deadlines are harness.SHORT (RECEIPT 0.5 s, response 1.5 s). Every station reads its
deliveries as they come (so its RECEIPTs go out at once, as a console's do) and answers
only when the scenario says so:

- two strike notices answered with WILCO in time;
- a message RED answers only after ACK_OVERDUE was raised (late);
- a message RED never answers on AIR_OPERATIONS: ACK_OVERDUE, then ESCALATED and re-sent
  on GENERALS, where RED's generals answer WILCO (relayed to BLUE);
- a ROZ east of the Euphrates, proposed by BLUE and accepted by RED; a RED aircraft flies
  through it (ZONE_INCURSION, then ZONE_INCURSION_CLEARED);
- a BLUE and a RED aircraft 3.6 km apart west of the river (SEPARATION_BREACH);
- a trainer's note during the exercise and one about the escalated message;
- a last message sent just before the server stops (still awaiting its answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from server.deconfliction.scenario import polygon

from hotline.client import HotlineClient, StationClient
from hotline.contract import timestamp
from hotline.server.exercise import default_exercise
from hotline.testing.harness import AIR, GENERALS, SHORT, running_server
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
ROZ = "ROZ-KHASHAM"
LIVE_NOTE = "RED took the strike notices at once; the third went to the generals"
LATE_NOTE = "Deir Ezzor again: the duty officer was away from the line"
BOOKMARK = "escalation-1"


@dataclass(frozen=True)
class Recorded:
    """What the test knows about the exercise it recorded."""

    data_dir: Path
    answered: tuple[str, ...]
    late: str
    escalated: str
    last: str
    zone_proposal: str


class Inbox:
    """Reads a station's deliveries as they come (sending each RECEIPT), and finds
    those the test waits for."""

    def __init__(self, station: StationClient) -> None:
        self.station = station
        self.seen: list[Envelope] = []
        self._arrived = asyncio.Event()

    async def read(self) -> None:
        async for delivery in self.station.deliveries():
            self.seen.append(delivery)
            self._arrived.set()

    async def wait_for(
        self, predicate: Callable[[Envelope], bool], within: float = 20.0
    ) -> Envelope:
        async with asyncio.timeout(within):
            while True:
                self._arrived.clear()
                for delivery in self.seen:
                    if predicate(delivery):
                        return delivery
                await self._arrived.wait()


def is_message(message_id: str) -> Callable[[Envelope], bool]:
    return lambda e: e.message_id == message_id


def is_alert(kind: int, message_id: str = "") -> Callable[[Envelope], bool]:
    return lambda e: (
        e.WhichOneof("body") == "alert"
        and e.alert.kind == kind
        and (not message_id or e.alert.message_id == message_id)
    )


def is_answer(message_id: str, kind: int) -> Callable[[Envelope], bool]:
    return lambda e: (
        e.WhichOneof("body") == "acknowledgment"
        and e.acknowledgment.message_id == message_id
        and e.acknowledgment.kind == kind
    )


def zone_in(state: int) -> Callable[[Envelope], bool]:
    return lambda e: (
        e.WhichOneof("body") == "zone_status"
        and e.zone_status.zone.zone_id == ROZ
        and e.zone_status.zone.state == state
    )


def aircraft(
    unit_id: str, at: tuple[float, float], altitude_m: float
) -> positions_pb2.PositionReport:
    return positions_pb2.PositionReport(
        positions=[
            positions_pb2.UnitPosition(
                unit_id=unit_id,
                callsign=unit_id,
                domain=common_pb2.DOMAIN_AIR,
                latitude=at[0],
                longitude=at[1],
                altitude_m=altitude_m,
                course_deg=90.0,
                speed_mps=0.0,
                observed_at=timestamp(),
                accuracy_m=15.0,
            )
        ]
    )


def roz() -> Z.Zone:
    zone = Z.Zone(zone_id=ROZ, name="ROZ Khasham", kind=Z.ZONE_KIND_RESTRICTED_OPERATIONS_ZONE)
    zone.geometry.CopyFrom(polygon(EAST_OF_THE_RIVER))
    zone.altitude.floor_m, zone.altitude.ceiling_m = 0.0, 9000.0
    now = time.time()
    zone.effective_from.CopyFrom(timestamp(now - 60))
    zone.effective_until.CopyFrom(timestamp(now + 3600))
    return zone


@contextlib.asynccontextmanager
async def reading(*stations: StationClient) -> AsyncIterator[list[Inbox]]:
    inboxes = [Inbox(s) for s in stations]
    async with asyncio.TaskGroup() as tasks:
        readers = [tasks.create_task(i.read()) for i in inboxes]
        try:
            yield inboxes
        finally:
            for reader in readers:
                reader.cancel()


async def index_of(control: HotlineClient, message_id: str) -> int:
    """The log index of a message's record, as exercise control sees it."""
    async with asyncio.timeout(20):
        async for record in control.watch(resume_after_index=0):
            if record.kind == log_pb2.RECORD_KIND_ENVELOPE and record.correlation_id == message_id:
                return record.index
    raise AssertionError(f"{message_id} is not in the log")


async def record_exercise(data_dir: Path) -> Recorded:
    text = messages_pb2.TextMessage
    immediate = common_pb2.PRIORITY_IMMEDIATE
    async with (
        running_server(data_dir, default_exercise(SHORT)) as server,
        server.station("BLUE", AIR) as blue_station,
        server.station("RED", AIR) as red_station,
        server.station("RED", GENERALS) as red_generals_station,
        server.control() as control,
        reading(blue_station, red_station, red_generals_station) as (blue, red, red_generals),
    ):
        answered = []
        for n in (1, 2):
            sent = await blue_station.send(text(text=f"Strike at grid 37S DV {n}"), immediate)
            delivery = await red.wait_for(is_message(sent.message_id))
            await red_station.acknowledge(delivery, A.ACK_KIND_WILCO)
            await blue.wait_for(is_answer(sent.message_id, A.ACK_KIND_WILCO))
            answered.append(sent.message_id)

        # The ROZ: proposed by BLUE, acknowledged and accepted by RED.
        proposal = await blue_station.send(Z.ZoneProposal(zone=roz()), immediate)
        delivery = await red.wait_for(is_message(proposal.message_id))
        await red_station.acknowledge(delivery, A.ACK_KIND_ROGER)
        await red_station.send(
            Z.ZoneDecision(zone_id=ROZ, version=1, decision=Z.ZONE_DECISION_KIND_ACCEPT)
        )
        await blue.wait_for(zone_in(Z.ZONE_STATE_ACCEPTED))

        # A late answer: RED answers only once ACK_OVERDUE has been raised.
        late = await blue_station.send(text(text="Confirm your aircraft left Tabqa"), immediate)
        delivery = await red.wait_for(is_message(late.message_id))
        await blue.wait_for(is_alert(A.ALERT_KIND_ACK_OVERDUE, late.message_id))
        await red_station.acknowledge(delivery, A.ACK_KIND_ROGER)
        await blue.wait_for(is_answer(late.message_id, A.ACK_KIND_ROGER))

        # Never answered on AIR_OPERATIONS: escalated, answered by RED's generals.
        escalated = await blue_station.send(
            text(text="Strike on the Conoco gas field in 10 min, clear your people"), immediate
        )
        await blue.wait_for(is_alert(A.ALERT_KIND_ESCALATED, escalated.message_id))
        copy = await red_generals.wait_for(lambda e: e.escalation_of == escalated.message_id)
        await red_generals_station.acknowledge(copy, A.ACK_KIND_WILCO)
        await blue.wait_for(is_answer(escalated.message_id, A.ACK_KIND_WILCO))

        # A RED Su-34 through BLUE's ROZ at 5,000 m, and out.
        for lon in (40.10, 40.22, 40.30, 40.55):
            await red_station.send(aircraft("FENCER-11", (35.30, lon), 5000.0))
        await blue.wait_for(is_alert(A.ALERT_KIND_ZONE_INCURSION_CLEARED))

        # Two aircraft 3.6 km apart west of the river, 100 m apart vertically.
        await blue_station.send(aircraft("VIPER-31", (35.35, 39.85), 7000.0))
        await red_station.send(aircraft("FENCER-41", (35.35, 39.89), 7100.0))
        await blue.wait_for(is_alert(A.ALERT_KIND_SEPARATION_BREACH))

        await control.annotate(LIVE_NOTE)
        await control.annotate(
            LATE_NOTE,
            BOOKMARK,
            about_index=await index_of(control, escalated.message_id),
        )
        last = await blue_station.send(
            text(text="Request you confirm the line is clear"), common_pb2.PRIORITY_ROUTINE
        )
    return Recorded(
        data_dir,
        tuple(answered),
        late.message_id,
        escalated.message_id,
        last.message_id,
        proposal.message_id,
    )
