"""The refusal budget: a burst recorded one by one, then a rate, the rest counted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hotline.server.errors import Unavailable
from hotline.server.refusal_limits import RefusalGate, suppressed_note


@dataclass
class Timers:
    """A clock and the late calls due on it, advanced by hand."""

    now: float = 0.0
    due: list[tuple[float, Callable[[], None]]] = field(default_factory=list)

    def later(self, delay: float, callback: Callable[[], None]) -> None:
        self.due.append((self.now + delay, callback))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        ready = [d for d in self.due if d[0] <= self.now]
        self.due = [d for d in self.due if d[0] > self.now]
        for _, callback in ready:
            callback()


@dataclass
class Log:
    """What the gate had recorded: (refusal, count of others not recorded before it)."""

    records: list[tuple[str, int]] = field(default_factory=list)

    def write(self, name: str) -> Callable[[int], None]:
        return lambda count: self.records.append((name, count))

    @property
    def accounted(self) -> int:
        return sum(1 + count for _, count in self.records)


def gate(timers: Timers, burst: int = 3, per_second: float = 2.0) -> RefusalGate:
    return RefusalGate(
        lambda: timers.now,
        timers.later,
        burst=burst,
        per_second=per_second,
    )


def test_a_burst_is_recorded_one_by_one_and_the_rest_counted_into_the_next() -> None:
    timers, log = Timers(), Log()
    refusals = gate(timers)
    for i in range(10):
        refusals.offer("peer-1", log.write(f"r{i}"))
    assert log.records == [("r0", 0), ("r1", 0), ("r2", 0)]
    timers.now += 0.5  # one token back, before the late record is due
    refusals.offer("peer-1", log.write("r10"))
    assert log.records[-1] == ("r10", 7)
    assert log.accounted == 11
    assert refusals.pending() == 0


def test_the_last_refusal_counted_is_recorded_late_with_the_count_when_none_follows() -> None:
    timers, log = Timers(), Log()
    refusals = gate(timers)
    for i in range(8):
        refusals.offer("peer-1", log.write(f"r{i}"))
    assert len(log.records) == 3
    timers.advance(0.5)
    assert log.records[-1] == ("r7", 4)
    assert log.accounted == 8
    timers.advance(10)
    assert len(log.records) == 4, "nothing more to record"


def test_sources_have_budgets_of_their_own() -> None:
    timers, log = Timers(), Log()
    refusals = gate(timers, burst=1)
    refusals.offer("BLUE/AIR_OPERATIONS", log.write("blue"))
    refusals.offer("BLUE/AIR_OPERATIONS", log.write("blue again"))
    refusals.offer("ipv4:10.0.0.9:4711", log.write("anonymous"))
    assert [name for name, _ in log.records] == ["blue", "anonymous"]


def test_a_flood_is_recorded_at_the_rate() -> None:
    timers, log = Timers(), Log()
    refusals = gate(timers, burst=3, per_second=2.0)
    for _ in range(1000):  # 100 refusals a second for 10 s
        refusals.offer("peer-1", log.write("r"))
        timers.advance(0.01)
    timers.advance(1.0)
    assert len(log.records) <= 3 + 2 * 11
    assert log.accounted == 1000


def test_too_many_sources_share_one_budget() -> None:
    timers, log = Timers(), Log()
    refusals = RefusalGate(
        lambda: timers.now,
        timers.later,
        burst=1,
        max_sources=2,
    )
    for peer in range(10):
        refusals.offer(f"peer-{peer}", log.write(f"p{peer}"))
    assert [name for name, _ in log.records] == ["p0", "p1", "p2"]
    timers.advance(30)
    assert log.accounted == 10


def test_a_late_record_after_the_log_closed_is_not_an_error() -> None:
    timers = Timers()
    refusals = gate(timers, burst=1)
    refusals.offer("peer-1", lambda _: None)

    def closed(count: int) -> None:
        raise Unavailable("the server is shutting down")

    refusals.offer("peer-1", closed)
    timers.advance(1)
    assert refusals.pending() == 0


def test_the_note_counts_what_was_not_recorded() -> None:
    assert suppressed_note("BLUE/AIR_OPERATIONS", 0) == ""
    assert suppressed_note("BLUE/AIR_OPERATIONS", 1).startswith(
        " [1 more refusal of BLUE/AIR_OPERATIONS not recorded one by one"
    )
    assert "[12 more refusals of" in suppressed_note("x", 12)
