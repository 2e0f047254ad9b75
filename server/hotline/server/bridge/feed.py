"""Committed records for the publisher: a bounded window of the newest, the log for
anything older.

The switchboard hands every committed batch to :meth:`RecordFeed.committed`, which only
appends to a bounded deque, so the path that delivers to stations never waits on the
broker. A publisher that falls further behind than the window reads from the log.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from hotline.server.storage import StoredRecord

#: Records kept in memory for a publisher that is (nearly) caught up.
DEFAULT_WINDOW = 16_384

ReadRange = Callable[[int, int], Awaitable[list[StoredRecord]]]


class RecordFeed:
    def __init__(self, read: ReadRange, durable: int, window: int = DEFAULT_WINDOW) -> None:
        """``durable``: the number of records already durable (all of them readable by
        ``read(start, end)``); later ones arrive through :meth:`committed`."""
        self._read = read
        self._end = durable
        self._recent: deque[StoredRecord] = deque(maxlen=window)
        self._arrived = asyncio.Event()

    @property
    def end(self) -> int:
        """One past the index of the newest durable record."""
        return self._end

    def committed(self, batch: list[StoredRecord]) -> None:
        """Takes a committed batch (the switchboard's listener); never blocks."""
        if batch:
            self._recent.extend(batch)
            self._end = batch[-1].index + 1
            self._arrived.set()

    async def take(self, start: int, limit: int) -> list[StoredRecord]:
        """Up to ``limit`` records from index ``start`` on, waiting until there is one."""
        while start >= self._end:
            self._arrived.clear()
            await self._arrived.wait()
        end = min(self._end, start + limit)
        recent = self._recent
        if recent and recent[0].index <= start:
            offset = start - recent[0].index
            # A deque is indexed from whichever end is nearer: cheap near the tail.
            return [recent[i] for i in range(offset, offset + end - start)]
        return await self._read(start, end)
