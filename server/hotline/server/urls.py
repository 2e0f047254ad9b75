"""Addresses with credentials in them (a PostgreSQL log, an MQTT broker), as they may be
shown: in logs and error messages, without their password."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["redacted"]


def redacted(url: str) -> str:
    """``url`` with its password replaced by ``***`` (anything else as it is)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
