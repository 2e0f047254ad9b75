"""The rules both sides follow (``hotline.contract``) cover the messages as they are and
are the rules the server enforces."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from hotline import contract
from hotline.server.envelope_checks import check_envelope
from hotline.server.errors import InvalidArgument
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, messages_pb2

NOW = 1_800_000_000.0
BODIES = {field.name for field in envelope_pb2.Envelope.DESCRIPTOR.oneofs_by_name["body"].fields}


def station_envelope(**fields: object) -> envelope_pb2.Envelope:
    message = envelope_pb2.Envelope(
        message_id="m-1",
        sender=common_pb2.StationRef(party="BLUE", hotline=common_pb2.HOTLINE_AIR_OPERATIONS),
        hotline=common_pb2.HOTLINE_AIR_OPERATIONS,
        priority=common_pb2.PRIORITY_ROUTINE,
        sent_at=contract.timestamp(NOW),
        text=messages_pb2.TextMessage(text="Strike at 0600Z", language="en"),
    )
    for name, value in fields.items():
        if isinstance(value, list):
            getattr(message, name).extend(value)
        elif isinstance(value, Timestamp):
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


def test_every_body_is_either_a_stations_or_the_servers() -> None:
    assert contract.STATION_BODIES | contract.SERVER_BODIES == BODIES
    assert not contract.STATION_BODIES & contract.SERVER_BODIES


def test_every_body_takes_a_response_a_receipt_only_or_nothing() -> None:
    kinds = (contract.NEEDS_RESPONSE, contract.RECEIPT_ONLY, contract.UNACKNOWLEDGED)
    assert set().union(*kinds) == BODIES
    assert sum(len(kind) for kind in kinds) == len(BODIES)
    assert {"position_report", "zone_decision", "line_test"} == contract.RECEIPT_ONLY


def test_what_a_delivery_asks_of_its_recipient() -> None:
    text = station_envelope()
    assert contract.needs_receipt(text)
    assert contract.needs_response(text)
    line_test = envelope_pb2.Envelope(line_test=messages_pb2.LineTest())
    assert contract.needs_receipt(line_test)
    assert not contract.needs_response(line_test)
    wilco = envelope_pb2.Envelope(
        acknowledgment=acknowledgments_pb2.Acknowledgment(
            message_id="m-1", kind=acknowledgments_pb2.ACK_KIND_WILCO
        )
    )
    assert not contract.needs_receipt(wilco)
    assert not contract.needs_response(wilco)
    assert acknowledgments_pb2.ACK_KIND_RECEIPT not in contract.RESPONSES


def test_the_server_fields_name_fields_of_the_messages() -> None:
    envelope_fields = envelope_pb2.Envelope.DESCRIPTOR.fields_by_name
    assert set(contract.SERVER_FIELDS) <= set(envelope_fields)
    assert set(contract.RECORDED_FIELDS) <= set(contract.SERVER_FIELDS)
    ack_fields = acknowledgments_pb2.Acknowledgment.DESCRIPTOR.fields_by_name
    assert set(contract.ACKNOWLEDGMENT_SERVER_FIELDS) <= set(ack_fields)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sequence", 7),
        ("recorded_at", Timestamp(seconds=1)),
        ("audience", ["RED"]),
        ("escalation_of", "m-0"),
        ("replay_of", "m-0"),
    ],
)
def test_a_station_that_sets_a_server_field_is_refused(name: str, value: object) -> None:
    assert name in contract.SERVER_FIELDS
    with pytest.raises(InvalidArgument, match=f"{name}.* set by the server"):
        check_envelope(station_envelope(**{name: value}), NOW)


def test_a_station_that_sets_a_server_field_of_its_answer_is_refused() -> None:
    for name in contract.ACKNOWLEDGMENT_SERVER_FIELDS:
        answer = acknowledgments_pb2.Acknowledgment(
            message_id="m-0", kind=acknowledgments_pb2.ACK_KIND_ROGER
        )
        if name == "lateness":
            answer.lateness.CopyFrom(contract.duration(3.0))
        elif name == "responder":
            answer.responder.party = "RED"
        else:
            answer.operator = common_pb2.OPERATOR_STANDBY
        message = station_envelope()
        message.acknowledgment.CopyFrom(answer)
        with pytest.raises(InvalidArgument, match=f"acknowledgment.*{name}"):
            check_envelope(message, NOW)


def test_a_station_may_not_use_the_servers_ids() -> None:
    own = station_envelope(message_id=contract.SERVER_ID_PREFIX + "1")
    with pytest.raises(InvalidArgument, match="message_id"):
        check_envelope(own, NOW)
    assert contract.escalation_id("RED", "m-1").startswith(contract.SERVER_ID_PREFIX)


def test_an_escalated_copy_names_its_party_and_original() -> None:
    copy = contract.escalation_id("RED", "replay:a:b")
    assert copy == "srv:escalation:RED:replay:a:b"
    assert contract.escalated_from(copy) == ("RED", "replay:a:b")
    assert contract.escalated_from("srv:alert:9") is None
    assert contract.escalated_from("m-1") is None


def test_times_convert_to_the_nanosecond() -> None:
    stamp = contract.timestamp(1_000.25)
    assert (stamp.seconds, stamp.nanos) == (1_000, 250_000_000)
    assert contract.seconds(stamp) == 1_000.25
    today = contract.timestamp(NOW + 0.25)
    assert today.seconds == NOW
    assert abs(today.nanos - 250_000_000) < 1_000
    assert abs(contract.seconds(today) - (NOW + 0.25)) < 1e-6
    before = Timestamp(seconds=-1, nanos=500_000_000)
    assert contract.seconds(contract.timestamp(-0.5)) == contract.seconds(before) == -0.5
    contract.set_timestamp(stamp, 12.000000001)
    assert (stamp.seconds, stamp.nanos) == (12, 1)
    assert contract.duration(1.5) == Duration(seconds=1, nanos=500_000_000)
    assert contract.seconds(contract.duration(90.0)) == 90.0
    assert contract.seconds(Timestamp()) == 0.0


def test_a_status_travels_as_its_number() -> None:
    for code in grpc.StatusCode:
        assert contract.status_code(contract.status_number(code)) is code
    assert contract.status_number(grpc.StatusCode.INVALID_ARGUMENT) == 3
    assert contract.status_code(999) is grpc.StatusCode.UNKNOWN
