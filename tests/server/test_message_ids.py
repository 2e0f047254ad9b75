"""The table of message ids gives back exactly what was recorded for each id, from memory
for the recent ones and from the log for the others."""

from __future__ import annotations

import pickle

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
    for index, (message_id, known) in enumerate(recorded.items()):
        ids.add(message_id, index, KnownMessage(*known))
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
    # The log: record index -> the id it carries and what a retry needs. Records 0, 2,
    # 4, ... carry BLUE's messages; the others are not hotline traffic.
    log: dict[int, tuple[str, KnownMessage]] = {}
    looked_up: list[int] = []

    def find(index: int, message_id: str) -> KnownMessage | None:
        looked_up.append(index)
        carried, known = log[index]
        return known if carried == message_id else None

    ids = MessageIds(find)
    for n in range(10_000):
        known = KnownMessage("BLUE", common_pb2.HOTLINE_AIR_OPERATIONS, n + 1, n)
        log[2 * n] = (f"blue-{n}", known)
        ids.add(f"blue-{n}", 2 * n, known)
    assert len(ids) == 10_000
    # Recent ids come from memory, older ones from their record in the log.
    assert ids.get("blue-9999") == log[2 * 9999][1]
    assert looked_up == []
    assert ids.get("blue-17") == log[34][1]
    assert looked_up == [34]
    # A new id is told apart without reading the log, bar the rare one whose 28-bit
    # hash is that of a recorded id: its record says it is another id.
    looked_up.clear()
    assert all(ids.get(f"red-{n}") is None for n in range(10_000))
    assert len(looked_up) < 10


@given(
    st.dictionaries(
        st.integers(min_value=0, max_value=message_ids.MAX_INDEX),
        st.integers(min_value=0, max_value=2**28 - 1),
        max_size=5_000,
    )
)
def test_seen_ids_give_back_the_index_of_every_id_with_a_hash(hashes: dict[int, int]) -> None:
    seen = SeenIds(run=64)  # merged into the sorted array every 64
    by_hash: dict[int, list[int]] = {}
    for index, hashed in hashes.items():
        seen.add(hashed, index)
        by_hash.setdefault(hashed, []).append(index)
    # As a snapshot keeps them: pickled, with the chunks stored beside.
    chunks = [chunk for _, chunk in seen.take_sealed()]
    restored = pickle.loads(pickle.dumps(seen))
    restored.load(chunks, seen.digests())
    for ids in (seen, restored):
        assert len(ids) == len(hashes)
        for hashed, indexes in by_hash.items():
            assert sorted(ids.indexes(hashed)) == sorted(indexes)
        assert ids.indexes(2**28 - 1) == by_hash.get(2**28 - 1, [])


def test_seen_ids_take_eight_bytes_an_id() -> None:
    seen = SeenIds()
    for n in range(200_000):
        seen.add(id_hash(f"message-{n}"), n)
    assert 8 * 100_000 < seen.nbytes <= 8 * 200_000
    assert 199_999 in seen.indexes(id_hash("message-199999"))
    assert 17 in seen.indexes(id_hash("message-17"))
