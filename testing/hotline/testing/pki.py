"""A throwaway exercise PKI: a CA, the server's certificate for loopback, station and
control certificates, the revocation list, and the client TLS settings for each."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from hotline.client import Tls
from hotline.server.exercise import Hotline
from hotline.server.identity import Credential
from hotline.server.pki import Authority, Issued
from hotline.server.private_files import write_private, write_public
from hotline.v1 import common_pb2


@dataclass
class ExercisePki:
    """An exercise CA in ``directory``, with a server certificate for 127.0.0.1 (or the
    one made there before). ``algorithm`` is the CA's; what it issues has P-256 keys."""

    directory: Path
    exercise_id: str = "default"
    algorithm: str = "p256"
    authority: Authority = field(init=False)
    revoked: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if (self.directory / "ca.key").exists():
            self.authority = Authority.load(self.directory)
            return
        self.authority = Authority.create(self.exercise_id, self.algorithm)
        self.authority.save(self.directory)
        server = self.authority.issue_server(["127.0.0.1", "localhost"])
        self.save("server", server)

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def revocation_file(self) -> Path:
        return self.directory / "revoked.crl"

    def save(self, stem: str, issued: Issued) -> None:
        write_public(self.directory / f"{stem}.crt", issued.certificate)
        write_private(self.directory / f"{stem}.key", issued.key)

    def server_settings(self, *, mutual: bool = False, revocations: bool = False) -> dict[str, Any]:
        """The :class:`~hotline.server.settings.Settings` fields of a TLS server."""
        settings: dict[str, Any] = {
            "tls_cert": self.directory / "server.crt",
            "tls_key": self.directory / "server.key",
        }
        if mutual:
            settings["client_ca"] = self.ca_file
        if revocations:
            settings["revocations"] = self.revocation_file
        return settings

    def tls(self, issued: Issued | None = None) -> Tls:
        """Client TLS trusting this CA, presenting ``issued`` if given."""
        ca = self.ca_file.read_bytes()
        if issued is None:
            return Tls(ca=ca)
        return Tls(ca=ca, certificate=issued.certificate, key=issued.key)

    def station(
        self, party: str, hotline: Hotline, *, standby: bool = False, days: float = 30
    ) -> Issued:
        operator = common_pb2.OPERATOR_STANDBY if standby else common_pb2.OPERATOR_PRIMARY
        credential = Credential(
            subject=f"{party} operator",
            role=common_pb2.ROLE_PARTICIPANT,
            party=party,
            hotline=hotline,
            operator=operator,
        )
        return self.authority.issue_client(credential, days=days)

    def control(self, name: str = "trainer") -> Issued:
        credential = Credential(subject=name, role=common_pb2.ROLE_EXERCISE_CONTROL)
        return self.authority.issue_client(credential)

    def bridge(self) -> tuple[Path, Path]:
        """The MQTT bridge's certificate and key files."""
        self.save("bridge", self.authority.issue_bridge("hotline-bridge"))
        return self.directory / "bridge.crt", self.directory / "bridge.key"

    def revoke(self, *ids: int | str) -> None:
        """Adds certificate serials or token ids to the revocation list file."""
        self.revoked |= {i if isinstance(i, int) else int(i, 16) for i in ids}
        crl = self.authority.revocation_list(self.revoked)
        write_public(self.revocation_file, crl.public_bytes(serialization.Encoding.PEM))
