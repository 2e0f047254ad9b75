"""The table of message ids gives back exactly what was recorded for each id, from memory
for the recent ones and from the log for the others, and holds a bounded amount
however many ids the exercise uses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.server import message_ids
from hotline.server.exercise import Hotline
from hotline.server.message_ids import KnownMessage, MessageIds, message_key
from hotline.v1 import common_pb2

HOTLINES: list[Hotline] = [value for value in common_pb2.Hotline.values() if value]

entries = st.dictionaries(
    st.text(min_size=1, max_size=40),
    st.tuples(
        st.sampled_from(["BLUE", "RED", "GREEN", "server", "exercise-control"]),
        st.sampled_from(HOTLINES),
        st.integers(min_value=1, max_value=2**40 - 1),
        st.integers(min_value=0, max_value=2**64 - 1),
    ),
    max_size=50,
)


class Log:
    """The log as the look-up sees it: records by message key, and every look-up made."""

    def __init__(self) -> None:
        self.by_key: dict[int, list[tuple[str, KnownMessage]]] = {}
        self.looked_up: list[str] = []

    def record(self, ids: MessageIds, message_id: str, known: KnownMessage) -> None:
        self.by_key.setdefault(message_key(message_id), []).append((message_id, known))
        ids.add(message_id, known)

    def find(self, key: int, message_id: str) -> KnownMessage | None:
        self.looked_up.append(message_id)
        for carried, known in self.by_key.get(key, []):
            if carried == message_id:
                return known
        return None


def blue(n: int) -> KnownMessage:
    return KnownMessage("BLUE", common_pb2.HOTLINE_AIR_OPERATIONS, n + 1, n, 2 * n)


@given(entries, st.text(min_size=1, max_size=40))
def test_every_id_gives_back_its_sender_hotline_sequence_and_digest(
    recorded: dict[str, tuple[str, Hotline, int, int]], unknown: str
) -> None:
    ids = MessageIds()
    for index, (message_id, known) in enumerate(recorded.items()):
        ids.add(message_id, KnownMessage(*known, index))
    assert len(ids) == len(recorded)
    for index, (message_id, known) in enumerate(recorded.items()):
        assert message_id in ids
        assert ids.get(message_id) == KnownMessage(*known, index)
    if unknown not in recorded:
        assert unknown not in ids
        assert ids.get(unknown) is None


def test_older_ids_are_looked_up_in_the_log_and_new_ones_seldom_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(message_ids, "RECENT", 100)
    log = Log()
    ids = MessageIds(log.find)
    for n in range(10_000):
        log.record(ids, f"blue-{n}", blue(n))
    ids.durable(2 * 10_000)
    assert len(ids) == 10_000
    # Recent ids come from memory, older ones from their record in the log.
    assert ids.get("blue-9999") == blue(9999)
    assert log.looked_up == []
    assert ids.get("blue-17") == blue(17)
    assert log.looked_up == ["blue-17"]
    # A new id is told apart without reading the log, bar the rare one whose key falls
    # on a bit of the filter that a recorded id set (about 1 in 840 with 10,000 bits
    # set of 2^23): the log then says it is new.
    log.looked_up.clear()
    assert all(ids.get(f"red-{n}") is None for n in range(10_000))
    assert len(log.looked_up) < 30


def test_an_id_stays_in_memory_until_its_record_is_durable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The log finds only what it has committed: an id whose record is still queued is
    held however many come after it."""
    monkeypatch.setattr(message_ids, "RECENT", 10)
    log = Log()
    ids = MessageIds(lambda key, message_id: None)  # the log has committed nothing yet
    for n in range(50):
        log.record(ids, f"blue-{n}", blue(n))
    assert all(ids.get(f"blue-{n}") == blue(n) for n in range(50))
    # Records up to blue-29's are durable: the ids before blue-40 may go, the last ten
    # stay.
    ids.durable(blue(29).record + 1)
    assert ids.get("blue-0") is None
    assert ids.get("blue-29") is None
    assert all(ids.get(f"blue-{n}") == blue(n) for n in range(30, 50))
    ids.durable(blue(49).record + 1)
    assert ids.get("blue-39") is None
    assert all(ids.get(f"blue-{n}") == blue(n) for n in range(40, 50))


def test_what_is_held_does_not_grow_with_the_exercise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(message_ids, "RECENT", 1_000)
    log = Log()
    ids = MessageIds(log.find)
    sizes = []
    for n in range(100_000):
        log.record(ids, f"blue-{n}", blue(n))
        ids.durable(blue(n).record + 1)
        if n in (9_999, 99_999):
            filter_bytes, _ = ids.state()
            sizes.append((len(filter_bytes), ids.held))
    assert sizes[0] == sizes[1] == (2**message_ids.FILTER_BITS // 8, 1_000)
    assert ids.get("blue-5") == blue(5)


def test_a_restored_table_finds_every_id_through_the_log() -> None:
    log = Log()
    ids = MessageIds(log.find)
    for n in range(1_000):
        log.record(ids, f"blue-{n}", blue(n))
    ids.durable(2_000)
    restored = MessageIds(log.find)
    restored.restore(ids.state(), 2_000)
    assert len(restored) == 1_000
    assert restored.get("blue-999") == blue(999)
    assert restored.get("blue-0") == blue(0)
    log.looked_up.clear()
    assert all(restored.get(f"red-{n}") is None for n in range(1_000))
    assert len(log.looked_up) < 5
