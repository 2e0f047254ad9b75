"""Strict base64 shared by the note, checkpoint and proof-bundle parsers."""

from __future__ import annotations

import base64
import binascii


def strict_b64decode(text: str) -> bytes:
    """Decodes standard base64 (RFC 4648 §4) with padding, accepting only the canonical
    encoding, so that one value has one spelling. Raises ``ValueError`` otherwise."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError("not base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return raw
