"""Position feeds into the switchboard: ``hotline/<exercise>/ingest/<party>/positions``.

A payload is a ``hotline.v1.PositionReport`` (JSON mapping or binary). Its units are
sent as the party's station on the hotline of their domain (AIR on AIR_OPERATIONS,
GROUND and SEA on GROUND_COMMANDERS), through :meth:`Switchboard.submit`: the same
validation, deconfliction and refusal records as a gRPC send. The message id is derived
from the payload, so a QoS 1 redelivery is recorded once.

A message is acknowledged to the broker (PUBACK) only once everything it carried is
durable or refused, in the order messages arrived: a crash before that makes the broker
deliver it again. Payloads that cannot be read are counted, logged with the reason and
recorded as refused requests; nothing a publisher sends stops the bridge.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from hotline.contract import timestamp
from hotline.server.bridge.payloads import MalformedPayload, decode_position_report
from hotline.server.bridge.topics import TopicTree
from hotline.server.errors import InvalidArgument, PermissionDenied
from hotline.server.exercise import Hotline, hotline_name
from hotline.server.identity import Credential
from hotline.server.switchboard import Switchboard
from hotline.v1 import common_pb2, envelope_pb2, positions_pb2, services_pb2

log = logging.getLogger(__name__)

METHOD = "MqttIngest"
_DOMAIN_HOTLINE: dict[int, Hotline] = {
    common_pb2.DOMAIN_AIR: common_pb2.HOTLINE_AIR_OPERATIONS,
    common_pb2.DOMAIN_GROUND: common_pb2.HOTLINE_GROUND_COMMANDERS,
    common_pb2.DOMAIN_SEA: common_pb2.HOTLINE_GROUND_COMMANDERS,
}


@dataclass
class InboundStats:
    #: Messages read from the broker.
    received: int = 0
    #: Envelopes the switchboard recorded (duplicates of recorded ones included).
    accepted: int = 0
    #: Envelopes the switchboard refused (validation, permission, state).
    refused: int = 0
    #: Payloads that could not be read, or came from a party the exercise lacks.
    malformed: int = 0


class _Pending:
    """One received message: acknowledged once its envelopes are all answered."""

    __slots__ = ("acknowledge", "outstanding")

    def __init__(self, acknowledge: Callable[[], None], outstanding: int) -> None:
        self.acknowledge = acknowledge
        self.outstanding = outstanding


class Ingest:
    def __init__(
        self,
        switchboard: Switchboard,
        topics: TopicTree,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._switchboard = switchboard
        self._exercise = switchboard.exercise
        self._topics = topics
        self._clock = clock
        self._order: deque[_Pending] = deque()
        self.stats = InboundStats()

    def new_session(self) -> None:
        """Forgets acknowledgments owed on a connection that is gone: the broker sends
        those messages again."""
        self._order.clear()

    def handle(self, topic: str, payload: bytes, acknowledge: Callable[[], None]) -> None:
        """Takes one message; ``acknowledge`` is called when it may be PUBACKed."""
        self.stats.received += 1
        pending = _Pending(acknowledge, 0)
        self._order.append(pending)
        try:
            party, report = self._read(topic, payload)
        except (PermissionDenied, InvalidArgument) as error:
            self.stats.malformed += 1
            log.warning("position feed refused: %s", error.message)
            party = self._topics.ingest_party(topic) or ""
            known = self._exercise.has_party(party)
            credential = _credential(party, common_pb2.HOTLINE_UNSPECIFIED) if known else None
            self._switchboard.record_refusal(credential, error, METHOD)
            self._settle()
            return
        groups = _by_hotline(report)
        pending.outstanding = len(groups)
        digest = hashlib.sha256(payload).hexdigest()[:40]
        for hotline, units in groups.items():
            credential = _credential(party, hotline)
            if self._exercise.station(party, hotline) is None:
                self._refuse_group(
                    pending,
                    credential,
                    PermissionDenied(
                        f"{topic}: {party} has no station on {hotline_name(hotline)} for "
                        f"these units"
                    ),
                )
                continue
            envelope = self._envelope(party, hotline, units, digest)
            self._switchboard.submit(credential, envelope, self._reply_to(pending, envelope))

    def _read(self, topic: str, payload: bytes) -> tuple[str, positions_pb2.PositionReport]:
        party = self._topics.ingest_party(topic)
        if party is None or not self._exercise.has_party(party):
            raise PermissionDenied(f"{topic}: no party of this exercise feeds this topic")
        try:
            return party, decode_position_report(payload)
        except MalformedPayload as error:
            raise InvalidArgument(f"{topic}: {error}") from None

    def _refuse_group(
        self, pending: _Pending, credential: Credential, error: PermissionDenied
    ) -> None:
        self.stats.refused += 1
        log.warning("position feed refused: %s", error.message)
        self._switchboard.record_refusal(credential, error, METHOD)
        pending.outstanding -= 1
        self._settle()

    def _envelope(
        self,
        party: str,
        hotline: Hotline,
        units: list[positions_pb2.UnitPosition],
        digest: str,
    ) -> envelope_pb2.Envelope:
        return envelope_pb2.Envelope(
            message_id=f"mqtt:{party}:{hotline_name(hotline)}:{digest}",
            sender=common_pb2.StationRef(party=party, hotline=hotline),
            hotline=hotline,
            priority=common_pb2.PRIORITY_ROUTINE,
            sent_at=timestamp(self._clock()),
            position_report=positions_pb2.PositionReport(positions=units),
        )

    def _reply_to(
        self, pending: _Pending, envelope: envelope_pb2.Envelope
    ) -> Callable[[services_pb2.SendResult], None]:
        def reply(result: services_pb2.SendResult) -> None:
            if result.code:
                self.stats.refused += 1
                log.warning(
                    "position feed %s/%s refused: %s",
                    envelope.sender.party,
                    hotline_name(envelope.hotline),
                    result.error,
                )
            else:
                self.stats.accepted += 1
            pending.outstanding -= 1
            self._settle()

        return reply

    def _settle(self) -> None:
        """Acknowledges, in arrival order, every message whose envelopes are answered."""
        order = self._order
        while order and order[0].outstanding <= 0:
            order.popleft().acknowledge()


@functools.cache
def _credential(party: str, hotline: Hotline) -> Credential:
    """The party's station on ``hotline``, as the feed acts for it."""
    return Credential(
        subject=f"mqtt:{party}", role=common_pb2.ROLE_PARTICIPANT, party=party, hotline=hotline
    )


def _by_hotline(
    report: positions_pb2.PositionReport,
) -> dict[Hotline, list[positions_pb2.UnitPosition]]:
    """Units grouped by the hotline of their domain; an unknown domain goes with the air
    units, where validation refuses it with the field named."""
    groups: dict[Hotline, list[positions_pb2.UnitPosition]] = {}
    for unit in report.positions:
        hotline = _DOMAIN_HOTLINE.get(unit.domain, common_pb2.HOTLINE_AIR_OPERATIONS)
        groups.setdefault(hotline, []).append(unit)
    return groups
