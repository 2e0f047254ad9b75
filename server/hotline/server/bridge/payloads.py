"""Payload encodings: log records out, position reports in."""

from __future__ import annotations

import json

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet

from hotline.server.bridge.address import PayloadFormat
from hotline.v1 import log_pb2, positions_pb2

#: Largest position feed payload accepted.
MAX_INGEST_BYTES = 256 * 1024
BRIDGE_ONLINE = json.dumps({"state": "online"}).encode()
BRIDGE_OFFLINE = json.dumps({"state": "offline"}).encode()


class MalformedPayload(ValueError):
    """A position feed payload that is not a PositionReport; the message says why."""


def encode_record(record: log_pb2.LogRecord, data: bytes, payload_format: PayloadFormat) -> bytes:
    """The payload of a record: ``data`` (its stored bytes) or its JSON mapping.

    The JSON mapping leaves out fields at their default value; ``index`` is written even
    for record 0, so that every payload names its position in the log.
    """
    if payload_format is PayloadFormat.PROTOBUF:
        return data
    text = json_format.MessageToJson(record, indent=None)
    if record.index == 0:
        text = '{"index": "0", ' + text[1:]
    return text.encode()


def decode_position_report(payload: bytes) -> positions_pb2.PositionReport:
    """A PositionReport from its JSON mapping (a payload starting with ``{``) or its
    binary encoding. Raises :class:`MalformedPayload`."""
    if len(payload) > MAX_INGEST_BYTES:
        raise MalformedPayload(f"{len(payload)} bytes is over the limit of {MAX_INGEST_BYTES}")
    report = positions_pb2.PositionReport()
    if payload.lstrip()[:1] == b"{":
        try:
            json_format.Parse(payload.decode("utf-8"), report)
        except UnicodeDecodeError as error:
            raise MalformedPayload(f"JSON payload is not UTF-8: {error}") from None
        except json_format.ParseError as error:
            raise MalformedPayload(f"not a PositionReport in JSON: {error}") from None
    else:
        try:
            report.ParseFromString(payload)
        except DecodeError as error:
            raise MalformedPayload(f"not a PositionReport in protobuf: {error}") from None
        # Arbitrary bytes often parse as unknown fields; a feed never sends any.
        if any(len(UnknownFieldSet(m)) for m in (report, *report.positions)):
            raise MalformedPayload("not a PositionReport in protobuf: unknown fields")
    if not report.positions:
        raise MalformedPayload("a PositionReport with no positions")
    return report
