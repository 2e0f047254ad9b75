"""Watchers: exercise control and observers following hotlines read-only.

A watcher receives the log records of the hotlines it chose once they are durable.
Records are not written as each batch commits. The watchers are shared out between
``WATCH_SLOTS`` slots, and the slots take turns, one every tenth of the interval: at its
turn a slot's watchers are written everything they have not had yet, one framed run per
hotline filter, shared by the watchers of the slot with that filter. So:

* each watcher is written at most once per interval, whatever the traffic, and sees a
  record about one interval at most after it became durable;
* the writes to many watchers are spread across the interval instead of holding the
  event loop all together (a station's delivery never waits behind more than one slot);
* the interval is ``WATCH_INTERVAL_S``, longer only when there are so many watchers that
  writing to each that often would exceed ``WATCH_WRITES_PER_S`` altogether (200
  watchers: every 33 ms): what watching costs the server is bounded;
* after a quiet spell the first slot in line is written at once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import NamedTuple

from hotline.server import wire
from hotline.server.consoles import Console, Delivery
from hotline.server.exercise import Hotline
from hotline.server.identity import Credential
from hotline.server.storage import StoredRecord

#: Each watcher is written at most this often.
WATCH_INTERVAL_S = 0.02
#: Stream messages a second to all watchers together, at most.
WATCH_WRITES_PER_S = 6_000
#: The slots that take turns within an interval.
WATCH_SLOTS = 10

Reader = Callable[[int, int], Awaitable[list[StoredRecord]]]


class _Framed(NamedTuple):
    """A committed record, framed once for every watcher it goes to."""

    log_index: int
    hotline: int
    item: bytes


@dataclass(slots=True)
class _Slot:
    """Watchers written at the same turn, and the first index not yet written to them."""

    members: dict[Console, frozenset[Hotline]] = field(default_factory=dict)
    cursor: int = 0
    # When its last turn was due.
    written_at: float = float("-inf")


class Watchers:
    """The open watch streams, and the records they are still to be written."""

    def __init__(
        self,
        read: Reader,
        interval: float = WATCH_INTERVAL_S,
        *,
        writes_per_s: float = WATCH_WRITES_PER_S,
        slots: int = WATCH_SLOTS,
    ) -> None:
        self._read = read
        self._interval = interval
        self._writes_per_s = writes_per_s
        self._slots = [_Slot() for _ in range(slots)]
        self._slot_of: dict[Console, _Slot] = {}
        # Committed records that some slot has still to be written, in log order.
        self._buffer: deque[_Framed] = deque()
        # The first index not yet committed: everything before it is durable.
        self._next = 0
        # Watchers that asked to start after a record not yet written: where they start.
        self._starts: dict[Console, int] = {}
        self._timer: asyncio.Handle | None = None
        # The slot whose turn is next, and when that turn is (or was) due.
        self._turn = 0
        self._due = float("-inf")

    def __iter__(self) -> Iterator[Console]:
        return iter(list(self._slot_of))

    @property
    def interval(self) -> float:
        """How often each watcher is written at most, for the watchers there are now."""
        return max(self._interval, len(self._slot_of) / self._writes_per_s)

    def begin(self, next_index: int) -> None:
        """Records from ``next_index`` on are the live ones (what came before is read
        from the log by the watchers that ask for it)."""
        self._next = next_index

    def open(self, credential: Credential, hotlines: Iterable[Hotline], peer: str) -> Console:
        console = Console(credential, uuid.uuid4().hex, peer, frame=wire.watch_response)
        slot = min(self._slots, key=lambda s: len(s.members))
        if not slot.members:
            slot.cursor = self._next
        slot.members[console] = frozenset(hotlines)
        self._slot_of[console] = slot
        return console

    def close(self, console: Console) -> None:
        console.close("watch ended")
        slot = self._slot_of.pop(console, None)
        if slot is not None:
            del slot.members[console]
            self._trim()
        self._starts.pop(console, None)

    async def catch_up(self, console: Console, after_index: int) -> None:
        """Sends ``console`` the stored records after ``after_index``, then the live ones,
        with no gap and no duplicate."""
        slot = self._slot_of.get(console)
        if slot is None:
            return
        console.hold()
        # Records before ``end`` were written to the slot before this watcher came; from
        # ``end`` on they reach it live (held meanwhile).
        end = slot.cursor
        if after_index >= end:
            self._starts[console] = after_index + 1
        hotlines = slot.members[console]
        stored = await self._read(after_index + 1, end) if after_index + 1 < end else []
        console.release(
            Delivery.of(s.index, False, s.data) for s in stored if _on(hotlines, s.hotline)
        )

    def committed(self, batch: list[StoredRecord]) -> None:
        """Takes a batch of records that just became durable (in log order)."""
        self._next = batch[-1].index + 1
        if not self._slot_of:
            return
        self._buffer.extend(_Framed(s.index, s.hotline, wire.item(s.data)) for s in batch)
        if self._timer is None:
            self._schedule(asyncio.get_running_loop().time())

    def stop(self) -> None:
        """Writes nothing more (the server is stopping)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _take_turn(self) -> None:
        """Writes the next slot with records to be written (unless it had them less than
        an interval ago), then schedules the next turn."""
        self._timer = None
        waiting = self._waiting()
        if waiting:
            turns, slot = waiting[0]
            if slot.written_at + self.interval <= self._due:
                slot.written_at = self._due
                self._write(slot)
                self._trim()
                self._turn = (self._turn + turns + 1) % len(self._slots)
        # A turn that ran late does not push the next ones back: they catch up, by a
        # step at most, so that each watcher keeps its interval.
        self._schedule(asyncio.get_running_loop().time(), catch_up=True)

    def _schedule(self, now: float, *, catch_up: bool = False) -> None:
        """Schedules the turn of the next slot with records still to be written, if any:
        a step after the last turn, an interval after that slot's last turn, and not in
        the past (unless catching up with the cadence, by a step at most)."""
        waiting = self._waiting()
        if not waiting:
            return
        turns, slot = waiting[0]
        interval = self.interval
        step = interval / len(self._slots)
        earliest = now - step if catch_up else now
        self._due = max(self._due + step * (1 + turns), earliest, slot.written_at + interval)
        self._timer = asyncio.get_running_loop().call_at(self._due, self._take_turn)

    def _waiting(self) -> list[tuple[int, _Slot]]:
        """The slots with records still to be written to their watchers, in turn order,
        each with how many turns from now."""
        count = len(self._slots)
        turns = ((i, self._slots[(self._turn + i) % count]) for i in range(count))
        return [(i, slot) for i, slot in turns if slot.members and slot.cursor < self._next]

    def _write(self, slot: _Slot) -> None:
        """Writes ``slot``'s watchers what they have not had yet (a slot that is
        waiting): one framed run per hotline filter, shared."""
        pending = list(islice(self._buffer, slot.cursor - self._buffer[0].log_index, None))
        slot.cursor = self._next
        runs: dict[frozenset[Hotline], Delivery | None] = {}
        for console, hotlines in slot.members.items():
            start = self._starts.get(console)
            if start is not None:
                if start <= pending[0].log_index:
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

    def _trim(self) -> None:
        """Drops the records every slot has been written."""
        oldest = min((s.cursor for s in self._slots if s.members), default=self._next)
        buffer = self._buffer
        while buffer and buffer[0].log_index < oldest:
            buffer.popleft()


def _run(records: list[_Framed], hotlines: frozenset[Hotline], start: int = 0) -> Delivery | None:
    """The records on ``hotlines`` (all if empty) from index ``start``, framed as one."""
    chosen = [r for r in records if r.log_index >= start and _on(hotlines, r.hotline)]
    if not chosen:
        return None
    return Delivery(chosen[-1].log_index, False, b"".join(r.item for r in chosen))


def _on(hotlines: frozenset[Hotline], hotline: int) -> bool:
    """Whether a watcher of ``hotlines`` (every hotline if empty) gets a record of
    ``hotline``."""
    return not hotlines or hotline in hotlines
