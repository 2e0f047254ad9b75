"""The broker's address: ``mqtt://user:password@host:port``, parsed and checked.

Kept free of the MQTT client library so that the settings can check a URL at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import unquote, urlsplit

from hotline.server.errors import ConfigurationError

DEFAULT_PORT = 1883


class PayloadFormat(Enum):
    """How log records are encoded on the outbound topics."""

    #: The protobuf JSON mapping of ``hotline.v1.LogRecord`` (lowerCamelCase names).
    JSON = "json"
    #: The serialised ``hotline.v1.LogRecord``: exactly the bytes the audit log hashes.
    PROTOBUF = "protobuf"


def parse_format(text: str) -> PayloadFormat:
    try:
        return PayloadFormat(text.strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in PayloadFormat)
        raise ConfigurationError(f"MQTT payload format {text!r}: choose {choices}") from None


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"mqtt://{user}{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://user:password@host:1883`` (user, password and port optional; user and
    password percent-decoded). Raises :class:`ConfigurationError` naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt":
        raise ConfigurationError(
            f"MQTT broker URL {_redacted(url)!r}: expected mqtt://user:password@host:port"
        )
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ConfigurationError(f"MQTT broker URL {_redacted(url)!r}: bad port") from None
    if not parts.hostname:
        raise ConfigurationError(f"MQTT broker URL {_redacted(url)!r}: no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigurationError(
            f"MQTT broker URL {_redacted(url)!r}: no path or query expected after the port"
        )
    return BrokerAddress(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def _redacted(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
