"""Credentials and the server's files as a user meets them: tokens in private files,
lifetimes that must be positive, a data directory only its owner reads, and plaintext
nowhere but on loopback."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from cryptography import x509

from hotline.server.errors import ConfigurationError
from hotline.server.pki import Authority
from hotline.server.settings import Settings
from hotline.testing.commands import run_hotline
from hotline.testing.harness import AIR, running_server
from hotline.testing.pki import ExercisePki
from hotline.v1 import common_pb2


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_data_directory_and_its_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running_server(data) as server, server.station("BLUE", AIR):
        pass
    assert mode(data) == 0o700
    for name in ("hotline.sqlite", "token.key", "signing.key"):
        assert mode(data / name) == 0o600, name
    for companion in data.glob("hotline.sqlite-*"):
        assert mode(companion) == 0o600, companion.name


async def test_existing_files_others_may_read_are_reported_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    async with running_server(data):
        pass
    data.chmod(0o755)
    (data / "hotline.sqlite").chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="hotline.server.private_files"):
        async with running_server(data):
            pass
    (warning,) = [r.getMessage() for r in caplog.records if "other users" in r.getMessage()]
    assert f"{data} (755, expected 700)" in warning
    assert f"{data / 'hotline.sqlite'} (644, expected 600)" in warning
    assert "token.key" not in warning


async def test_a_token_file_is_private_and_its_id_is_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "blue.token"
    code, out, err = await run_hotline(
        capsys, "token", "--party", "BLUE", "--hotline", "AIR_OPERATIONS",
        "--data-dir", str(tmp_path / "data"), "--new-key", "-o", str(token),
    )  # fmt: skip
    assert code == 0
    assert out == ""
    assert mode(token) == 0o600
    assert mode(tmp_path / "data") == 0o700
    assert err.startswith("credential ")
    assert "for BLUE/AIR_OPERATIONS" in err


@pytest.mark.parametrize("days", ["0", "-1"])
async def test_a_token_must_be_valid_for_some_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], days: str
) -> None:
    code, out, err = await run_hotline(
        capsys, "token", "--party", "BLUE", "--hotline", "AIR_OPERATIONS",
        "--data-dir", str(tmp_path), "--days", days,
    )  # fmt: skip
    assert code == 2
    assert out == ""
    assert "must be valid for more than 0 days" in err


async def test_the_console_reads_its_token_from_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_server(tmp_path / "data") as server:
        token = tmp_path / "control.token"
        token.write_text(server.role_token(common_pb2.ROLE_EXERCISE_CONTROL) + "\n")
        code, out, _ = await run_hotline(
            capsys, "status", "--address", server.address, "--token-file", str(token)
        )
    assert code == 0
    assert "exercise default" in out


async def test_no_credential_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOTLINE_TOKEN", raising=False)
    monkeypatch.delenv("HOTLINE_TOKEN_FILE", raising=False)
    code, _, err = await run_hotline(capsys, "status", "--address", "127.0.0.1:9")
    assert code == 1
    assert "no credential: pass --token-file" in err


def test_plaintext_is_refused_off_loopback(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="plaintext listener is only allowed"):
        Settings(listen="0.0.0.0:50051").checked()
    Settings(listen="127.0.0.1:50051").checked()
    Settings(listen="[::1]:50051").checked()
    pki = ExercisePki(tmp_path / "pki")
    Settings(listen="0.0.0.0:50051", **pki.server_settings(mutual=True)).checked()
    with pytest.raises(ConfigurationError, match="needs both a certificate"):
        Settings(tls_cert=pki.directory / "server.crt").checked()
    with pytest.raises(ConfigurationError, match="needs the server's own"):
        Settings(client_ca=pki.ca_file).checked()


async def test_the_pki_commands_make_a_ca_certificates_and_a_revocation_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (await run_hotline(capsys, "pki", "init"))[0] == 0
    code, _, err = await run_hotline(capsys, "pki", "init")
    assert code == 1
    assert "exists; keep the CA you have" in err
    code, out, _ = await run_hotline(
        capsys, "pki", "issue", "server", "--name", "localhost", "--name", "127.0.0.1"
    )
    assert code == 0
    assert "pki/server.crt and pki/server.key" in out
    code, out, _ = await run_hotline(
        capsys, "pki", "issue", "station", "--party", "BLUE", "--hotline", "AIR_OPERATIONS"
    )
    assert code == 0
    serial = out.split("certificate ")[-1].strip()
    code, _, err = await run_hotline(
        capsys, "pki", "issue", "station", "--party", "GREEN", "--hotline", "AIR_OPERATIONS"
    )
    assert code == 1
    assert "has no GREEN station on AIR_OPERATIONS" in err
    assert (await run_hotline(capsys, "pki", "issue", "control", "--name", "evans"))[0] == 0

    pki = tmp_path / "pki"
    assert mode(pki) == 0o700
    for key in pki.glob("*.key"):
        assert mode(key) == 0o600, key.name
    authority = Authority.load(pki)
    certificate = x509.load_pem_x509_certificate(
        (pki / "BLUE-AIR_OPERATIONS-primary.crt").read_bytes()
    )
    certificate.verify_directly_issued_by(authority.certificate)
    uris = certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.UniformResourceIdentifier)
    assert uris == ["hotline://default/BLUE/AIR_OPERATIONS/primary"]

    code, _, err = await run_hotline(capsys, "pki", "revoke", serial, "abc123")
    assert code == 0
    assert "2 revoked (2 new)" in err
    await run_hotline(capsys, "pki", "revoke", serial)
    crl = x509.load_pem_x509_crl((pki / "revoked.crl").read_bytes())
    assert sorted(entry.serial_number for entry in crl) == sorted([int(serial, 16), 0xABC123])


async def test_commands_connect_with_tls_and_with_a_certificate_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki = ExercisePki(tmp_path / "pki")
    control = pki.control("evans")
    pki.save("evans", control)
    async with running_server(tmp_path / "data", **pki.server_settings(mutual=True)) as server:
        token = tmp_path / "control.token"
        token.write_text(server.role_token(common_pb2.ROLE_EXERCISE_CONTROL))
        certificate = ["--cert", str(pki.directory / "evans.crt")]
        key = ["--key", str(pki.directory / "evans.key")]
        at = ["--address", server.address, "--ca", str(pki.ca_file)]
        # A token with the certificate of the same role, and the certificate alone.
        code, out, err = await run_hotline(
            capsys, "status", *at, *certificate, *key, "--token-file", str(token)
        )
        assert code == 0, err
        assert "exercise default" in out
        code, out, err = await run_hotline(capsys, "status", *at, *certificate, *key)
        assert code == 0, err
        # Without a certificate the server closes the connection, and says why.
        code, _, err = await run_hotline(capsys, "status", *at, "--token-file", str(token))
        assert code == 1
        assert "require a client certificate" in err
