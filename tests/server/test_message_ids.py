"""The table of message ids gives back exactly what was recorded for each id."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hotline.server.exercise import Hotline
from hotline.server.message_ids import MessageIds
from hotline.v1 import common_pb2

HOTLINES: list[Hotline] = [value for value in common_pb2.Hotline.values() if value]

entries = st.dictionaries(
    st.text(min_size=1, max_size=40),
    st.tuples(
        st.sampled_from(["BLUE", "RED", "GREEN", "server", "exercise-control"]),
        st.sampled_from(HOTLINES),
        st.integers(min_value=1, max_value=2**40 - 1),
    ),
    max_size=50,
)


@given(entries, st.text(min_size=1, max_size=40))
def test_every_id_gives_back_its_sender_hotline_and_sequence(
    recorded: dict[str, tuple[str, Hotline, int]], unknown: str
) -> None:
    ids = MessageIds()
    for message_id, (sender, hotline, sequence) in recorded.items():
        ids.add(message_id, sender, hotline, sequence)
    assert len(ids) == len(recorded)
    for message_id, known in recorded.items():
        assert message_id in ids
        assert ids.get(message_id) == known
    if unknown not in recorded:
        assert unknown not in ids
        assert ids.get(unknown) is None
