"""The replay core on records made here: order, pacing under a fake clock, filters.

A trainer's exercise is a list of log records with server times; what the trainer sees
is which records come out, in what order, and how long the (fake) clock waited for each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from hotline.server.replay import Played, Player, Selection
from hotline.server.storage import StoredRecord
from hotline.v1 import common_pb2, envelope_pb2, log_pb2, messages_pb2

START = 1_800_000_000
AIR = common_pb2.HOTLINE_AIR_OPERATIONS
GROUND = common_pb2.HOTLINE_GROUND_COMMANDERS


@dataclass
class FakeClock:
    """Time moves only when the player sleeps."""

    time: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds


def text(index: int, at: float, party: str, hotline: int = AIR) -> StoredRecord:
    """A text message from ``party`` to the other side, recorded ``at`` seconds in."""
    other = "RED" if party == "BLUE" else "BLUE"
    record = log_pb2.LogRecord(
        index=index,
        kind=log_pb2.RECORD_KIND_ENVELOPE,
        hotline=hotline,  # type: ignore[arg-type]
        actor=f"{party}/{common_pb2.Hotline.Name(hotline)}",  # type: ignore[arg-type]
        correlation_id=f"m{index}",
        envelope=envelope_pb2.Envelope(
            message_id=f"m{index}",
            sender=common_pb2.StationRef(party=party, hotline=hotline),  # type: ignore[arg-type]
            audience=[other],
            text=messages_pb2.TextMessage(text=f"message {index}"),
        ),
    )
    record.recorded_at.FromNanoseconds(int((START + at) * 1e9))
    return StoredRecord(index, record.kind, record.hotline, index + 1, record.SerializeToString())


def note(index: int, at: float) -> StoredRecord:
    """A trainer's annotation, on no hotline."""
    record = log_pb2.LogRecord(
        index=index,
        kind=log_pb2.RECORD_KIND_ANNOTATION,
        actor="trainer",
        annotation=log_pb2.Annotation(author="trainer", text=f"note {index}"),
    )
    record.recorded_at.FromNanoseconds(int((START + at) * 1e9))
    return StoredRecord(index, record.kind, record.hotline, 0, record.SerializeToString())


#: A 60-second exercise: BLUE and RED on air operations, RED on ground, two notes.
EXERCISE = [
    text(0, 0.0, "BLUE"),
    note(1, 5.0),
    text(2, 12.0, "RED"),
    text(3, 30.0, "RED", GROUND),
    note(4, 45.0),
    text(5, 60.0, "BLUE"),
]


async def play(
    records: list[StoredRecord],
    speed: float = 0.0,
    selection: Selection | None = None,
    clock: FakeClock | None = None,
) -> list[Played]:
    player = Player(records, speed=speed, selection=selection, clock=clock or FakeClock())
    return [played async for played in player]


def indexes(played: list[Played]) -> list[int]:
    return [p.index for p in played]


async def test_speed_ten_plays_a_sixty_second_exercise_in_six_seconds_in_order() -> None:
    clock = FakeClock()
    seen: list[tuple[int, float]] = []
    async for played in Player(EXERCISE, speed=10, clock=clock):
        seen.append((played.index, round(clock.time - 1000.0, 6)))
    # Each record comes out at a tenth of its original offset.
    assert seen == [(0, 0.0), (1, 0.5), (2, 1.2), (3, 3.0), (4, 4.5), (5, 6.0)]
    assert clock.time - 1000.0 == pytest.approx(6.0)


async def test_speed_one_keeps_the_original_gaps() -> None:
    clock = FakeClock()
    played = await play(EXERCISE, speed=1, clock=clock)
    assert [p.elapsed for p in played] == [0.0, 5.0, 12.0, 30.0, 45.0, 60.0]
    assert clock.time - 1000.0 == pytest.approx(60.0)


async def test_speed_zero_never_waits() -> None:
    clock = FakeClock()
    played = await play(EXERCISE, speed=0, clock=clock)
    assert indexes(played) == [0, 1, 2, 3, 4, 5]
    assert clock.sleeps == []


async def test_time_spent_showing_a_record_is_not_added_to_the_next_wait() -> None:
    clock = FakeClock()
    async for _ in Player(EXERCISE[:3], speed=1, clock=clock):
        clock.time += 1.0  # the trainer's terminal is slow
    # Waits of 5 and 12 s from the start, less the 1 s spent on each record shown.
    assert clock.sleeps == [pytest.approx(4.0), pytest.approx(6.0)]


async def test_a_record_stamped_earlier_than_the_one_before_is_shown_at_once() -> None:
    clock = FakeClock()
    played = await play([text(0, 10.0, "BLUE"), text(1, 4.0, "RED")], speed=1, clock=clock)
    assert indexes(played) == [0, 1]
    assert clock.sleeps == []


def test_a_negative_speed_is_refused() -> None:
    with pytest.raises(ValueError, match="speed"):
        Player(EXERCISE, speed=-1)


async def test_filter_by_hotline() -> None:
    played = await play(EXERCISE, selection=Selection(hotlines={GROUND}))
    assert indexes(played) == [3]


async def test_filter_by_party_keeps_what_the_party_sent_or_received() -> None:
    # RED receives BLUE's messages, so only the trainer's notes are left out.
    assert indexes(await play(EXERCISE, selection=Selection(parties={"RED"}))) == [0, 2, 3, 5]
    assert indexes(await play(EXERCISE, selection=Selection(parties={"trainer"}))) == [1, 4]


async def test_filter_by_kind() -> None:
    notes = Selection(kinds={log_pb2.RECORD_KIND_ANNOTATION})
    assert indexes(await play(EXERCISE, selection=notes)) == [1, 4]


async def test_window_by_index_includes_the_start_and_excludes_the_end() -> None:
    played = await play(EXERCISE, selection=Selection(from_index=2, to_index=5))
    assert indexes(played) == [2, 3, 4]


async def test_window_by_time_includes_the_start_and_excludes_the_end() -> None:
    window = Selection(from_time=START + 12.0, to_time=START + 45.0)
    assert indexes(await play(EXERCISE, selection=window)) == [2, 3]


async def test_a_window_is_paced_from_its_first_record() -> None:
    clock = FakeClock()
    window = Selection(from_index=3)
    played = await play(EXERCISE, speed=1, selection=window, clock=clock)
    assert [p.elapsed for p in played] == [0.0, 15.0, 30.0]
    assert clock.time - 1000.0 == pytest.approx(30.0)


async def test_filters_combine() -> None:
    selection = Selection(hotlines={AIR}, parties={"BLUE"}, from_index=1)
    assert indexes(await play(EXERCISE, selection=selection)) == [2, 5]


async def test_bytes_that_are_not_a_record_are_shown_as_such_unless_a_filter_needs_them() -> None:
    garbage = StoredRecord(6, log_pb2.RECORD_KIND_ENVELOPE, AIR, 7, b"\xff\xff\xff")
    played = await play([*EXERCISE, garbage])
    assert (played[-1].index, played[-1].record) == (6, None)
    by_party = await play([*EXERCISE, garbage], selection=Selection(parties={"BLUE"}))
    assert 6 not in indexes(by_party)
