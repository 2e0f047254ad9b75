"""The operators of a simulated station: they answer what needs an answer, after their
delay, unless they are away; the standby answers what the server pages to it.

Each seat draws from its own random generator seeded with the scenario's seed and the
seat's name, so the same scenario, seed and time scale give the same answers.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

from hotline.cli.scenario.clock import ScenarioClock
from hotline.client import HotlineClientError, StationClient
from hotline.contract import needs_response
from hotline.server.scenario import Operator, Seat, SimulatedStation, Window
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2

log = logging.getLogger(__name__)

#: Starts a task owned by the run.
Spawn: TypeAlias = Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]


@dataclass
class StationAnswers:
    """What one simulated station has answered (both seats share it)."""

    answered: set[str] = field(default_factory=set)
    #: Every delivery by message id, for the standby's answer to a page.
    seen: dict[str, envelope_pb2.Envelope] = field(default_factory=dict)


class SeatOperator:
    """One seat of a simulated station, played by the operator model."""

    def __init__(
        self,
        simulated: SimulatedStation,
        seat: Seat,
        client: StationClient,
        clock: ScenarioClock,
        *,
        seed: int,
        ends_at: float,
        shared: StationAnswers,
        away: tuple[Window, ...] = (),
        on_answer: Callable[[str, str, float], None] | None = None,
        on_delivery: Callable[[envelope_pb2.Envelope], None] | None = None,
    ) -> None:
        model = simulated.primary if seat is Seat.PRIMARY else simulated.standby
        self.model: Operator = replace(model, absent=(*model.absent, *away))
        self.station = simulated.station
        self.seat = seat
        self.client = client
        self.clock = clock
        self.ends_at = ends_at
        self.shared = shared
        self.rng = random.Random(f"{seed}:{simulated.station}:{seat.value}")
        self.on_answer = on_answer
        self.on_delivery = on_delivery
        #: Clear while the seat's line is cut: answers wait for it.
        self.connected = asyncio.Event()
        self.connected.set()

    async def run(self, spawn: Spawn) -> None:
        """Reads the deliveries of the seat's current client and answers (each answer a
        task of ``spawn``'s, so that it outlives a cut line), until cancelled."""
        async for delivery in self.client.deliveries():
            if self.on_delivery is not None:
                self.on_delivery(delivery)
            message = self._to_answer(delivery)
            if message is not None:
                spawn(self._answer(message, self.clock.now()))

    def _to_answer(self, delivery: envelope_pb2.Envelope) -> envelope_pb2.Envelope | None:
        body = delivery.WhichOneof("body")
        if self.seat is Seat.PRIMARY:
            if needs_response(delivery) and delivery.sender.party != self.station.party:
                self.shared.seen[delivery.message_id] = delivery
                return delivery
            return None
        if needs_response(delivery):
            self.shared.seen.setdefault(delivery.message_id, delivery)
            return None
        if body != "alert":
            return None
        alert = delivery.alert
        paged = (
            alert.kind == acknowledgments_pb2.ALERT_KIND_ACK_OVERDUE
            and alert.paged_operator == common_pb2.OPERATOR_STANDBY
            and alert.station.party == self.station.party
            and alert.station.hotline == self.station.hotline
        )
        return self.shared.seen.get(alert.message_id) if paged else None

    async def _answer(self, message: envelope_pb2.Envelope, seen_at: float) -> None:
        if self.rng.random() >= self.model.probability:
            return
        answer = self.model.answer_to(message.WhichOneof("body") or "")
        at = self.model.back_at(seen_at) + self.model.delay.draw(self.rng)
        if at > self.ends_at:
            return
        await self.clock.until(at)
        # On a cut line the operator's answer goes once the line is back.
        await self.connected.wait()
        if message.message_id in self.shared.answered:
            return
        self.shared.answered.add(message.message_id)
        try:
            await self.client.acknowledge(message, answer.kind, answer.reason)
        except HotlineClientError as error:
            log.warning("%s %s could not answer %s: %s", self.station, self.seat.value,
                        message.message_id, error)  # fmt: skip
            return
        if self.on_answer is not None:
            kind = acknowledgments_pb2.AckKind.Name(answer.kind).removeprefix("ACK_KIND_")
            self.on_answer(f"{self.station} {self.seat.value}", kind, self.clock.now())
