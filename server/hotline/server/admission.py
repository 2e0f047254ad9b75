"""Who a call comes from: the bearer token, the client certificate (mutual TLS), or both,
checked against each other and against the revocation list.

- A token alone (no mutual TLS): the token is the credential.
- A client certificate alone (mutual TLS): the certificate's SAN URI is the credential
  (see :mod:`hotline.server.pki`).
- Both: they must name the same station, seat and role, else PERMISSION_DENIED.

A credential whose id (token id or certificate serial) is on the revocation list is
refused with UNAUTHENTICATED; the list is re-read when its file changes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography import x509

from hotline.server.errors import ConfigurationError, PermissionDenied, Unauthenticated
from hotline.server.exercise import Exercise, hotline_name
from hotline.server.identity import Credential, TokenAuthority, bearer_token
from hotline.server.pki import parse_credential_uri, read_certificate, revocation_list
from hotline.server.tls import peer_certificate
from hotline.v1 import common_pb2

__all__ = ["Admission", "Revocations"]

log = logging.getLogger(__name__)


class Revocations:
    """The revocation list at ``path`` (a CRL signed by the exercise CA ``ca``): the ids
    of revoked credentials, re-read by :meth:`refresh` when the file changes."""

    def __init__(self, path: Path, ca: Path) -> None:
        self.path = path
        self._ca = read_certificate(ca)
        self._stamp: tuple[int, int] | None = None
        self.revoked: frozenset[int] = frozenset()
        if not self.refresh():
            raise ConfigurationError(f"revocation list {path}: cannot be read")

    def refresh(self) -> bool:
        """Re-reads the list if its file changed; False if it cannot be read (the list
        read before stays in force)."""
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            # No list yet: nothing is revoked.
            self._stamp, self.revoked = None, frozenset()
            return True
        except OSError as error:
            log.warning("revocation list %s: %s", self.path, error.strerror)
            return False
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp == self._stamp:
            return True
        try:
            revoked = revocation_list(self.path.read_bytes(), self._ca)
        except (OSError, ValueError) as error:
            log.warning("revocation list %s not read: %s", self.path, error)
            return False
        if self._stamp is not None:
            log.info("revocation list %s: %d credentials revoked", self.path, len(revoked))
        self._stamp, self.revoked = stamp, revoked
        return True

    def is_revoked(self, credential_id: str) -> bool:
        try:
            return int(credential_id, 16) in self.revoked
        except ValueError:
            return False


def _seat(credential: Credential) -> str:
    if not credential.is_participant:
        return common_pb2.Role.Name(credential.role).removeprefix("ROLE_")
    seat = "standby" if credential.operator == common_pb2.OPERATOR_STANDBY else "primary"
    return f"{credential.party}/{hotline_name(credential.hotline)} {seat}"


class Admission:
    """Authenticates calls: by token, by client certificate, or by both in agreement."""

    def __init__(
        self,
        tokens: TokenAuthority,
        exercise: Exercise,
        revocations: Revocations | None = None,
    ) -> None:
        self.tokens = tokens
        self.exercise = exercise
        self.revocations = revocations

    def admit(
        self,
        metadata: Iterable[tuple[str, Any]] | None,
        auth_context: Mapping[str, Iterable[bytes]],
    ) -> Credential:
        """The caller's credential. Raises Unauthenticated without a valid one (none, an
        expired, revoked or foreign one), PermissionDenied when the certificate and the
        token name different holders."""
        certificate = peer_certificate(auth_context)
        metadata = list(metadata or ())
        if certificate is None or any(k.lower() == "authorization" for k, _ in metadata):
            token_credential = self._checked(self.tokens.verify(bearer_token(metadata)))
            if certificate is None:
                return token_credential
        else:
            token_credential = None
        held = self._checked(self._from_certificate(certificate))
        if token_credential is None:
            return held
        if _seat(held) != _seat(token_credential):
            raise PermissionDenied(
                f"the client certificate is {_seat(held)}'s but the token is "
                f"{_seat(token_credential)}'s; present the token issued for this certificate"
            )
        return replace(
            token_credential, expires_at=min(token_credential.expires_at, held.expires_at)
        )

    def _from_certificate(self, certificate: x509.Certificate) -> Credential:
        serial = format(certificate.serial_number, "x")
        try:
            names = certificate.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value.get_values_for_type(x509.UniformResourceIdentifier)
        except x509.ExtensionNotFound:
            names = []
        for uri in names:
            try:
                exercise_id, credential = parse_credential_uri(uri)
            except ValueError:
                continue
            if exercise_id != self.exercise.exercise_id:
                raise Unauthenticated(
                    f"the client certificate {serial} is for exercise {exercise_id!r}, "
                    f"not {self.exercise.exercise_id!r}"
                )
            if credential.is_participant and not self.exercise.station(
                credential.party, credential.hotline
            ):
                raise Unauthenticated(
                    f"the client certificate {serial} names no station of this exercise: {uri}"
                )
            expires = certificate.not_valid_after_utc.timestamp()
            if expires <= dt.datetime.now(dt.UTC).timestamp():
                raise Unauthenticated(f"the client certificate {serial} has expired")
            return replace(credential, credential_id=serial, expires_at=expires)
        raise Unauthenticated(
            f"the client certificate {serial} names no hotline identity (a SAN URI "
            "hotline://EXERCISE/...); issue it with 'hotline pki issue'"
        )

    def _checked(self, credential: Credential) -> Credential:
        if self.revocations is not None and self.revocations.is_revoked(credential.credential_id):
            raise Unauthenticated(
                f"credential {credential.credential_id} has been revoked; ask exercise "
                "control for a new one"
            )
        return credential

    def is_revoked(self, credential: Credential) -> bool:
        return self.revocations is not None and self.revocations.is_revoked(
            credential.credential_id
        )
