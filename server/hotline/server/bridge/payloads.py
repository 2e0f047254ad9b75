"""Payload encodings: log records out, position reports in."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp
from google.protobuf.unknown_fields import UnknownFieldSet

from hotline.server.bridge.address import PayloadFormat
from hotline.server.json_mapping import json_object
from hotline.v1 import common_pb2, log_pb2, positions_pb2

#: Largest position feed payload accepted.
MAX_INGEST_BYTES = 256 * 1024
BRIDGE_ONLINE = json.dumps({"state": "online"}).encode()
BRIDGE_OFFLINE = json.dumps({"state": "offline"}).encode()
_EPOCH = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)


class _Unusual(Exception):
    """A feed not in the plain shape the fast reader handles: json_format reads it."""


class MalformedPayload(ValueError):
    """A position feed payload that is not a PositionReport; the message says why."""


def encode_record(record: log_pb2.LogRecord, data: bytes, payload_format: PayloadFormat) -> bytes:
    """The payload of a record: ``data`` (its stored bytes) or its JSON mapping.

    The JSON mapping leaves out fields at their default value; ``index`` is written even
    for record 0, so that every payload names its position in the log.
    """
    if payload_format is PayloadFormat.PROTOBUF:
        return data
    text = json.dumps(json_object(record))
    if record.index == 0:
        text = '{"index": "0", ' + text[1:]
    return text.encode()


def decode_position_report(payload: bytes) -> positions_pb2.PositionReport:
    """A PositionReport from its JSON mapping (a payload starting with ``{``) or its
    binary encoding. Raises :class:`MalformedPayload`."""
    if len(payload) > MAX_INGEST_BYTES:
        raise MalformedPayload(f"{len(payload)} bytes is over the limit of {MAX_INGEST_BYTES}")
    if payload.lstrip()[:1] == b"{":
        plain = _read_plain_json(payload)
        report = _read_json(payload) if plain is None else plain
    else:
        report = _read_binary(payload)
    if not report.positions:
        raise MalformedPayload("a PositionReport with no positions")
    return report


def _read_json(payload: bytes) -> positions_pb2.PositionReport:
    report = positions_pb2.PositionReport()
    try:
        json_format.Parse(payload.decode("utf-8"), report)
    except UnicodeDecodeError as error:
        raise MalformedPayload(f"JSON payload is not UTF-8: {error}") from None
    except json_format.ParseError as error:
        raise MalformedPayload(f"not a PositionReport in JSON: {error}") from None
    return report


def _read_binary(payload: bytes) -> positions_pb2.PositionReport:
    report = positions_pb2.PositionReport()
    try:
        report.ParseFromString(payload)
    except DecodeError as error:
        raise MalformedPayload(f"not a PositionReport in protobuf: {error}") from None
    # Arbitrary bytes often parse as unknown fields; a feed never sends any.
    if any(len(UnknownFieldSet(m)) for m in (report, *report.positions)):
        raise MalformedPayload("not a PositionReport in protobuf: unknown fields")
    return report


# The JSON mapping a feed usually sends, read without json_format (which costs several
# times as much): lowerCamelCase names, strings, finite numbers, the domain by name and
# an RFC 3339 observedAt. Anything else (snake_case names, numbers in strings, enum
# numbers, nulls, duplicate keys, errors) goes to json_format, which decides and words
# the error.
_STRINGS = {"unitId": "unit_id", "callsign": "callsign", "platformType": "platform_type"}
_NUMBERS = {
    "latitude": "latitude",
    "longitude": "longitude",
    "altitudeM": "altitude_m",
    "courseDeg": "course_deg",
    "speedMps": "speed_mps",
    "accuracyM": "accuracy_m",
}
_DOMAINS = dict(common_pb2.Domain.items())


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise _Unusual
    return fields


def _read_plain_json(payload: bytes) -> positions_pb2.PositionReport | None:
    """The report, or None when the payload is not in the plain shape."""
    try:
        document = json.loads(payload, object_pairs_hook=_unique_keys)
        if type(document) is not dict or document.keys() != {"positions"}:
            return None
        units = document["positions"]
        if type(units) is not list:
            return None
        report = positions_pb2.PositionReport()
        for fields in units:
            if type(fields) is not dict:
                return None
            _add_unit(report, fields)
    except (ValueError, OverflowError, _Unusual):  # JSONDecodeError, UnicodeDecodeError too
        return None
    return report


def _add_unit(report: positions_pb2.PositionReport, fields: dict[str, Any]) -> None:
    values: dict[str, Any] = {}
    for key, value in fields.items():
        kind = type(value)
        if key in _NUMBERS:
            if (kind is not float and kind is not int) or not math.isfinite(value):
                raise _Unusual
            values[_NUMBERS[key]] = value
        elif key in _STRINGS:
            if kind is not str:
                raise _Unusual
            values[_STRINGS[key]] = value
        elif key == "domain":
            if kind is not str or value not in _DOMAINS:
                raise _Unusual
            values["domain"] = _DOMAINS[value]
        elif key == "observedAt":
            if kind is not str:
                raise _Unusual
            values["observed_at"] = _timestamp(value)
        else:
            raise _Unusual
    report.positions.add(**values)


_UTC_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z", re.ASCII)


def _timestamp(text: str) -> Timestamp:
    """An RFC 3339 time; the common UTC form without ``strptime``, which is slow."""
    match = _UTC_TIME.fullmatch(text)
    if match is None:
        observed = Timestamp()
        observed.FromJsonString(text)  # ValueError when it is not RFC 3339
        return observed
    seconds = (datetime.fromisoformat(match[1]) - _EPOCH) // _SECOND
    return Timestamp(seconds=seconds, nanos=int((match[2] or "").ljust(9, "0")))
