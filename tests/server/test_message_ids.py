"""The table of message ids gives back exactly what was recorded for each id, from memory
for the recent ones and from the log for the others."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.server import message_ids
from hotline.server.exercise import Hotline
from hotline.server.message_ids import KnownMessage, MessageIds, SeenIds, id_hash
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


@given(entries, st.text(min_size=1, max_size=40))
def test_every_id_gives_back_its_sender_hotline_sequence_and_digest(
    recorded: dict[str, tuple[str, Hotline, int, int]], unknown: str
) -> None:
    ids = MessageIds()
    for message_id, known in recorded.items():
        ids.add(message_id, *known)
    assert len(ids) == len(recorded)
    for message_id, known in recorded.items():
        assert message_id in ids
        assert ids.get(message_id) == known
    if unknown not in recorded:
        assert unknown not in ids
        assert ids.get(unknown) is None


def test_older_ids_are_looked_up_in_the_log_and_new_ones_never_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(message_ids, "RECENT", 100)
    log: dict[str, KnownMessage] = {}
    looked_up: list[str] = []

    def find(message_id: str) -> KnownMessage | None:
        looked_up.append(message_id)
        return log.get(message_id)

    ids = MessageIds(find)
    for n in range(10_000):
        known = KnownMessage("BLUE", common_pb2.HOTLINE_AIR_OPERATIONS, n + 1, n)
        log[f"blue-{n}"] = known
        ids.add(f"blue-{n}", *known)
    assert len(ids) == 10_000
    # Recent ids come from memory, older ones from the log.
    assert ids.get("blue-9999") == log["blue-9999"]
    assert looked_up == []
    assert ids.get("blue-17") == log["blue-17"]
    assert looked_up == ["blue-17"]
    # A new id is told apart without asking the log (bar a 64-bit hash collision).
    looked_up.clear()
    assert all(ids.get(f"red-{n}") is None for n in range(10_000))
    assert looked_up == []


@given(st.sets(st.integers(min_value=0, max_value=2**64 - 1), max_size=20_000))
def test_seen_ids_hold_every_hash_added_and_no_other(hashes: set[int]) -> None:
    seen = SeenIds()
    ordered = sorted(hashes)
    kept, left_out = ordered[::2], ordered[1::2]
    for hashed in kept:
        seen.add(hashed)
    assert len(seen) == len(kept)
    assert all(h in seen for h in kept)
    assert not any(h in seen for h in left_out)


def test_seen_ids_take_eight_bytes_an_id() -> None:
    seen = SeenIds()
    for n in range(200_000):
        seen.add(id_hash(f"message-{n}"))
    assert seen.nbytes <= 8 * 200_000
    assert id_hash("message-199999") in seen
