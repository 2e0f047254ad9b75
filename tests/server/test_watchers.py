"""Watchers take turns: every record once and in order, each watcher written at most once
per interval, the interval bounded by the number of watchers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from hotline.server.consoles import Console, ConsoleClosed
from hotline.server.exercise import Hotline
from hotline.server.identity import Credential
from hotline.server.storage import StoredRecord
from hotline.server.watchers import Watchers
from hotline.v1 import common_pb2, log_pb2, services_pb2

AIR = common_pb2.HOTLINE_AIR_OPERATIONS
GROUND = common_pb2.HOTLINE_GROUND_COMMANDERS
OBSERVER = Credential("observer", common_pb2.ROLE_OBSERVER)


def record(index: int, hotline: Hotline) -> StoredRecord:
    data = log_pb2.LogRecord(index=index, hotline=hotline).SerializeToString()
    return StoredRecord(index, log_pb2.RECORD_KIND_ENVELOPE, hotline, index, data)


class Screen:
    """What one watcher's stream shows: the indices of every message it was written."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.messages: list[list[int]] = []
        self.arrived = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConsoleClosed):
            while True:
                for data in await self.console.next_responses():
                    response = services_pb2.WatchResponse.FromString(data)
                    self.messages.append([r.index for r in response.records])
                    self.arrived.set()

    async def until(self, last: int) -> None:
        """Waits for the record at index ``last`` (or one after it)."""
        while not self.messages or self.messages[-1][-1] < last:
            self.arrived.clear()
            await self.arrived.wait()

    @property
    def indices(self) -> list[int]:
        return [index for message in self.messages for index in message]

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def no_backlog(start: int, end: int) -> list[StoredRecord]:
    raise AssertionError("live watchers read nothing from the log")


@contextlib.asynccontextmanager
async def screens(watchers: Watchers, filters: list[list[Hotline]]) -> AsyncIterator[list[Screen]]:
    opened = [Screen(watchers.open(OBSERVER, hotlines, "test")) for hotlines in filters]
    try:
        yield opened
    finally:
        for screen in opened:
            watchers.close(screen.console)
            await screen.close()


async def test_under_traffic_watchers_get_their_records_once_in_order_once_per_interval() -> None:
    interval = 0.05
    watchers = Watchers(no_backlog, interval)
    watchers.begin(0)
    filters: list[list[Hotline]] = [[GROUND], [AIR], []] * 10
    async with screens(watchers, filters) as shown:
        loop = asyncio.get_running_loop()
        started = loop.time()
        count = 600
        for first in range(0, count, 2):
            watchers.committed([record(first, GROUND), record(first + 1, AIR)])
            await asyncio.sleep(0.001)
        async with asyncio.timeout(10):
            for screen in shown:
                await screen.until(count - 2)
        elapsed = loop.time() - started
    for screen, hotlines in zip(shown, filters, strict=True):
        wanted = [i for i in range(count) if not hotlines or (i % 2 == 0) == (GROUND in hotlines)]
        assert screen.indices == wanted
        # One message per interval at most (the first may come at once).
        assert len(screen.messages) <= elapsed / interval + 2


async def test_after_a_quiet_spell_a_record_reaches_a_watcher_at_once() -> None:
    # An interval far longer than the test may take: only "at once" can pass.
    watchers = Watchers(no_backlog, 30.0)
    watchers.begin(7)
    async with screens(watchers, [[]]) as (screen,):
        watchers.committed([record(7, AIR)])
        async with asyncio.timeout(5):
            await screen.arrived.wait()
        assert screen.messages == [[7]]
        # The next record waits for the watcher's next turn, an interval later.
        watchers.committed([record(8, AIR)])
        await asyncio.sleep(0.2)
        assert screen.messages == [[7]]


async def test_the_writes_of_many_watchers_are_spread_across_the_interval() -> None:
    watchers = Watchers(no_backlog, 0.5, slots=10)
    watchers.begin(0)
    async with screens(watchers, [[] for _ in range(20)]) as shown:
        watchers.committed([record(0, AIR)])
        async with asyncio.timeout(5):
            await shown[0].arrived.wait()
        # The first slot in line at once; the other nine a step (0.05 s) apart.
        await asyncio.sleep(0.02)
        assert sum(1 for s in shown if s.messages) == 2
        async with asyncio.timeout(5):
            for screen in shown:
                await screen.until(0)
        assert all(s.indices == [0] for s in shown)


async def test_many_watchers_lengthen_the_interval_to_bound_the_writes() -> None:
    watchers = Watchers(no_backlog, 0.02, writes_per_s=100)
    async with screens(watchers, [[] for _ in range(10)]):
        assert watchers.interval == 0.1
    async with screens(watchers, [[]]):
        assert watchers.interval == 0.02


async def test_a_watcher_resuming_from_an_index_reads_the_rest_from_the_log() -> None:
    stored = [record(i, GROUND if i % 2 else AIR) for i in range(10)]

    async def read(start: int, end: int) -> list[StoredRecord]:
        return stored[start:end]

    watchers = Watchers(read, 0.01)
    watchers.begin(0)
    async with screens(watchers, [[]]) as (early,):
        for s in stored[:6]:
            watchers.committed([s])
            await asyncio.sleep(0.003)
        async with screens(watchers, [[GROUND]]) as (late,):
            await watchers.catch_up(late.console, 2)
            for s in stored[6:]:
                watchers.committed([s])
            async with asyncio.timeout(5):
                await early.until(9)
                await late.until(9)
        assert early.indices == list(range(10))
        assert late.indices == [3, 5, 7, 9]
