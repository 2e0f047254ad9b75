"""Transport security of the gRPC listener: TLS, mutual TLS, and the one plaintext case.

With a certificate and key the server listens on TLS only; with a client CA as well it
requires every caller to present a certificate from that CA (mutual TLS). Without them
it listens in plaintext, which is allowed on a loopback address alone (the embedded
default, ``127.0.0.1:50051``): anything that crosses a network is encrypted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from pathlib import Path

import grpc
from cryptography import x509

from hotline.server.errors import ConfigurationError

__all__ = ["is_loopback", "peer_certificate", "server_credentials"]

#: Where gRPC puts the peer's certificate in a call's auth context.
_PEER_CERTIFICATE = "x509_pem_cert"


def is_loopback(listen: str) -> bool:
    """Whether the ``HOST:PORT`` listen address is on the loopback interface only."""
    host = listen.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigurationError(f"{what} {path}: {error.strerror}") from None
    if b"-----BEGIN" not in data:
        raise ConfigurationError(f"{what} {path}: not a PEM file")
    return data


def server_credentials(
    certificate: Path, key: Path, client_ca: Path | None
) -> grpc.ServerCredentials:
    """gRPC's TLS credentials from PEM files: the server's certificate (chain) and key,
    and with ``client_ca`` a client certificate from that CA required of every caller."""
    chain = _read(certificate, "TLS certificate")
    try:
        x509.load_pem_x509_certificate(chain)
    except ValueError as error:
        raise ConfigurationError(f"TLS certificate {certificate}: {error}") from None
    pair = (_read(key, "TLS key"), chain)
    if client_ca is None:
        return grpc.ssl_server_credentials([pair])
    return grpc.ssl_server_credentials(
        [pair],
        root_certificates=_read(client_ca, "client CA"),
        require_client_auth=True,
    )


def peer_certificate(auth_context: Mapping[str, Iterable[bytes]]) -> x509.Certificate | None:
    """The certificate the caller presented (mutual TLS), None if it presented none."""
    for pem in auth_context.get(_PEER_CERTIFICATE, ()):
        return x509.load_pem_x509_certificate(pem)
    return None
