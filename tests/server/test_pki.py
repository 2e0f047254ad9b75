"""The exercise PKI and the admission of callers, without a network: what a certificate
says, what agrees with what, and the revocation list as it changes."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from cryptography import x509

from hotline.server.admission import Admission, Revocations
from hotline.server.errors import ConfigurationError, PermissionDenied, Unauthenticated
from hotline.server.exercise import default_exercise
from hotline.server.identity import Credential, TokenAuthority
from hotline.server.pki import Authority, credential_uri, parse_credential_uri
from hotline.testing.pki import ExercisePki
from hotline.v1 import common_pb2

AIR = common_pb2.HOTLINE_AIR_OPERATIONS
BLUE_STANDBY = Credential(
    subject="BLUE/AIR_OPERATIONS",
    role=common_pb2.ROLE_PARTICIPANT,
    party="BLUE",
    hotline=AIR,
    operator=common_pb2.OPERATOR_STANDBY,
)
CONTROL = Credential(subject="Maj. Evans", role=common_pb2.ROLE_EXERCISE_CONTROL)


def peer(certificate: bytes) -> dict[str, list[bytes]]:
    """A call's auth context as gRPC gives it for a client certificate."""
    return {"x509_pem_cert": [certificate], "transport_security_type": [b"ssl"]}


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


@pytest.fixture
def pki(tmp_path: Path) -> ExercisePki:
    return ExercisePki(tmp_path / "pki")


@pytest.fixture
def tokens(tmp_path: Path) -> TokenAuthority:
    return TokenAuthority(b"k" * 32, default_exercise())


def test_a_station_uri_names_exercise_party_hotline_and_seat() -> None:
    uri = credential_uri("deir-ezzor-drill", BLUE_STANDBY)
    assert uri == "hotline://deir-ezzor-drill/BLUE/AIR_OPERATIONS/standby"
    exercise_id, credential = parse_credential_uri(uri)
    assert exercise_id == "deir-ezzor-drill"
    assert credential == BLUE_STANDBY
    assert parse_credential_uri(credential_uri("x", CONTROL)) == ("x", CONTROL)
    for wrong in ("https://x/BLUE/AIR_OPERATIONS/primary", "hotline://x/BLUE/AIR/chair"):
        with pytest.raises(ValueError, match="hotline://EXERCISE"):
            parse_credential_uri(wrong)


@pytest.mark.parametrize("algorithm", ["p256", "ed25519"])
def test_issued_certificates_chain_to_the_ca_and_keys_are_private(
    tmp_path: Path, algorithm: str
) -> None:
    pki = ExercisePki(tmp_path / "pki", algorithm=algorithm)
    issued = pki.station("BLUE", AIR)
    certificate = x509.load_pem_x509_certificate(issued.certificate)
    certificate.verify_directly_issued_by(pki.authority.certificate)
    assert os.stat(pki.directory / "ca.key").st_mode & 0o777 == 0o600
    assert os.stat(pki.directory / "server.key").st_mode & 0o777 == 0o600
    assert os.stat(pki.directory).st_mode & 0o777 == 0o700
    with pytest.raises(ConfigurationError, match="valid for some time"):
        pki.authority.issue_client(BLUE_STANDBY, days=0)


def test_a_certificate_alone_admits_its_holder(pki: ExercisePki, tokens: TokenAuthority) -> None:
    admission = Admission(tokens, default_exercise())
    issued = pki.authority.issue_client(BLUE_STANDBY)
    credential = admission.admit([], peer(issued.certificate))
    assert credential == BLUE_STANDBY
    assert credential.credential_id == f"{issued.serial:x}"
    assert credential.expires_at > dt.datetime.now(dt.UTC).timestamp()


def test_a_certificate_and_token_must_agree(pki: ExercisePki, tokens: TokenAuthority) -> None:
    admission = Admission(tokens, default_exercise())
    certificate = pki.authority.issue_client(BLUE_STANDBY).certificate
    primary = Credential(
        subject="BLUE/AIR_OPERATIONS", role=common_pb2.ROLE_PARTICIPANT, party="BLUE", hotline=AIR
    )
    with pytest.raises(PermissionDenied, match="BLUE/AIR_OPERATIONS standby's but the token"):
        admission.admit(bearer(tokens.issue(primary)), peer(certificate))
    both = admission.admit(bearer(tokens.issue(BLUE_STANDBY, ttl_s=60)), peer(certificate))
    assert both == BLUE_STANDBY
    # The earlier of the two expiries holds.
    assert both.expires_at <= dt.datetime.now(dt.UTC).timestamp() + 61


def test_a_certificate_for_another_exercise_is_refused(
    tmp_path: Path, tokens: TokenAuthority
) -> None:
    other = Authority.create("another-exercise")
    certificate = other.issue_client(BLUE_STANDBY).certificate
    admission = Admission(tokens, default_exercise())
    with pytest.raises(Unauthenticated, match="for exercise 'another-exercise'"):
        admission.admit([], peer(certificate))


def test_a_token_must_be_valid_for_some_time(tokens: TokenAuthority) -> None:
    for ttl in (0, -1):
        with pytest.raises(Exception, match="valid for some time"):
            tokens.issue(BLUE_STANDBY, ttl_s=ttl)
    token = tokens.issue(BLUE_STANDBY)
    assert len(tokens.verify(token).credential_id) > 20


def test_the_revocation_list_is_reread_when_it_changes(
    pki: ExercisePki, tokens: TokenAuthority
) -> None:
    revocations = Revocations(pki.revocation_file, pki.ca_file)  # no list yet
    admission = Admission(tokens, default_exercise(), revocations)
    issued = pki.authority.issue_client(BLUE_STANDBY)
    token = tokens.issue(BLUE_STANDBY)
    assert admission.admit(bearer(token), peer(issued.certificate)) == BLUE_STANDBY

    pki.revoke(issued.serial)
    assert revocations.refresh()
    with pytest.raises(Unauthenticated, match=f"{issued.serial:x} has been revoked"):
        admission.admit(bearer(token), peer(issued.certificate))

    token_id = tokens.verify(token).credential_id
    pki.revoke(token_id)
    assert revocations.refresh()
    with pytest.raises(Unauthenticated, match=f"credential {token_id} has been revoked"):
        admission.admit(bearer(token), {})


def test_a_revocation_list_from_another_ca_is_not_taken(pki: ExercisePki, tmp_path: Path) -> None:
    revocations = Revocations(pki.revocation_file, pki.ca_file)
    stranger = ExercisePki(tmp_path / "other")
    stranger.revoke(1234)
    pki.revocation_file.write_bytes(stranger.revocation_file.read_bytes())
    assert not revocations.refresh()
    assert revocations.revoked == frozenset()
