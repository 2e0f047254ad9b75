"""One timer for every pending deadline.

Deadlines sit in a heap keyed by due time; a single task sleeps until the earliest one
falls due (or until an earlier one is added) and hands every due key to one callback.
Cancelling is O(1): the key leaves the live table and its heap entry is skipped when it
surfaces. This holds hundreds of thousands of deadlines without a task per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)


class DeadlineTimer(Generic[Key]):
    """Calls ``on_due(key, due)`` in the event loop once each scheduled key falls due.

    ``clock`` gives the time in the same scale as the due times (UNIX seconds by
    default), so a recovered deadline that fell due while the server was down fires at
    once.
    """

    def __init__(self, on_due: Callable[[Key, float], None], clock: Callable[[], float]) -> None:
        self._on_due = on_due
        self._clock = clock
        self._heap: list[tuple[float, int, Key]] = []
        self._live: dict[Key, tuple[float, int]] = {}
        self._counter = itertools.count()
        self._wakeup = asyncio.Event()

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def schedule(self, key: Key, due: float) -> None:
        """Sets (or moves) the deadline of ``key``."""
        ticket = next(self._counter)
        self._live[key] = (due, ticket)
        heapq.heappush(self._heap, (due, ticket, key))
        if self._heap[0][1] == ticket:
            self._wakeup.set()

    def cancel(self, key: Key) -> bool:
        """Drops the deadline of ``key``; False if it had none."""
        if self._live.pop(key, None) is None:
            return False
        if len(self._heap) > 2 * len(self._live) + 1024:
            # Cancelled entries would otherwise stay in the heap until they fall due.
            live = self._live
            self._heap = [e for e in self._heap if live.get(e[2]) == (e[0], e[1])]
            heapq.heapify(self._heap)
        return True

    def due_at(self, key: Key) -> float | None:
        entry = self._live.get(key)
        return entry[0] if entry else None

    def _pop_due(self, now: float) -> list[tuple[Key, float]]:
        due: list[tuple[Key, float]] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, ticket, key = heapq.heappop(heap)
            if self._live.get(key) == (when, ticket):
                del self._live[key]
                due.append((key, when))
        # Stale entries of cancelled keys would otherwise pile up at the top.
        while heap and self._live.get(heap[0][2]) != (heap[0][0], heap[0][1]):
            heapq.heappop(heap)
        return due

    def next_due(self) -> float | None:
        """When the earliest pending deadline falls due (None when none is pending)."""
        heap = self._heap
        while heap and self._live.get(heap[0][2]) != (heap[0][0], heap[0][1]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def fire_due(self) -> int:
        """Fires every deadline due by the clock now, earliest first; returns how many.
        :meth:`run` calls it; a test with a fake clock may call it directly."""
        due = self._pop_due(self._clock())
        for key, when in due:
            self._on_due(key, when)
        return len(due)

    async def run(self) -> None:
        """Fires deadlines until cancelled."""
        while True:
            self.fire_due()
            self._wakeup.clear()
            if not self._heap:
                await self._wakeup.wait()
                continue
            delay = max(0.0, self._heap[0][0] - self._clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=delay)
