"""Connected consoles: what each one still has to be sent.

A console is one open session stream: a station's primary or standby operator, or a
watcher from exercise control. Deliveries wait in two bounded queues, FLASH first, so
FLASH traffic overtakes anything queued behind it. A console that falls too far behind is
closed; its client resumes from its last sequence number and loses nothing, because
everything it missed is in the log.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hotline.server import wire
from hotline.server.errors import HotlineError, ResourceExhausted
from hotline.server.exercise import Hotline
from hotline.server.identity import Credential
from hotline.v1 import common_pb2, services_pb2

#: Deliveries a console may have queued before it is closed as too slow.
MAX_QUEUED = 50_000
#: Envelopes framed into one stream message, and their bytes at most.
BATCH_ENVELOPES = 512
BATCH_BYTES = 1 << 20


# Not frozen: one is made for every envelope delivered, and a frozen dataclass's __init__ costs
# several times a plain one's.
@dataclass(slots=True)
class Delivery:
    """One hotline envelope (or, for watchers, a run of log records), serialised and
    framed once (``wire.item``), ready for every console it goes to. ``sequence`` is the
    envelope's sequence number (for watchers: the index of the run's last record)."""

    sequence: int
    flash: bool
    data: bytes

    @classmethod
    def of(cls, sequence: int, flash: bool, payload: bytes) -> Delivery:
        return cls(sequence, flash, wire.item(payload))


class ConsoleClosed(Exception):
    """The console was closed; ``error`` is what to end the stream with (None when the
    station itself closed it)."""

    def __init__(self, reason: str, error: type[HotlineError] | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


class Console:
    """The outbound side of one station session (or of one watcher, whose deliveries are
    log records keyed by index, framed by ``frame``)."""

    def __init__(
        self,
        credential: Credential,
        session_id: str,
        peer: str,
        frame: Callable[[list[bytes]], bytes] = wire.deliveries_response,
    ) -> None:
        self.credential = credential
        self._frame = frame
        self.session_id = session_id
        self.peer = peer
        self.last_seen = 0.0
        self._flash: deque[Delivery] = deque()
        self._routine: deque[Delivery] = deque()
        self._results: list[services_pb2.SendResult] = []
        self._ready = asyncio.Event()
        self._closed: str | None = None
        self._close_error: type[HotlineError] | None = None
        # While the backlog of a resumed session is read from the log, live traffic waits.
        self._held: list[Delivery] | None = None
        # Deliveries up to this one came with the backlog (a watcher's start at index 0).
        self._floor = -1
        self._skip: frozenset[int] = frozenset()

    @property
    def party(self) -> str:
        return self.credential.party

    @property
    def hotline(self) -> Hotline:
        return self.credential.hotline

    @property
    def is_standby(self) -> bool:
        return self.credential.operator == common_pb2.OPERATOR_STANDBY

    @property
    def closed(self) -> str | None:
        return self._closed

    def hold(self) -> None:
        """Queues live traffic aside until :meth:`release`."""
        self._held = []

    def release(self, backlog: Iterable[Delivery], skip: Iterable[int] = ()) -> None:
        """Sends ``backlog`` (in order), then the live traffic held meanwhile, once each.

        ``skip`` lists sequence numbers the client already has.
        """
        held, self._held = self._held or [], None
        self._skip = frozenset(skip)
        for delivery in backlog:
            self.deliver(delivery)
            self._floor = max(self._floor, delivery.sequence)
        for delivery in held:
            self.deliver(delivery)

    def deliver(self, delivery: Delivery) -> None:
        if self._closed is not None:
            return
        if self._held is not None:
            self._held.append(delivery)
            return
        if delivery.sequence <= self._floor or delivery.sequence in self._skip:
            return
        (self._flash if delivery.flash else self._routine).append(delivery)
        if len(self._flash) + len(self._routine) > MAX_QUEUED:
            self.close(
                f"more than {MAX_QUEUED} deliveries queued; resume to catch up",
                ResourceExhausted,
            )
            return
        self._ready.set()

    def redeliver(self, delivery: Delivery) -> None:
        """Sends a delivery again even though the console has had it (a missed RECEIPT)."""
        if self._closed is None and self._held is None:
            (self._flash if delivery.flash else self._routine).append(delivery)
            self._ready.set()

    def post_result(self, result: services_pb2.SendResult) -> None:
        """Queues the outcome of an envelope this console sent."""
        if self._closed is None:
            self._results.append(result)
            self._ready.set()

    def close(self, reason: str, error: type[HotlineError] | None = None) -> None:
        """Closes the console; ``error`` is the status the stream ends with, if any."""
        if self._closed is None:
            self._closed = reason
            self._close_error = error
            self._ready.set()

    def ready_responses(self) -> list[bytes]:
        """The serialised ``SessionResponse`` messages ready now (results, then FLASH,
        then the rest), without waiting; empty when nothing is ready. Raises
        :class:`ConsoleClosed` once the console is closed."""
        if self._closed is not None:
            raise ConsoleClosed(self._closed, self._close_error)
        out: list[bytes] = []
        if self._results:
            results = services_pb2.SendResults(results=self._results)
            out.append(services_pb2.SessionResponse(results=results).SerializeToString())
            self._results = []
        # One batch at a time, so FLASH that arrives while it is written goes next.
        queue = self._flash or self._routine
        if queue:
            out.append(self._frame(_take_batch(queue)))
        return out

    async def next_responses(self) -> list[bytes]:
        """Waits for :meth:`ready_responses` to have something, and returns it."""
        while True:
            out = self.ready_responses()
            if out:
                return out
            self._ready.clear()
            await self._ready.wait()


def _take_batch(queue: deque[Delivery]) -> list[bytes]:
    batch: list[bytes] = []
    size = 0
    while queue and len(batch) < BATCH_ENVELOPES and size < BATCH_BYTES:
        data = queue.popleft().data
        batch.append(data)
        size += len(data)
    return batch
