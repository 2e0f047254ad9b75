"""The exercise PKI: a certificate authority, the certificates it issues to the server,
stations and exercise control, and the revocation list.

A station certificate names its holder in a SAN URI, the same facts a token carries:
``hotline://EXERCISE/PARTY/HOTLINE/SEAT`` (seat ``primary`` or ``standby``), e.g.
``hotline://deir-ezzor-drill/BLUE/AIR_OPERATIONS/primary``; exercise control, observers
and admins get ``hotline://EXERCISE/ROLE/NAME`` (role ``control``, ``observer`` or
``admin``). The MQTT bridge's certificate, for a broker, names none. The CA's key is
P-256 or Ed25519; the keys it issues are P-256 (what gRPC's TLS handshake signs with).
Private keys are written 0600. Everything cryptographic is ``cryptography``'s.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hotline.server.errors import ConfigurationError
from hotline.server.exercise import hotline_name, parse_hotline
from hotline.server.identity import Credential
from hotline.server.private_files import write_private, write_public
from hotline.v1 import common_pb2

__all__ = [
    "ALGORITHMS",
    "Authority",
    "Issued",
    "PrivateKey",
    "credential_uri",
    "parse_credential_uri",
    "read_certificate",
    "revocation_list",
]

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

ALGORITHMS = ("p256", "ed25519")
SCHEME = "hotline"
_SEATS = {"primary": common_pb2.OPERATOR_PRIMARY, "standby": common_pb2.OPERATOR_STANDBY}
_ROLES = {
    "control": common_pb2.ROLE_EXERCISE_CONTROL,
    "observer": common_pb2.ROLE_OBSERVER,
    "admin": common_pb2.ROLE_ADMIN,
}
#: A revocation list is re-signed this often at the least (its ``next_update``).
CRL_VALIDITY = dt.timedelta(days=30)


def credential_uri(exercise_id: str, credential: Credential) -> str:
    """The SAN URI naming ``credential``'s holder in ``exercise_id``."""
    if credential.is_participant:
        seat = "standby" if credential.operator == common_pb2.OPERATOR_STANDBY else "primary"
        return (
            f"{SCHEME}://{exercise_id}/{credential.party}/{hotline_name(credential.hotline)}/{seat}"
        )
    role = next(name for name, value in _ROLES.items() if value == credential.role)
    return f"{SCHEME}://{exercise_id}/{role}/{credential.subject}"


def parse_credential_uri(uri: str) -> tuple[str, Credential]:
    """The exercise and the credential a SAN URI names; ValueError if it names none."""
    parts = urlsplit(uri)
    segments = [s for s in parts.path.split("/") if s]
    if parts.scheme != SCHEME or not parts.netloc:
        raise ValueError(f"{uri!r} is not a {SCHEME}://EXERCISE/... identity")
    if len(segments) == 3 and segments[2] in _SEATS:
        party, hotline, seat = segments
        return parts.netloc, Credential(
            subject=f"{party}/{hotline}",
            role=common_pb2.ROLE_PARTICIPANT,
            party=party,
            hotline=parse_hotline(hotline),
            operator=_SEATS[seat],
        )
    if len(segments) == 2 and segments[0] in _ROLES:
        return parts.netloc, Credential(subject=segments[1], role=_ROLES[segments[0]])
    raise ValueError(
        f"{uri!r}: expected {SCHEME}://EXERCISE/PARTY/HOTLINE/primary|standby "
        f"or {SCHEME}://EXERCISE/control|observer|admin/NAME"
    )


def _new_key(algorithm: str) -> PrivateKey:
    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ConfigurationError(f"key algorithm {algorithm!r}: choose one of {', '.join(ALGORITHMS)}")


def _hash_for(key: PrivateKey) -> hashes.SHA256 | None:
    # Ed25519 signs the message itself; it takes no separate hash.
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def read_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"certificate {path}: {error}") from None


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, PEM-encoded."""

    certificate: bytes
    key: bytes
    serial: int


class Authority:
    """An exercise certificate authority: its certificate and key."""

    def __init__(self, certificate: x509.Certificate, key: PrivateKey) -> None:
        self.certificate = certificate
        self.key = key

    @property
    def exercise_id(self) -> str:
        names = self.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        return str(names[0].value) if names else ""

    @classmethod
    def create(
        cls,
        exercise_id: str,
        algorithm: str = "p256",
        days: float = 365,
        now: dt.datetime | None = None,
    ) -> Authority:
        """A new self-signed CA for ``exercise_id``."""
        key = _new_key(algorithm)
        now = now or dt.datetime.now(dt.UTC)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, exercise_id),
                x509.NameAttribute(NameOID.COMMON_NAME, f"hotline exercise CA {exercise_id}"),
            ]
        )
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, _hash_for(key))
        )
        return cls(certificate, key)

    @classmethod
    def load(cls, directory: Path) -> Authority:
        """The CA kept in ``directory`` (``ca.crt``, ``ca.key``)."""
        certificate = read_certificate(directory / "ca.crt")
        try:
            key = serialization.load_pem_private_key(
                (directory / "ca.key").read_bytes(), password=None
            )
        except (OSError, ValueError) as error:
            raise ConfigurationError(f"CA key {directory / 'ca.key'}: {error}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise ConfigurationError(f"CA key {directory / 'ca.key'}: not P-256 or Ed25519")
        return cls(certificate, key)

    def save(self, directory: Path) -> None:
        write_private(directory / "ca.key", _key_pem(self.key))
        write_public(directory / "ca.crt", self.certificate_pem)

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue_server(self, names: Sequence[str], *, days: float = 90) -> Issued:
        """A server certificate valid for the DNS names and IP addresses ``names``."""
        alternatives: list[x509.GeneralName] = []
        for name in names:
            try:
                alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alternatives.append(x509.DNSName(name))
        return self._issue(names[0], alternatives, ExtendedKeyUsageOID.SERVER_AUTH, days)

    def issue_bridge(self, name: str, *, days: float = 90) -> Issued:
        """A client certificate for the MQTT bridge to present to a broker; it names no
        hotline identity, so the gRPC server accepts it from nobody."""
        return self._issue(name, [x509.DNSName(name)], ExtendedKeyUsageOID.CLIENT_AUTH, days)

    def issue_client(
        self,
        credential: Credential,
        *,
        days: float = 30,
        now: dt.datetime | None = None,
    ) -> Issued:
        """A certificate binding its holder to ``credential`` (station or role) in this
        CA's exercise."""
        uri = credential_uri(self.exercise_id, credential)
        return self._issue(
            credential.station_label,
            [x509.UniformResourceIdentifier(uri)],
            ExtendedKeyUsageOID.CLIENT_AUTH,
            days,
            now,
        )

    def _issue(
        self,
        common_name: str,
        alternatives: Iterable[x509.GeneralName],
        usage: x509.ObjectIdentifier,
        days: float,
        now: dt.datetime | None = None,
    ) -> Issued:
        if not days > 0:
            raise ConfigurationError(f"a certificate must be valid for some time, not {days} days")
        # P-256 whatever the CA's algorithm: gRPC's TLS offers no Ed25519 signatures in
        # the handshake, though it checks an Ed25519 CA's signature on a certificate.
        key = _new_key("p256")
        now = now or dt.datetime.now(dt.UTC)
        serial = x509.random_serial_number()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.exercise_id),
                        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                    ]
                )
            )
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(list(alternatives)), critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, _hash_for(self.key))
        )
        return Issued(certificate.public_bytes(serialization.Encoding.PEM), _key_pem(key), serial)

    def revocation_list(
        self, revoked: Iterable[int], now: dt.datetime | None = None
    ) -> x509.CertificateRevocationList:
        """A CRL, signed by this CA, of the serial numbers (and token ids) ``revoked``."""
        now = now or dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now)
            .next_update(now + CRL_VALIDITY)
        )
        for serial in sorted(set(revoked)):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
            )
        return builder.sign(self.key, _hash_for(self.key))


def revocation_list(data: bytes, ca: x509.Certificate) -> frozenset[int]:
    """The serial numbers in a PEM CRL signed by ``ca``; ValueError if it is not one."""
    crl = x509.load_pem_x509_crl(data)
    if crl.issuer != ca.subject or not crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
        raise ValueError("the revocation list is not signed by the exercise CA")
    return frozenset(entry.serial_number for entry in crl)
