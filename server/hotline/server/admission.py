"""Who a call comes from: the bearer token, the client certificate (mutual TLS), or both,
checked against each other and against the revocation list.

- A token alone (no mutual TLS): the token is the credential.
- A client certificate alone (mutual TLS): the certificate's SAN URI is the credential
  (see :mod:`hotline.server.pki`).
- Both: they must name the same station, seat and role, else PERMISSION_DENIED.

A credential whose id (token id or certificate serial) is revoked is refused with
UNAUTHENTICATED: on the exercise CA's revocation list (``hotline pki revoke``, re-read
when its file changes), or revoked by exercise control during the exercise
(:class:`RevokedIds`, kept in the data directory).
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

from hotline.server.errors import (
    ConfigurationError,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from hotline.server.exercise import Exercise, hotline_name
from hotline.server.identity import Credential, TokenAuthority, bearer_token
from hotline.server.pki import parse_credential_uri, read_certificate, revocation_list
from hotline.server.private_files import create_private_file
from hotline.server.tls import peer_certificate
from hotline.v1 import common_pb2

__all__ = ["Admission", "Revocations", "RevokedIds", "parse_credential_id"]

log = logging.getLogger(__name__)

#: Certificate serial numbers have at most 20 bytes.
_MAX_ID_DIGITS = 40


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


def parse_credential_id(text: str) -> int:
    """A credential id (hexadecimal); InvalidArgument if it is not one."""
    try:
        value = int(text, 16)
    except ValueError:
        value = -1
    if value < 0 or not text or len(text) > _MAX_ID_DIGITS:
        raise InvalidArgument(
            f"credential_id: {text[:64]!r} is not a credential id (hexadecimal, as "
            "'hotline token' and 'hotline pki issue' print it)"
        )
    return value


class RevokedIds:
    """Credentials exercise control revoked during the exercise, one id per line in a
    file of the data directory (0600), so that a restart keeps them revoked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.ids = {int(line, 16) for line in path.read_text(encoding="ascii").split()}
        except FileNotFoundError:
            self.ids = set()
        except (OSError, ValueError) as error:
            raise ConfigurationError(f"revoked credentials {path}: {error}") from None

    def add(self, credential_id: int) -> None:
        """Revokes ``credential_id``, on disk before this returns."""
        if credential_id in self.ids:
            return
        self.ids.add(credential_id)
        create_private_file(self.path)
        with self.path.open("a", encoding="ascii") as handle:
            handle.write(f"{credential_id:x}\n")
            handle.flush()
            os.fsync(handle.fileno())


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
        revoked: RevokedIds | None = None,
    ) -> None:
        self.tokens = tokens
        self.exercise = exercise
        self.revocations = revocations
        self.revoked = revoked

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
        if self.is_revoked(credential):
            raise Unauthenticated(
                f"credential {credential.credential_id} has been revoked; ask exercise "
                "control for a new one"
            )
        return credential

    def is_revoked(self, credential: Credential) -> bool:
        """Whether ``credential`` is on the revocation list or was revoked by exercise
        control."""
        try:
            value = int(credential.credential_id, 16)
        except ValueError:
            return False
        return (self.revocations is not None and value in self.revocations.revoked) or (
            self.revoked is not None and value in self.revoked.ids
        )

    def revoke(self, credential_id: int) -> None:
        """Revokes a credential from now on (exercise control, during the exercise)."""
        if self.revoked is None:
            raise FailedPrecondition("this server keeps no revocations")
        self.revoked.add(credential_id)
