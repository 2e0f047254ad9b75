"""Timestamps, Durations and integers out of range, found wherever they are."""

from __future__ import annotations

import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from hotline.server.errors import InvalidArgument
from hotline.server.field_ranges import (
    MAX_INTEGER,
    MAX_TIMESTAMP_S,
    MIN_TIMESTAMP_S,
    check_ranges,
)
from hotline.v1 import (
    acknowledgments_pb2,
    envelope_pb2,
    positions_pb2,
    services_pb2,
    zones_pb2,
)

ENVELOPES = frozenset({envelope_pb2.Envelope.DESCRIPTOR})


def refusal(message: object, skip: frozenset[object] = frozenset()) -> str:
    with pytest.raises(InvalidArgument) as refused:
        check_ranges(message, skip=skip)  # type: ignore[arg-type]
    return refused.value.message


def test_a_timestamp_deep_in_an_envelope_is_named_by_its_path() -> None:
    envelope = envelope_pb2.Envelope()
    envelope.zone_decision.counter_proposal.effective_until.nanos = -1
    assert refusal(envelope) == (
        "zone_decision.counter_proposal.effective_until.nanos: -1 is outside [0, 999999999]"
    )


def test_items_of_repeated_fields_are_named_by_index() -> None:
    report = positions_pb2.PositionReport(
        positions=[positions_pb2.UnitPosition(), positions_pb2.UnitPosition()]
    )
    report.positions[1].observed_at.seconds = MAX_TIMESTAMP_S + 1
    assert refusal(report).startswith(
        f"positions[1].observed_at.seconds: {MAX_TIMESTAMP_S + 1} is outside"
    )
    opening = services_pb2.SessionOpen(received_after=[1, 2, 2**64 - 1])
    assert refusal(opening) == (
        f"received_after[2]: {2**64 - 1} is past the largest value accepted, {MAX_INTEGER}"
    )


@pytest.mark.parametrize(
    ("seconds", "nanos", "names"),
    [
        (1, -1, "lateness.nanos: -1 must have the sign of seconds (1)"),
        (0, 10**9, "lateness.nanos: 1000000000 is outside"),
        (-315_576_000_001, 0, "lateness.seconds: -315576000001 is outside"),
    ],
)
def test_durations_out_of_range(seconds: int, nanos: int, names: str) -> None:
    ack = acknowledgments_pb2.Acknowledgment(lateness=Duration(seconds=seconds, nanos=nanos))
    assert refusal(ack).startswith(names)


def test_envelopes_can_be_left_to_their_own_check() -> None:
    envelope = envelope_pb2.Envelope()
    envelope.sent_at.nanos = -5
    request = services_pb2.SessionRequest(
        envelopes=services_pb2.EnvelopeBatch(envelopes=[envelope])
    )
    check_ranges(request, skip=ENVELOPES)
    assert refusal(request).startswith("envelopes.envelopes[0].sent_at.nanos: -5")
    request = services_pb2.SessionRequest(
        open=services_pb2.SessionOpen(resume_after_sequence=2**63)
    )
    assert refusal(request, ENVELOPES).startswith(f"open.resume_after_sequence: {2**63}")


@given(
    seconds=st.integers(-(2**63), 2**63 - 1),
    nanos=st.integers(-(2**31), 2**31 - 1),
)
def test_a_zone_window_passes_exactly_when_protobuf_can_read_it(seconds: int, nanos: int) -> None:
    zone = zones_pb2.Zone(effective_from=Timestamp(seconds=seconds, nanos=nanos))
    readable = MIN_TIMESTAMP_S <= seconds <= MAX_TIMESTAMP_S and 0 <= nanos < 10**9
    try:
        zone.effective_from.ToJsonString()
    except ValueError:
        assert not readable
    else:
        assert readable
    if readable:
        check_ranges(zone)
    else:
        assert refusal(zone).startswith("effective_from.")
