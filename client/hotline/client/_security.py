"""How a client reaches the server: the channel's transport security and the credential.

- :class:`Tls`: TLS to a server whose certificate the exercise CA signed, and for
  mutual TLS the station's own certificate and key. Without it the channel is plaintext,
  which the server allows on loopback alone.
- :class:`TokenFile`: a token read from a file each time a session opens, so that a
  renewed file is picked up without a restart (tokens never need to be on a command
  line).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import grpc

from hotline.client._errors import HotlineClientError

__all__ = ["Tls", "TokenFile", "TokenSource", "metadata", "open_channel", "read_token"]

#: A credential: the token itself, something that reads it when a session opens (e.g. a
#: :class:`TokenFile`), or None to present the client certificate alone (mutual TLS).
TokenSource: TypeAlias = str | Callable[[], str] | None


@dataclass(frozen=True)
class Tls:
    """TLS for the channel: ``ca`` (PEM) is the certificate authority the server's
    certificate must come from (None: the system's); ``certificate`` and ``key`` (PEM)
    are this client's, for a server that requires mutual TLS."""

    ca: bytes | None = None
    certificate: bytes | None = None
    key: bytes | None = None

    @classmethod
    def from_files(
        cls,
        ca: Path | str | None = None,
        certificate: Path | str | None = None,
        key: Path | str | None = None,
    ) -> Tls:
        """TLS from PEM files; :class:`~hotline.client.HotlineClientError` if one cannot
        be read, or a certificate comes without its key (or a key without its
        certificate)."""
        if (certificate is None) != (key is None):
            raise HotlineClientError(
                "a client certificate needs its key, and a key its certificate"
            )
        return cls(
            ca=_read(ca, "CA certificate"),
            certificate=_read(certificate, "client certificate"),
            key=_read(key, "client key"),
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """gRPC's channel credentials for this configuration."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.certificate
        )


def _read(path: Path | str | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise HotlineClientError(f"{what} {path}: {error.strerror}") from None


class TokenFile:
    """The token in the file at ``path``, read anew at each call (a session that opens
    after the file was renewed uses the renewed token)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __call__(self) -> str:
        """The token now in the file; :class:`~hotline.client.HotlineClientError` if the
        file cannot be read or is empty."""
        try:
            token = self.path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise HotlineClientError(f"token file {self.path}: {error.strerror}") from None
        if not token:
            raise HotlineClientError(f"token file {self.path} is empty")
        return token


def read_token(source: TokenSource) -> str:
    """The token ``source`` gives now ("" for none)."""
    if source is None:
        return ""
    return source if isinstance(source, str) else source()


def metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The call metadata presenting ``token`` (none for no token)."""
    return (("authorization", f"Bearer {token}"),) if token else ()


def open_channel(
    address: str, options: Sequence[tuple[str, int | str]], tls: Tls | None
) -> grpc.aio.Channel:
    """A channel to ``address``: TLS with ``tls``, else plaintext."""
    if tls is None:
        return grpc.aio.insecure_channel(address, options=options)
    return grpc.aio.secure_channel(address, tls.channel_credentials(), options=options)
