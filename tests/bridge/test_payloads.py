"""Payload encodings without a broker: the fast JSON paths agree with json_format."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st

from hotline.server.bridge import PayloadFormat
from hotline.server.bridge.payloads import MalformedPayload, decode_position_report, encode_record
from hotline.server.exercise import Policy, default_exercise
from hotline.testing.feeds import report, unit
from hotline.v1 import common_pb2, log_pb2, positions_pb2


def records() -> list[log_pb2.LogRecord]:
    started = log_pb2.LogRecord(
        index=0,
        kind=log_pb2.RECORD_KIND_EXERCISE_STARTED,
        actor="server",
        exercise=default_exercise(Policy(line_test_interval=30.0)).to_proto(),
    )
    started.recorded_at.FromNanoseconds(1_795_265_870_610_409_123)
    envelope = log_pb2.LogRecord(
        index=2**40,
        kind=log_pb2.RECORD_KIND_ENVELOPE,
        hotline=common_pb2.HOTLINE_AIR_OPERATIONS,
        actor="BLUE/AIR_OPERATIONS ✈",
        correlation_id='mqtt:BLUE:"quoted"',
    )
    envelope.recorded_at.FromMilliseconds(1_795_265_870_610)
    envelope.envelope.sequence = 7
    envelope.envelope.position_report.CopyFrom(
        decode_position_report(report(unit("VIPER11"), unit("VIPER12", latitude=-0.5)))
    )
    refused = log_pb2.LogRecord(index=3, kind=log_pb2.RECORD_KIND_REQUEST_REFUSED)
    refused.refused_request.detail = "latitude: 91 is out of range"
    unnamed = log_pb2.LogRecord(index=4, kind=999)  # type: ignore[arg-type]
    return [started, envelope, refused, unnamed]


@pytest.mark.parametrize("record", records(), ids=lambda r: str(r.index))
def test_a_json_payload_is_the_protobuf_json_mapping(record: log_pb2.LogRecord) -> None:
    expected = json_format.MessageToJson(record, indent=None)
    if record.index == 0:
        expected = '{"index": "0", ' + expected[1:]
    assert encode_record(record, b"", PayloadFormat.JSON).decode() == expected


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "unitId": st.text(max_size=8),
                "domain": st.sampled_from(["DOMAIN_AIR", "DOMAIN_GROUND", "DOMAIN_SEA"]),
                "latitude": st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
                "speedMps": st.floats(allow_nan=False, allow_infinity=False),
                "observedAt": st.datetimes().map(lambda t: t.isoformat() + "Z"),
            }
        ),
        min_size=1,
        max_size=3,
    )
)
def test_a_plain_json_feed_reads_as_json_format_reads_it(units: list[dict[str, object]]) -> None:
    payload = json.dumps({"positions": units}).encode()
    expected = positions_pb2.PositionReport()
    try:
        json_format.Parse(payload.decode(), expected)
    except json_format.ParseError:
        with pytest.raises(MalformedPayload):
            decode_position_report(payload)
    else:
        assert decode_position_report(payload) == expected


@pytest.mark.parametrize(
    "payload",
    [
        b'{"positions": [{"unit_id": "A", "latitude": "1.5"}]}',
        b'{"positions": [{"unitId": "A", "domain": 1, "altitudeM": null}]}',
        b'{"positions": [{"unitId": "A", "observedAt": "2026-11-21T13:00:00+01:00"}]}',
    ],
)
def test_an_unusual_json_feed_is_read_by_json_format(payload: bytes) -> None:
    expected = json_format.Parse(payload.decode(), positions_pb2.PositionReport())
    assert decode_position_report(payload) == expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"positions": [{"unitId": "A", "unitId": "B"}]}', "duplicate key"),
        (b'{"positions": [{"unitId": "A", "latitude": NaN}]}', "NaN"),
        (b'{"positions": [{"unitId": "A", "latitude": 1e400}]}', "Infinity"),
        (b'{"positions": [{"unitId": "A", "colour": "red"}]}', "colour"),
        (b'{"positions": [{"unitId": "A", "observedAt": "noon"}]}', "observedAt"),
        (b'{"positions": [{"unitId": "A"}], "extra": 1}', "extra"),
        (b'{"positions": {"unitId": "A"}}', "positions"),
        (b'{"positions": [}', "Failed to load JSON"),
        (b'{"positions": []}', "no positions"),
    ],
)
def test_a_malformed_json_feed_is_refused_as_json_format_words_it(
    payload: bytes, reason: str
) -> None:
    with pytest.raises(MalformedPayload, match=reason):
        decode_position_report(payload)
