"""Hand-built protobuf framing for the delivery hot path.

An envelope is serialised once when it is recorded; every console that receives it gets
those bytes framed into its ``SessionResponse`` without parsing or re-serialising. The
framing is the protobuf wire format for a length-delimited field.
"""

from __future__ import annotations

from collections.abc import Iterable


def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def length_delimited(field_number: int, payload: bytes) -> bytes:
    """One length-delimited field (wire type 2)."""
    return varint(field_number << 3 | 2) + varint(len(payload)) + payload


def repeated(field_number: int, payloads: Iterable[bytes]) -> bytes:
    return b"".join(length_delimited(field_number, p) for p in payloads)


# SessionResponse.deliveries = 2 (EnvelopeBatch), EnvelopeBatch.envelopes = 1.
_SESSION_DELIVERIES = 2
_BATCH_ENVELOPES = 1


def deliveries_response(envelopes: Iterable[bytes]) -> bytes:
    """A serialised ``SessionResponse`` carrying these serialised envelopes."""
    return length_delimited(_SESSION_DELIVERIES, repeated(_BATCH_ENVELOPES, envelopes))


# WatchResponse.records = 1.
_WATCH_RECORDS = 1


def watch_response(records: Iterable[bytes]) -> bytes:
    """A serialised ``WatchResponse`` carrying these serialised log records."""
    return repeated(_WATCH_RECORDS, records)
