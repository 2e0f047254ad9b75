"""Credentials: who is connecting, as which party, station and role.

A credential is a signed token (JWT, HS256) bound to the exercise, the party, the
station's hotline, the role and the operator seat. The secret lives in the server's data
directory; ``hotline token`` issues credentials with it.
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeAlias

import jwt

from hotline.server.errors import InvalidArgument, PermissionDenied, Unauthenticated
from hotline.server.exercise import Exercise, Hotline, hotline_name, parse_hotline
from hotline.server.private_files import make_private_directory
from hotline.v1 import common_pb2

Role: TypeAlias = common_pb2.Role.ValueType
Operator: TypeAlias = common_pb2.Operator.ValueType

_ALGORITHM = "HS256"
_SECRET_BYTES = 32
#: Token ids are drawn like certificate serial numbers, so that one revocation list
#: holds both.
_ID_BITS = 120


@dataclass(frozen=True)
class Credential:
    """What a verified token says about its holder."""

    subject: str
    role: Role
    party: str = ""
    hotline: Hotline = common_pb2.HOTLINE_UNSPECIFIED
    operator: Operator = common_pb2.OPERATOR_PRIMARY
    #: The token's id or the certificate's serial number (hex), as revoked by
    #: ``hotline pki revoke``; empty for a credential made in code.
    credential_id: str = field(default="", compare=False)
    #: UNIX seconds when the credential stops being valid; 0: never.
    expires_at: float = field(default=0.0, compare=False)

    @property
    def is_participant(self) -> bool:
        return self.role == common_pb2.ROLE_PARTICIPANT

    @property
    def may_watch(self) -> bool:
        """Exercise control, observers and admins see every hotline."""
        return self.role in (
            common_pb2.ROLE_EXERCISE_CONTROL,
            common_pb2.ROLE_OBSERVER,
            common_pb2.ROLE_ADMIN,
        )

    @property
    def may_control(self) -> bool:
        return self.role in (common_pb2.ROLE_EXERCISE_CONTROL, common_pb2.ROLE_ADMIN)

    @functools.cached_property
    def station_label(self) -> str:
        if not self.is_participant:
            return f"{common_pb2.Role.Name(self.role).removeprefix('ROLE_')}:{self.subject}"
        return f"{self.party}/{hotline_name(self.hotline)}"

    def require_control(self, what: str) -> None:
        if not self.may_control:
            raise PermissionDenied(f"{what} is for exercise control; {self.station_label} may not")

    def require_watch(self, what: str) -> None:
        if not self.may_watch:
            raise PermissionDenied(
                f"{what} is for exercise control and observers; {self.station_label} may not"
            )


def load_or_create_secret(path: Path) -> bytes:
    """The token secret at ``path``, created (mode 0600) on first use."""
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        make_private_directory(path.parent)
        secret = secrets.token_bytes(_SECRET_BYTES)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secret.hex() + "\n")
        return secret


class TokenAuthority:
    """Issues and verifies the exercise's credentials."""

    def __init__(self, secret: bytes, exercise: Exercise) -> None:
        self._secret = secret
        self._exercise = exercise

    def issue(self, credential: Credential, ttl_s: float = 7 * 24 * 3600) -> str:
        """A token for ``credential``, valid for ``ttl_s`` seconds; refuses a participant
        whose station does not exist, and a lifetime that is not positive."""
        if not ttl_s > 0:
            raise InvalidArgument(f"a credential must be valid for some time, not {ttl_s} s")
        if credential.is_participant and not self._exercise.station(
            credential.party, credential.hotline
        ):
            raise PermissionDenied(
                f"no station for party {credential.party!r} on "
                f"{hotline_name(credential.hotline)} in exercise {self._exercise.exercise_id!r}"
            )
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": credential.subject,
            "aud": self._exercise.exercise_id,
            "iat": now,
            "exp": now + max(1, round(ttl_s)),
            "jti": format(secrets.randbits(_ID_BITS), "x"),
            "role": common_pb2.Role.Name(credential.role),
            "op": common_pb2.Operator.Name(credential.operator),
        }
        if credential.is_participant:
            claims["party"] = credential.party
            claims["hotline"] = hotline_name(credential.hotline)
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def verify(self, token: str) -> Credential:
        """The credential a token carries; :class:`Unauthenticated` if it is not valid here."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                audience=self._exercise.exercise_id,
                options={"require": ["sub", "aud", "exp", "role"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the credential has expired; ask for a new one") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(
                f"the credential is for another exercise, not {self._exercise.exercise_id!r}"
            ) from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated(
                "the credential was not signed with this server's key (token.key in its "
                "data directory): issue it with 'hotline token --data-dir DIR' where DIR is "
                "the server's data directory"
            ) from None
        except jwt.InvalidTokenError as error:
            raise Unauthenticated(f"the credential is not valid: {error}") from None
        try:
            role = common_pb2.Role.Value(claims["role"])
            operator = common_pb2.Operator.Value(claims.get("op", "OPERATOR_PRIMARY"))
            credential = Credential(
                subject=str(claims["sub"]),
                role=role,
                operator=operator,
                credential_id=str(claims.get("jti", "")),
                expires_at=float(claims["exp"]),
            )
            if credential.is_participant:
                credential = replace(
                    credential,
                    party=str(claims["party"]),
                    hotline=parse_hotline(str(claims["hotline"])),
                )
        except (KeyError, ValueError) as error:
            raise Unauthenticated(f"the credential is malformed: {error}") from None
        if credential.is_participant and not self._exercise.station(
            credential.party, credential.hotline
        ):
            raise Unauthenticated(f"the credential names no station of this exercise: {claims}")
        return credential


def bearer_token(metadata: Iterable[tuple[str, Any]] | None) -> str:
    """The token of an ``authorization: Bearer <token>`` header."""
    for key, value in metadata or ():
        if key.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("authorization metadata must be 'Bearer <token>'")
            return token.strip()
    raise Unauthenticated(
        "no credential: send 'authorization: Bearer <token>' (issue one with 'hotline token')"
    )
