"""The server's settings: one typed object from the environment and the command line.

Environment variables (each overridden by the matching ``hotline serve`` option):
``HOTLINE_LISTEN`` (address, default ``127.0.0.1:50051``), ``HOTLINE_DATA_DIR`` (default
``./hotline-data``), ``HOTLINE_DB`` (SQLite path or ``postgresql://`` URL; default
``<data dir>/hotline.sqlite``), ``HOTLINE_EXERCISE`` (exercise TOML file; default the
built-in two-party exercise), ``HOTLINE_SIGNING_KEY`` (the audit log's Ed25519 signer
key file; default ``<data dir>/signing.key``, generated on first start),
``HOTLINE_CHECKPOINT_RECORDS`` and ``HOTLINE_CHECKPOINT_SECONDS`` (sign a checkpoint every
so many records, and at least this often while records are unsigned; default 1000 and
60), ``HOTLINE_SNAPSHOT_RECORDS`` (keep a snapshot of the live state every so many
records, so that a restart reads at most that many; default 5000), ``HOTLINE_MQTT``
(``mqtt://user:password@host:port`` of a broker to publish the log to and take position
feeds from; default none, the bridge is off) and
``HOTLINE_MQTT_FORMAT`` (``json`` or ``protobuf``; default ``json``), ``HOTLINE_TLS_CERT``
and ``HOTLINE_TLS_KEY`` (the server's certificate and key: listen on TLS only),
``HOTLINE_CLIENT_CA`` (require a client certificate from this CA: mutual TLS) and
``HOTLINE_REVOCATIONS`` (the exercise CA's revocation list, re-read when it changes),
``HOTLINE_MQTT_CA``, ``HOTLINE_MQTT_CERT`` and ``HOTLINE_MQTT_KEY`` (for an ``mqtts://``
broker: its CA, and the bridge's certificate and key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from hotline.server.errors import ConfigurationError
from hotline.server.snapshot import SNAPSHOT_RECORDS

if TYPE_CHECKING:
    from hotline.server.bridge.address import BrokerAddress

DEFAULT_LISTEN = "127.0.0.1:50051"


@dataclass(frozen=True)
class Settings:
    listen: str = DEFAULT_LISTEN
    data_dir: Path = Path("hotline-data")
    database: str = ""
    exercise_file: Path | None = None
    #: fsync every commit (``synchronous=FULL``); off trades power-loss safety for speed.
    durable: bool = True
    #: The audit log's signer key file; empty means ``<data dir>/signing.key``, created
    #: if missing. A key file named explicitly must exist.
    signing_key: Path | None = None
    checkpoint_every_records: int = 1000
    checkpoint_every_seconds: float = 60.0
    #: A snapshot of the live state every so many records (:mod:`hotline.server.snapshot`).
    snapshot_every_records: int = SNAPSHOT_RECORDS
    #: Hash and sign the log (the audit trail). Off only to measure what the trail costs:
    #: the log written then holds records without leaf hashes, which ``hotline audit
    #: verify`` refuses and a server with the trail on will not resume.
    audit: bool = True
    #: Run the deconfliction checks on every position report, zone and notice.
    deconfliction: bool = True
    #: The MQTT broker to bridge to (``mqtt://user:password@host:port``); empty: no bridge.
    mqtt_url: str = ""
    #: Payloads on the outbound topics: ``json`` (protobuf JSON mapping) or ``protobuf``.
    mqtt_format: str = "json"
    #: For an ``mqtts://`` broker: the CA of its certificate, and the bridge's own
    #: certificate and key if the broker requires one.
    mqtt_ca: Path | None = None
    mqtt_cert: Path | None = None
    mqtt_key: Path | None = None
    #: The server's TLS certificate (chain) and key, PEM; without them the listener is
    #: plaintext, which only a loopback address may be.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Require every caller to present a certificate from this CA (mutual TLS).
    client_ca: Path | None = None
    #: The revocation list (a CRL from ``hotline pki revoke``), signed by ``client_ca``.
    revocations: Path | None = None
    #: How often the revocation list file is checked for changes.
    revocation_check_s: float = 1.0

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def signing_key_file(self) -> Path:
        return self.signing_key or self.data_dir / "signing.key"

    @property
    def verifier_key_file(self) -> Path:
        """Where the server writes its public verifier key for auditors."""
        return self.data_dir / "signing.pub"

    @property
    def database_location(self) -> str:
        return self.database or str(self.data_dir / "hotline.sqlite")

    @property
    def token_secret_file(self) -> Path:
        return self.data_dir / "token.key"

    @property
    def revoked_ids_file(self) -> Path:
        """The credentials exercise control revoked during the exercise."""
        return self.data_dir / "revoked-credentials"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        settings = cls()
        if "HOTLINE_LISTEN" in environ:
            settings = replace(settings, listen=environ["HOTLINE_LISTEN"])
        if "HOTLINE_DATA_DIR" in environ:
            settings = replace(settings, data_dir=Path(environ["HOTLINE_DATA_DIR"]))
        if "HOTLINE_DB" in environ:
            settings = replace(settings, database=environ["HOTLINE_DB"])
        if "HOTLINE_EXERCISE" in environ:
            settings = replace(settings, exercise_file=Path(environ["HOTLINE_EXERCISE"]))
        if "HOTLINE_SIGNING_KEY" in environ:
            settings = replace(settings, signing_key=Path(environ["HOTLINE_SIGNING_KEY"]))
        if "HOTLINE_CHECKPOINT_RECORDS" in environ:
            records = int(_number(environ, "HOTLINE_CHECKPOINT_RECORDS"))
            settings = replace(settings, checkpoint_every_records=records)
        if "HOTLINE_CHECKPOINT_SECONDS" in environ:
            seconds = _number(environ, "HOTLINE_CHECKPOINT_SECONDS")
            settings = replace(settings, checkpoint_every_seconds=seconds)
        if "HOTLINE_SNAPSHOT_RECORDS" in environ:
            records = int(_number(environ, "HOTLINE_SNAPSHOT_RECORDS"))
            settings = replace(settings, snapshot_every_records=records)
        if "HOTLINE_MQTT" in environ:
            settings = replace(settings, mqtt_url=environ["HOTLINE_MQTT"])
        if "HOTLINE_MQTT_FORMAT" in environ:
            settings = replace(settings, mqtt_format=environ["HOTLINE_MQTT_FORMAT"])

        def path(name: str) -> Path | None:
            return Path(environ[name]) if environ.get(name) else None

        return replace(
            settings,
            tls_cert=path("HOTLINE_TLS_CERT"),
            tls_key=path("HOTLINE_TLS_KEY"),
            client_ca=path("HOTLINE_CLIENT_CA"),
            revocations=path("HOTLINE_REVOCATIONS"),
            mqtt_ca=path("HOTLINE_MQTT_CA"),
            mqtt_cert=path("HOTLINE_MQTT_CERT"),
            mqtt_key=path("HOTLINE_MQTT_KEY"),
        ).checked()

    def checked(self) -> Settings:
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigurationError(
                f"listen address {self.listen!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}"
            )
        if self.exercise_file is not None and not self.exercise_file.is_file():
            raise ConfigurationError(f"exercise file {self.exercise_file} does not exist")
        if self.checkpoint_every_records < 1 or not self.checkpoint_every_seconds > 0:
            raise ConfigurationError(
                "checkpoints: the record count and the interval must be positive"
            )
        if self.snapshot_every_records < 1:
            raise ConfigurationError("snapshots: the record count must be positive")
        if self.signing_key is not None and not self.signing_key.is_file():
            raise ConfigurationError(f"signing key file {self.signing_key} does not exist")
        self._check_transport()
        from hotline.server.bridge.address import parse_format  # noqa: PLC0415

        parse_format(self.mqtt_format)
        if self.mqtt_url:
            self.broker_address(self.mqtt_url)
        return self

    def broker_address(self, url: str) -> BrokerAddress:
        """The broker at ``url`` with the settings' TLS files; ConfigurationError if the
        URL or the files are not right."""
        from hotline.server.bridge.address import parse_broker_url  # noqa: PLC0415

        return parse_broker_url(url).with_tls_files(self.mqtt_ca, self.mqtt_cert, self.mqtt_key)

    def _check_transport(self) -> None:
        from hotline.server.tls import is_loopback  # noqa: PLC0415

        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigurationError(
                "TLS needs both a certificate (--tls-cert) and its key (--tls-key)"
            )
        for what, path in (
            ("TLS certificate", self.tls_cert),
            ("TLS key", self.tls_key),
            ("client CA", self.client_ca),
        ):
            if path is not None and not path.is_file():
                raise ConfigurationError(f"{what} file {path} does not exist")
        if self.client_ca is not None and not self.tls:
            raise ConfigurationError(
                "--client-ca (mutual TLS) needs the server's own --tls-cert and --tls-key"
            )
        if self.revocations is not None and self.client_ca is None:
            raise ConfigurationError(
                "--revocations needs --client-ca: the list is checked against the exercise CA"
            )
        if not self.tls and not is_loopback(self.listen):
            raise ConfigurationError(
                f"listen address {self.listen!r} is not loopback: a plaintext listener is "
                "only allowed on 127.0.0.1 or ::1; give the server a certificate with "
                "--tls-cert and --tls-key (see 'hotline pki')"
            )
        if not self.revocation_check_s > 0:
            raise ConfigurationError("the revocation list check interval must be positive")


def _number(environ: Mapping[str, str], name: str) -> float:
    try:
        return float(environ[name])
    except ValueError:
        raise ConfigurationError(f"{name}={environ[name]!r} is not a number") from None
