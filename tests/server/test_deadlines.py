"""One timer for every pending deadline."""

from __future__ import annotations

import asyncio

from hotline.server.deadlines import DeadlineTimer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_due_deadlines_fire_in_order_and_cancelled_ones_never() -> None:
    clock = FakeClock()
    fired: list[tuple[str, float]] = []
    both = asyncio.Event()

    def on_due(key: str, due: float) -> None:
        fired.append((key, due))
        if len(fired) == 2:
            both.set()

    timer: DeadlineTimer[str] = DeadlineTimer(on_due, clock)
    timer.schedule("late", 1005.0)
    timer.schedule("early", 1001.0)
    timer.schedule("cancelled", 1002.0)
    timer.schedule("moved", 1003.0)
    timer.schedule("moved", 1500.0)
    assert timer.cancel("cancelled")
    assert not timer.cancel("cancelled")
    clock.now = 1010.0  # e.g. after a restart: everything overdue fires at once
    async with asyncio.TaskGroup() as tasks:
        running = tasks.create_task(timer.run())
        async with asyncio.timeout(5):
            await both.wait()
        running.cancel()
    assert fired == [("early", 1001.0), ("late", 1005.0)]
    assert "moved" in timer
    assert len(timer) == 1


async def test_an_earlier_deadline_wakes_the_timer() -> None:
    fired = asyncio.Event()
    loop = asyncio.get_running_loop()
    timer: DeadlineTimer[str] = DeadlineTimer(lambda k, due: fired.set(), loop.time)
    timer.schedule("far", loop.time() + 3600)
    async with asyncio.TaskGroup() as tasks:
        running = tasks.create_task(timer.run())
        await asyncio.sleep(0)  # the timer is waiting for the far deadline
        timer.schedule("near", loop.time() + 0.01)
        async with asyncio.timeout(5):
            await fired.wait()
        running.cancel()


def test_holds_a_hundred_thousand_and_compacts_cancelled_entries() -> None:
    timer: DeadlineTimer[int] = DeadlineTimer(lambda k, due: None, FakeClock())
    for key in range(100_000):
        timer.schedule(key, 2000.0 + key)
    assert len(timer) == 100_000
    for key in range(0, 100_000, 2):
        timer.cancel(key)
    assert len(timer) == 50_000
    assert len(timer._heap) <= 2 * len(timer) + 1024
