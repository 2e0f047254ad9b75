"""The trainer's controls on the replay core, under a clock the test moves by hand.

The player runs in its own task, as in a terminal view or the gRPC service; the test
steers it with the controls and moves the clock. What it checks is what a trainer sees:
which records come out, at which (fake) time, and how long the player asked to wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from replay.test_player import EXERCISE, START, text

from hotline.server.errors import FailedPrecondition, NotFound
from hotline.server.replay import Bookmarks, InMemory, Played, Player, Selection
from hotline.server.replay.sources import Streamed
from hotline.server.storage import StoredRecord
from hotline.v1 import log_pb2

#: Long enough for a loaded machine; a passing test never waits for it.
PATIENCE_S = 10.0


@dataclass
class ManualClock:
    """Time moves only when the test advances it; each sleep the player asks for is
    reported in ``requests`` and ends when the clock reaches its end."""

    time: float = 1000.0
    requests: asyncio.Queue[float] = field(default_factory=asyncio.Queue)
    _sleepers: list[tuple[float, asyncio.Future[None]]] = field(default_factory=list)

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        waiter = asyncio.get_running_loop().create_future()
        entry = (self.time + seconds, waiter)
        self._sleepers.append(entry)
        self.requests.put_nowait(seconds)
        try:
            await waiter
        finally:
            self._sleepers.remove(entry)

    async def next_request(self) -> float:
        """The next wait the player asks for."""
        async with asyncio.timeout(PATIENCE_S):
            return await self.requests.get()

    def advance(self, seconds: float) -> None:
        self.time += seconds
        for until, waiter in self._sleepers:
            if until <= self.time + 1e-9 and not waiter.done():
                waiter.set_result(None)


@dataclass
class Screen:
    """What the trainer saw: each record with the clock reading when it came out."""

    clock: ManualClock
    shown: asyncio.Queue[tuple[Played, float]] = field(default_factory=asyncio.Queue)

    async def next(self) -> tuple[int, float]:
        """The next record shown: its index and the time it came out (from 0)."""
        async with asyncio.timeout(PATIENCE_S):
            played, at = await self.shown.get()
        return played.index, round(at - 1000.0, 6)

    async def played(self) -> Played:
        """The next record shown, as played."""
        async with asyncio.timeout(PATIENCE_S):
            played, _ = await self.shown.get()
        return played

    async def indexes(self, count: int) -> list[int]:
        return [(await self.next())[0] for _ in range(count)]


@asynccontextmanager
async def playing(player: Player, clock: ManualClock) -> AsyncIterator[Screen]:
    """Plays ``player`` in a task for the block; what it shows goes to the screen."""
    screen = Screen(clock)

    async def show() -> None:
        async for played in player:
            screen.shown.put_nowait((played, clock.now()))

    async with asyncio.TaskGroup() as tasks:
        task = tasks.create_task(show())
        try:
            yield screen
        finally:
            task.cancel()


async def test_a_pause_holds_the_exercise_still_and_resume_goes_on_from_there() -> None:
    clock = ManualClock()
    player = Player(EXERCISE, speed=1, clock=clock)
    async with playing(player, clock) as screen:
        assert await screen.next() == (0, 0.0)
        assert await clock.next_request() == 5.0
        clock.advance(2.0)
        player.pause()
        assert player.state.paused
        clock.advance(100.0)  # a long pause: the exercise does not move on
        player.resume()
        # What was left of the wait for record 1 (5 s in), and no more.
        assert await clock.next_request() == pytest.approx(3.0)
        clock.advance(3.0)
        assert await screen.next() == (1, 105.0)
        assert await clock.next_request() == pytest.approx(7.0)


async def test_starting_paused_plays_nothing_until_resumed() -> None:
    clock = ManualClock()
    player = Player(EXERCISE, speed=0, clock=clock, paused=True)
    async with playing(player, clock) as screen:
        assert player.state.paused
        assert player.state.next_index == 0
        player.resume()
        assert await screen.indexes(6) == [0, 1, 2, 3, 4, 5]
    assert clock.requests.empty()


async def test_step_plays_exactly_one_record_at_once_then_stays_paused() -> None:
    clock = ManualClock()
    player = Player(EXERCISE, speed=1, clock=clock, paused=True)
    async with playing(player, clock) as screen:
        player.step()
        assert await screen.next() == (0, 0.0)
        clock.advance(1000.0)  # however long the trainer looks at it
        player.step()
        # Record 1 is 5 s after record 0, but a step does not wait for it.
        assert await screen.next() == (1, 1000.0)
        assert player.state.paused
        player.step()
        assert await screen.next() == (2, 1000.0)
        state = player.state
        assert (state.paused, state.next_index, state.played) == (True, 3, 3)
        # Resumed, it paces on from record 2 (12 s in): record 3 is 18 s later.
        player.resume()
        assert await clock.next_request() == pytest.approx(18.0)
    assert clock.requests.empty()


async def test_faster_halves_what_is_left_of_a_wait_and_slower_doubles_it() -> None:
    clock = ManualClock()
    player = Player(EXERCISE, speed=1, clock=clock)
    async with playing(player, clock) as screen:
        assert await screen.next() == (0, 0.0)
        assert await clock.next_request() == 5.0
        clock.advance(1.0)
        player.faster()
        assert player.state.speed == 2.0
        assert await clock.next_request() == pytest.approx(2.0)
        clock.advance(1.0)
        player.slower()
        player.slower()
        assert player.state.speed == 0.5
        # 2 original seconds were left; at half speed they take 4.
        assert await clock.next_request() == pytest.approx(4.0)
        clock.advance(4.0)
        assert await screen.next() == (1, 6.0)
        # Record 2 is 7 original seconds on: 14 at half speed.
        assert await clock.next_request() == pytest.approx(14.0)


async def test_a_set_speed_of_zero_plays_the_rest_without_waiting() -> None:
    clock = ManualClock()
    player = Player(EXERCISE, speed=1, clock=clock)
    async with playing(player, clock) as screen:
        assert await screen.next() == (0, 0.0)
        assert await clock.next_request() == 5.0
        player.set_speed(0)
        assert await screen.indexes(5) == [1, 2, 3, 4, 5]
    assert clock.time == 1000.0


def test_speed_steps_and_refusals() -> None:
    player = Player(EXERCISE, speed=0)
    player.faster()
    assert player.state.speed == 0  # as fast as possible stays so
    player.slower()
    assert player.state.speed == 64.0  # the fastest paced speed
    with pytest.raises(ValueError, match="speed"):
        player.set_speed(-1)
    with pytest.raises(ValueError, match="speed"):
        player.set_speed(float("nan"))


async def test_a_seek_backwards_plays_those_records_again() -> None:
    clock = ManualClock()
    player = Player(EXERCISE, speed=0, clock=clock, hold_at_end=True)
    async with playing(player, clock) as screen:
        assert await screen.indexes(6) == [0, 1, 2, 3, 4, 5]
        player.seek(2)
        assert await screen.indexes(4) == [2, 3, 4, 5]
        # Still there at the end, for another seek.
        player.seek(4)
        assert await screen.indexes(2) == [4, 5]


async def test_a_seek_plays_the_record_at_once_and_paces_on_from_it() -> None:
    clock = ManualClock()
    player = Player(EXERCISE, speed=1, clock=clock)
    async with playing(player, clock) as screen:
        assert await screen.next() == (0, 0.0)
        assert await clock.next_request() == 5.0
        player.seek(3)  # 30 s in
        played = await screen.played()
        assert (played.index, played.elapsed) == (3, 30.0)
        assert clock.time == 1000.0
        assert await clock.next_request() == pytest.approx(15.0)  # record 4, 45 s in


async def test_a_seek_while_paused_stays_paused_and_a_step_shows_the_record_sought() -> None:
    clock = ManualClock()
    player = Player(EXERCISE, speed=1, clock=clock, paused=True)
    async with playing(player, clock) as screen:
        player.seek(4)
        assert player.state.paused
        assert player.state.next_index == 4
        player.step()
        assert await screen.next() == (4, 0.0)


async def test_a_seek_backwards_from_an_index_window_stays_inside_it() -> None:
    clock = ManualClock()
    player = Player(EXERCISE, speed=0, clock=clock, selection=Selection(from_index=2))
    async with playing(player, clock) as screen:
        player.pause()
        player.seek(0)
        player.resume()
        assert await screen.indexes(4) == [2, 3, 4, 5]


def bookmark(
    index: int,
    at: float,
    name: str,
    *,
    about_index: int | None = None,
    about_time: float | None = None,
) -> StoredRecord:
    """A trainer's bookmark, live (about nothing) or about a record or a moment."""
    record = log_pb2.LogRecord(
        index=index,
        kind=log_pb2.RECORD_KIND_ANNOTATION,
        actor="trainer",
        annotation=log_pb2.Annotation(author="trainer", bookmark=name, about_index=about_index),
    )
    if about_time is not None:
        record.annotation.about_time.FromNanoseconds(int((START + about_time) * 1e9))
    record.recorded_at.FromNanoseconds(int((START + at) * 1e9))
    return StoredRecord(index, record.kind, record.hotline, 0, record.SerializeToString())


#: The exercise, then bookmarks written about it (and one live).
BOOKMARKED = [
    *EXERCISE,
    bookmark(6, 70.0, "strike", about_index=2),
    bookmark(7, 75.0, "convoy", about_time=29.0),  # the first record at 30 s: #3
    bookmark(8, 80.0, "debrief"),  # about nothing: marks itself
    text(9, 85.0, "RED"),
    bookmark(10, 90.0, "later", about_time=500.0),  # after the last record: marks nothing
]


async def test_bookmarks_mark_the_record_or_moment_they_are_about_or_themselves() -> None:
    bookmarks = await Bookmarks.scan(InMemory(BOOKMARKED))
    assert dict(bookmarks) == {"strike": 2, "convoy": 3, "debrief": 8}
    assert list(bookmarks) == ["strike", "convoy", "debrief"]  # in log order
    assert bookmarks.after(2) == "convoy"
    assert bookmarks.after(8) == "strike"  # wraps round


async def test_a_bookmark_named_again_marks_the_later_target() -> None:
    records = [*EXERCISE, bookmark(6, 70.0, "strike", about_index=2)]
    records.append(bookmark(7, 75.0, "strike", about_time=44.0))
    assert dict(await Bookmarks.scan(InMemory(records))) == {"strike": 4}


async def test_bookmarks_appended_later_are_found_by_a_refresh() -> None:
    records = list(BOOKMARKED)
    bookmarks = await Bookmarks.scan(InMemory(records))
    records.append(bookmark(11, 95.0, "late", about_time=59.0))
    await bookmarks.refresh(InMemory(records))
    assert bookmarks["late"] == 5
    assert bookmarks["convoy"] == 3


async def test_jump_to_a_bookmark_goes_on_from_the_record_it_marks() -> None:
    clock = ManualClock()
    bookmarks = await Bookmarks.scan(InMemory(BOOKMARKED))
    player = Player(BOOKMARKED, speed=0, clock=clock, bookmarks=bookmarks, paused=True)
    async with playing(player, clock) as screen:
        assert player.jump("convoy") == 3
        player.step()
        assert await screen.next() == (3, 0.0)
        assert player.jump("strike") == 2  # backwards
        player.resume()
        assert await screen.indexes(3) == [2, 3, 4]
        with pytest.raises(NotFound, match=r"jump_to_bookmark: no bookmark 'nope'.*strike"):
            player.jump("nope")


async def test_without_hold_at_end_the_replay_ends_and_with_it_waits_there() -> None:
    ended = [p.index async for p in Player(EXERCISE, speed=0)]
    assert ended == [0, 1, 2, 3, 4, 5]

    clock = ManualClock()
    player = Player(EXERCISE, speed=0, clock=clock, hold_at_end=True)
    async with playing(player, clock) as screen:
        assert await screen.indexes(6) == [0, 1, 2, 3, 4, 5]
        player.resume()  # nothing left to play: it stays there
        player.seek(5)
        assert await screen.next() == (5, 0.0)
        state = player.state
        assert (state.paused, state.at_end, state.played) == (False, True, 7)


async def test_an_iterator_is_played_once_through_forwards_seeks_skip_backwards_ones_fail() -> None:
    clock = ManualClock()
    player = Player(iter(EXERCISE), speed=0, clock=clock, paused=True)
    async with playing(player, clock) as screen:
        player.step()
        assert await screen.next() == (0, 0.0)
        player.seek(4)
        player.resume()
        assert await screen.indexes(2) == [4, 5]

    # Back within what was read last, yes; further back, no.
    source = Streamed(iter(EXERCISE))
    assert [stored.index for stored in await source.read(0, 2)] == [0, 1]
    assert [stored.index for stored in await source.read(1, 4)] == [1, 2, 3]
    assert [stored.index for stored in await source.read(5, 9)] == [5]
    with pytest.raises(FailedPrecondition, match="cannot go back to 2"):
        await source.read(2, 4)
