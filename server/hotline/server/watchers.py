"""Watchers: exercise control and observers following hotlines read-only.

A watcher receives the log records of the hotlines it chose once they are durable.
Records are not written as each batch commits but collected and written to every watcher
together, at most every ``WATCH_INTERVAL_S``: one framed run per hotline filter, shared by
the watchers with that filter. What watching costs the server then grows with the number
of watchers, not with the traffic (200 watchers: at most 10,000 stream messages/s, at any
rate of traffic), and each watcher sees a record at most one interval after it became
durable.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator

from hotline.server import wire
from hotline.server.consoles import Console, Delivery
from hotline.server.exercise import Hotline
from hotline.server.identity import Credential
from hotline.server.storage import StoredRecord

#: Watchers are written together at most this often.
WATCH_INTERVAL_S = 0.02

Reader = Callable[[int, int], Awaitable[list[StoredRecord]]]


class Watchers:
    """The open watch streams, and the records they are still to be written."""

    def __init__(self, read: Reader, interval: float = WATCH_INTERVAL_S) -> None:
        self._read = read
        self._interval = interval
        self._filters: dict[Console, frozenset[Hotline]] = {}
        self._pending: list[StoredRecord] = []
        # Watchers that asked to start after a record not yet handed out: where they start.
        self._starts: dict[Console, int] = {}
        self._flush: asyncio.TimerHandle | None = None
        self._flushed_at = float("-inf")
        # The first index not yet handed to the watchers.
        self._handed = 0

    def __iter__(self) -> Iterator[Console]:
        return iter(list(self._filters))

    def begin(self, next_index: int) -> None:
        """Records from ``next_index`` on are the live ones (what came before is read
        from the log by the watchers that ask for it)."""
        self._handed = next_index

    def open(self, credential: Credential, hotlines: Iterable[Hotline], peer: str) -> Console:
        console = Console(credential, uuid.uuid4().hex, peer, frame=wire.watch_response)
        self._filters[console] = frozenset(hotlines)
        return console

    def close(self, console: Console) -> None:
        console.close("watch ended")
        self._filters.pop(console, None)
        self._starts.pop(console, None)

    async def catch_up(self, console: Console, after_index: int) -> None:
        """Sends ``console`` the stored records after ``after_index``, then the live ones,
        with no gap and no duplicate."""
        console.hold()
        # Records before ``end`` were handed out before this watcher came; from ``end`` on
        # they reach it live (held meanwhile).
        end = self._handed
        if after_index >= end:
            self._starts[console] = after_index + 1
        hotlines = self._filters.get(console, frozenset())
        stored = await self._read(after_index + 1, end) if after_index + 1 < end else []
        console.release(Delivery.of(s.index, False, s.data) for s in stored if _on(hotlines, s))

    def committed(self, batch: list[StoredRecord]) -> None:
        """Takes a batch of records that just became durable (in log order)."""
        if not self._filters and not self._pending:
            self._handed = batch[-1].index + 1
            return
        self._pending.extend(batch)
        if self._flush is None:
            # At once after a quiet spell; under traffic, an interval after the first
            # record that waits.
            loop = asyncio.get_running_loop()
            now = loop.time()
            delay = self._interval if now < self._flushed_at + self._interval else 0.0
            self._flush = loop.call_at(now + delay, self.flush)

    def flush(self) -> None:
        """Writes what is pending to every watcher: one framed run per hotline filter."""
        self._flush = None
        self._flushed_at = asyncio.get_running_loop().time()
        pending, self._pending = self._pending, []
        if not pending:
            return
        self._handed = pending[-1].index + 1
        runs: dict[frozenset[Hotline], Delivery | None] = {}
        for console, hotlines in self._filters.items():
            start = self._starts.get(console)
            if start is not None:
                if start <= pending[0].index:
                    del self._starts[console]
                else:
                    run = _run(pending, hotlines, start)
                    if run is not None:
                        console.deliver(run)
                    continue
            if hotlines not in runs:
                runs[hotlines] = _run(pending, hotlines)
            run = runs[hotlines]
            if run is not None:
                console.deliver(run)

    def stop(self) -> None:
        """Writes nothing more (the server is stopping)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None


def _run(
    records: list[StoredRecord], hotlines: frozenset[Hotline], start: int = 0
) -> Delivery | None:
    """The records on ``hotlines`` (all if empty) from index ``start``, framed as one."""
    chosen = [s for s in records if s.index >= start and _on(hotlines, s)]
    if not chosen:
        return None
    return Delivery(chosen[-1].index, False, b"".join(wire.item(s.data) for s in chosen))


def _on(hotlines: frozenset[Hotline], stored: StoredRecord) -> bool:
    """Whether a watcher of ``hotlines`` (every hotline if empty) gets the record."""
    return not hotlines or stored.hotline in hotlines
