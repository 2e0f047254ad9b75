"""Payload encodings: log records out, position reports in."""

from __future__ import annotations

import base64
import functools
import json
import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.protobuf.unknown_fields import UnknownFieldSet

from hotline.server.bridge.address import PayloadFormat
from hotline.v1 import common_pb2, log_pb2, positions_pb2

#: Largest position feed payload accepted.
MAX_INGEST_BYTES = 256 * 1024
BRIDGE_ONLINE = json.dumps({"state": "online"}).encode()
BRIDGE_OFFLINE = json.dumps({"state": "offline"}).encode()


class _Unusual(Exception):
    """Not in the shape the fast paths below handle: json_format takes it."""


class MalformedPayload(ValueError):
    """A position feed payload that is not a PositionReport; the message says why."""


def encode_record(record: log_pb2.LogRecord, data: bytes, payload_format: PayloadFormat) -> bytes:
    """The payload of a record: ``data`` (its stored bytes) or its JSON mapping.

    The JSON mapping leaves out fields at their default value; ``index`` is written even
    for record 0, so that every payload names its position in the log.
    """
    if payload_format is PayloadFormat.PROTOBUF:
        return data
    try:
        text = json.dumps(_json_object(record))
    except _Unusual:
        text = json_format.MessageToJson(record, indent=None)
    if record.index == 0:
        text = '{"index": "0", ' + text[1:]
    return text.encode()


# The protobuf JSON mapping of the field types the log uses, written without json_format
# (which costs several times as much), to the same text as ``MessageToJson(m,
# indent=None)``: fields in number order, lowerCamelCase, 64-bit integers as strings,
# enums by name, bytes in base64, Timestamp and Duration as strings. Anything else
# (maps, floats, other well-known types, an enum number without a name) goes to
# json_format.
_INT64 = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_PLAIN = frozenset(
    {
        FieldDescriptor.TYPE_STRING,
        FieldDescriptor.TYPE_BOOL,
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_SFIXED32,
    }
)
_TIMESTAMP = "google.protobuf.Timestamp"
_EPOCH = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)
# The range of a Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
_FIRST_SECOND = -62_135_596_800
_LAST_SECOND = 253_402_300_799
_DURATION = "google.protobuf.Duration"


def _json_object(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        name, convert, repeated = _fields.get(field) or _learn(field)
        out[name] = [convert(item) for item in value] if repeated else convert(value)
    return out


# How each field is written, learnt at its first use: descriptor look-ups are not cheap.
_fields: dict[FieldDescriptor, tuple[str, Callable[[Any], Any], bool]] = {}


def _learn(field: FieldDescriptor) -> tuple[str, Callable[[Any], Any], bool]:
    learnt = (field.json_name, _converter(field), field.is_repeated)
    _fields[field] = learnt
    return learnt


def _converter(field: FieldDescriptor) -> Callable[[Any], Any]:
    kind = field.type
    if kind in _PLAIN:
        return _same
    if kind in _INT64:
        return str
    if kind == FieldDescriptor.TYPE_DOUBLE:
        return _finite
    if kind == FieldDescriptor.TYPE_BYTES:
        return _base64
    enum, message = field.enum_type, field.message_type
    if enum is not None:
        names = {number: value.name for number, value in enum.values_by_number.items()}
        return functools.partial(_enum_name, names)
    if message is not None and not message.GetOptions().map_entry:
        full_name = message.full_name
        if full_name == _TIMESTAMP:
            return _time_string
        if full_name == _DURATION:
            return _json_string
        if not full_name.startswith("google.protobuf."):
            return _json_object
    return _unusual


def _same(value: Any) -> Any:
    return value


def _finite(value: float) -> float:
    if math.isfinite(value):
        return value
    raise _Unusual


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _enum_name(names: dict[int, str], value: int) -> str:
    try:
        return names[value]
    except KeyError:
        raise _Unusual from None


def _time_string(value: Timestamp) -> str:
    """``value.ToJsonString()``, at a fraction of the cost: 0, 3, 6 or 9 digits."""
    seconds, nanos = value.seconds, value.nanos
    if not (_FIRST_SECOND <= seconds <= _LAST_SECOND and 0 <= nanos < 1_000_000_000):
        raise _Unusual
    text = (_EPOCH + timedelta(seconds=seconds)).isoformat()
    if nanos == 0:
        return text + "Z"
    if nanos % 1_000_000 == 0:
        return f"{text}.{nanos // 1_000_000:03d}Z"
    if nanos % 1000 == 0:
        return f"{text}.{nanos // 1000:06d}Z"
    return f"{text}.{nanos:09d}Z"


def _json_string(value: Any) -> str:
    return str(value.ToJsonString())


def _unusual(value: Any) -> Any:
    raise _Unusual


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
