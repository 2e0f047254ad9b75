"""Hand-built protobuf framing for the delivery hot path.

An envelope is serialised once when it is recorded; every console that receives it gets
those bytes framed into its ``SessionResponse`` without parsing or re-serialising. The
framing is the protobuf wire format for a length-delimited field.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The one-byte varints (0-127): tags and the lengths of small payloads.
_ONE_BYTE = tuple(bytes((value,)) for value in range(0x80))


def varint(value: int) -> bytes:
    if value < 0x80:
        return _ONE_BYTE[value]
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


def item(payload: bytes) -> bytes:
    """One entry of ``EnvelopeBatch.envelopes`` or ``WatchResponse.records`` (both field
    1): framed once, then joined as often as needed."""
    return length_delimited(_BATCH_ENVELOPES, payload)


def deliveries_response(items: Iterable[bytes]) -> bytes:
    """A serialised ``SessionResponse`` carrying these framed envelopes (see :func:`item`)."""
    return length_delimited(_SESSION_DELIVERIES, b"".join(items))


def watch_response(items: Iterable[bytes]) -> bytes:
    """A serialised ``WatchResponse`` carrying these framed log records (see :func:`item`);
    repeated fields simply concatenate."""
    return b"".join(items)
