"""The broker's address: ``mqtt://user:password@host:port``, or ``mqtts://`` for TLS
(port 8883 by default) with the CA that signed the broker's certificate and, for a
broker that requires one, the bridge's own certificate and key; parsed and checked.

Kept free of the MQTT client library so that the settings can check a URL at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from urllib.parse import unquote, urlsplit

from hotline.server.errors import ConfigurationError
from hotline.server.urls import redacted

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883


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
    #: ``mqtts://``: TLS to the broker.
    tls: bool = False
    #: PEM files: the CA of the broker's certificate (None: the system's), and the
    #: bridge's certificate and key for a broker that requires client certificates.
    ca: Path | None = None
    certificate: Path | None = None
    key: Path | None = None

    def __str__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    def with_tls_files(
        self, ca: Path | None, certificate: Path | None, key: Path | None
    ) -> BrokerAddress:
        """This address with the TLS files; :class:`ConfigurationError` if they are given
        for a plaintext ``mqtt://`` URL, a certificate comes without its key (or a key
        without its certificate), or a file does not exist."""
        if not (ca or certificate or key):
            return self
        if not self.tls:
            raise ConfigurationError(
                f"MQTT broker {self}: TLS files are given, but the URL is plaintext; use mqtts://"
            )
        if (certificate is None) != (key is None):
            raise ConfigurationError(
                "MQTT over TLS: a client certificate needs its key, and a key its certificate"
            )
        for what, path in (("CA", ca), ("certificate", certificate), ("key", key)):
            if path is not None and not path.is_file():
                raise ConfigurationError(f"MQTT TLS {what} file {path} does not exist")
        return replace(self, ca=ca, certificate=certificate, key=key)


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://user:password@host:1883`` or ``mqtts://user:password@host:8883`` (user,
    password and port optional; user and password percent-decoded). Raises
    :class:`ConfigurationError` naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ConfigurationError(
            f"MQTT broker URL {redacted(url)!r}: expected mqtt://user:password@host:port "
            "(or mqtts:// for TLS)"
        )
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT)
    except ValueError:
        raise ConfigurationError(f"MQTT broker URL {redacted(url)!r}: bad port") from None
    if not parts.hostname:
        raise ConfigurationError(f"MQTT broker URL {redacted(url)!r}: no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigurationError(
            f"MQTT broker URL {redacted(url)!r}: no path or query expected after the port"
        )
    return BrokerAddress(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        tls=tls,
    )
