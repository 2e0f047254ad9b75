"""TLS and mutual TLS through real connections on ephemeral ports: who may connect, and
what is refused, with which status, and recorded."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from hotline.client import HotlineClient, Refused, SessionFailed, TokenFile, TransportError
from hotline.server.exercise import default_exercise
from hotline.testing.commands import run_hotline
from hotline.testing.harness import AIR, RELAXED, Harness, expect, running_server
from hotline.testing.pki import ExercisePki
from hotline.v1 import common_pb2, envelope_pb2, log_pb2, messages_pb2, services_pb2


@pytest.fixture
def pki(tmp_path: Path) -> ExercisePki:
    return ExercisePki(tmp_path / "pki")


@pytest.fixture
async def tls_server(tmp_path: Path, pki: ExercisePki) -> AsyncIterator[Harness]:
    """A server on TLS only (no client certificates)."""
    async with running_server(
        tmp_path / "data", client_tls=pki.tls(), **pki.server_settings()
    ) as harness:
        yield harness


@pytest.fixture
async def mtls_server(tmp_path: Path, pki: ExercisePki) -> AsyncIterator[Harness]:
    """A server requiring a client certificate from the exercise CA."""
    async with running_server(
        tmp_path / "data",
        default_exercise(RELAXED),
        client_tls=pki.tls(pki.control()),
        **pki.server_settings(mutual=True, revocations=True),
    ) as harness:
        yield harness


def stat_mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


async def records_of(
    control: HotlineClient, kind: log_pb2.RecordKind.ValueType, count: int
) -> list[log_pb2.LogRecord]:
    found: list[log_pb2.LogRecord] = []
    async with asyncio.timeout(10):
        async for record in control.watch(resume_after_index=0):
            if record.kind == kind:
                found.append(record)
                if len(found) == count:
                    break
    return found


async def test_stations_talk_over_tls(tls_server: Harness) -> None:
    async with tls_server.station("RED", AIR) as red, tls_server.station("BLUE", AIR) as blue:
        sent = await blue.send(messages_pb2.TextMessage(text="strike at 0600Z", language="en"))
        got = await expect(red, lambda e: e.message_id == sent.message_id)
        assert got.text.text == "strike at 0600Z"


async def test_a_plaintext_client_cannot_use_the_tls_port(tls_server: Harness) -> None:
    async with HotlineClient(tls_server.address, tls_server.token("BLUE", AIR)) as plain:
        with pytest.raises(TransportError) as caught:
            await plain.status()
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert "it may be on TLS, which a plaintext client cannot use" in caught.value.detail


async def test_a_client_that_does_not_trust_the_server_cannot_connect(
    tls_server: Harness, tmp_path: Path
) -> None:
    stranger = ExercisePki(tmp_path / "other-pki")
    token = tls_server.token("BLUE", AIR)
    async with HotlineClient(tls_server.address, token, tls=stranger.tls()) as client:
        with pytest.raises(TransportError) as caught:
            await client.status()
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE


async def test_a_station_certificate_alone_is_a_credential(
    mtls_server: Harness, pki: ExercisePki
) -> None:
    blue_tls = pki.tls(pki.station("BLUE", AIR))
    red_tls = pki.tls(pki.station("RED", AIR))
    async with (
        mtls_server.station("RED", AIR, token=None, tls=red_tls) as red,
        mtls_server.station("BLUE", AIR, token=None, tls=blue_tls) as blue,
    ):
        assert blue.ref.party == "BLUE"
        sent = await blue.send(messages_pb2.TextMessage(text="hello", language="en"))
        await expect(red, lambda e: e.message_id == sent.message_id)


async def test_hotline_send_takes_the_station_from_the_certificate_alone(
    mtls_server: Harness, pki: ExercisePki, capsys: pytest.CaptureFixture[str]
) -> None:
    pki.save("blue", pki.station("BLUE", AIR))
    async with mtls_server.station(
        "RED", AIR, token=None, tls=pki.tls(pki.station("RED", AIR))
    ) as red:
        status, output, errors = await run_hotline(
            capsys, "send", "text", "Strike package at 35.336,40.141",
            "--address", mtls_server.address, "--ca", str(pki.ca_file),
            "--cert", str(pki.directory / "blue.crt"), "--key", str(pki.directory / "blue.key"),
        )  # fmt: skip
        assert (status, errors) == (0, ""), errors
        assert output.startswith("recorded on AIR_OPERATIONS as #")
        delivered = await expect(red, lambda e: e.WhichOneof("body") == "text")
        assert delivered.sender.party == "BLUE"
        assert delivered.text.text == "Strike package at 35.336,40.141"


async def test_a_certificate_and_token_must_name_the_same_station(
    mtls_server: Harness, pki: ExercisePki
) -> None:
    blue_tls = pki.tls(pki.station("BLUE", AIR))
    red_token = mtls_server.token("RED", AIR)
    with pytest.raises(SessionFailed) as caught:
        async with mtls_server.station("BLUE", AIR, token=red_token, tls=blue_tls):
            pass
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "BLUE/AIR_OPERATIONS primary" in caught.value.detail
    assert "RED/AIR_OPERATIONS primary" in caught.value.detail

    # The same certificate with its own station's token is let in.
    async with mtls_server.station("BLUE", AIR, tls=blue_tls) as blue:
        assert blue.ref.party == "BLUE"

    async with mtls_server.control() as control:
        (refusal,) = await records_of(control, log_pb2.RECORD_KIND_REQUEST_REFUSED, 1)
    assert refusal.refused_request.code == "PERMISSION_DENIED"
    assert "RED/AIR_OPERATIONS primary" in refusal.refused_request.detail


async def test_a_certificate_from_another_ca_is_refused(
    mtls_server: Harness, pki: ExercisePki, tmp_path: Path
) -> None:
    stranger = ExercisePki(tmp_path / "other-pki")
    forged = stranger.station("BLUE", AIR)
    tls = pki.tls(forged)  # trusts the real server, presents the other CA's certificate
    async with HotlineClient(mtls_server.address, mtls_server.token("BLUE", AIR), tls=tls) as c:
        with pytest.raises(TransportError) as caught:
            await c.status()
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE


async def test_without_a_client_certificate_nothing_gets_through(
    mtls_server: Harness, pki: ExercisePki
) -> None:
    token = mtls_server.token("BLUE", AIR)
    async with HotlineClient(mtls_server.address, token, tls=pki.tls()) as client:
        with pytest.raises(TransportError) as caught:
            await client.status()
    assert "require a client certificate from the exercise CA" in caught.value.detail


async def test_a_revoked_certificate_ends_its_session_at_once_and_is_refused_after(
    mtls_server: Harness, pki: ExercisePki
) -> None:
    issued = pki.station("BLUE", AIR)
    async with mtls_server.station("BLUE", AIR, token=None, tls=pki.tls(issued)) as blue:
        pki.revoke(issued.serial)
        with pytest.raises(SessionFailed) as caught:
            await asyncio.wait_for(blue.next_delivery(), 30)
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in caught.value.detail

    with pytest.raises(SessionFailed) as refused:
        async with mtls_server.station("BLUE", AIR, token=None, tls=pki.tls(issued)):
            pass
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert f"{issued.serial:x} has been revoked" in refused.value.detail

    async with mtls_server.control() as control:
        ended = await records_of(control, log_pb2.RECORD_KIND_STATION_DISCONNECTED, 1)
        (refusal,) = await records_of(control, log_pb2.RECORD_KIND_REQUEST_REFUSED, 1)
    assert "revoked" in ended[0].station_session.reason
    assert refusal.refused_request.code == "UNAUTHENTICATED"


async def test_a_revoked_token_ends_its_session_and_is_refused_after(
    mtls_server: Harness, pki: ExercisePki
) -> None:
    token = mtls_server.token("BLUE", AIR)
    credential_id = mtls_server.credential_of(token).credential_id
    tls = pki.tls(pki.station("BLUE", AIR))
    async with mtls_server.station("BLUE", AIR, token=token, tls=tls) as blue:
        pki.revoke(credential_id)
        with pytest.raises(SessionFailed) as ended:
            await asyncio.wait_for(blue.next_delivery(), 30)
    assert ended.value.code == grpc.StatusCode.UNAUTHENTICATED

    async with HotlineClient(mtls_server.address, token, tls=tls) as client:
        with pytest.raises(Refused) as caught:
            await client.status()
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert f"credential {credential_id} has been revoked" in caught.value.detail


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
async def test_openssl_sees_the_servers_chain(tls_server: Harness, pki: ExercisePki) -> None:
    """A TLS client nobody here wrote verifies the server against the exercise CA."""
    host, _, port = tls_server.address.rpartition(":")
    process = await asyncio.create_subprocess_exec(
        "openssl", "s_client", "-connect", f"{host}:{port}", "-CAfile", str(pki.ca_file),
        "-verify_return_error", "-alpn", "h2", "-brief",
        stdin=subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,  # the server's first HTTP/2 frames
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, report = await asyncio.wait_for(process.communicate(), 30)
    text = report.decode(errors="replace")
    assert process.returncode == 0, text
    assert "Verification: OK" in text
    assert "CN = 127.0.0.1" in text or "CN=127.0.0.1" in text


# ---------------------------------------------------------------------- credentials that expire


async def test_a_credential_that_expires_ends_the_session(server: Harness) -> None:
    short = server.token("BLUE", AIR, ttl_s=4)
    async with server.station("BLUE", AIR, token=short) as blue:
        with pytest.raises(SessionFailed) as caught:
            await asyncio.wait_for(blue.next_delivery(), 30)
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert "expired during the session" in caught.value.detail
    async with server.control() as control:
        (ended,) = await records_of(control, log_pb2.RECORD_KIND_STATION_DISCONNECTED, 1)
    assert "expired" in ended.station_session.reason


async def test_a_renewed_token_file_resumes_with_no_gap_or_duplicate(
    server: Harness, tmp_path: Path
) -> None:
    token_file = tmp_path / "blue.token"
    token_file.write_text(server.token("BLUE", AIR, ttl_s=4))
    texts: list[str] = []
    async with (
        server.station("RED", AIR) as red,
        server.station("BLUE", AIR, token=TokenFile(token_file)) as blue,
        server.control() as control,
    ):
        # The operator renews the file while the first token is still good.
        token_file.write_text(server.token("BLUE", AIR))
        before = await red.send(messages_pb2.TextMessage(text="before", language="en"))
        texts.append((await expect(blue, lambda e: e.message_id == before.message_id)).text.text)
        # The first session ends when its token expires ...
        await records_of(control, log_pb2.RECORD_KIND_STATION_DISCONNECTED, 1)
        # ... and what is sent meanwhile arrives on the next, once.
        during = await red.send(messages_pb2.TextMessage(text="during", language="en"))
        after = await red.send(messages_pb2.TextMessage(text="after", language="en"))
        seen: list[envelope_pb2.Envelope] = []
        last = await expect(blue, lambda e: e.message_id == after.message_id, seen=seen)
        texts += [e.text.text for e in seen if e.WhichOneof("body") == "text"]
        texts.append(last.text.text)
        assert blue.failure is None
        assert blue.sessions_opened == 2
        assert during.sequence < after.sequence
    assert texts == ["before", "during", "after"]


async def test_an_ed25519_exercise_ca_serves_mutual_tls(tmp_path: Path) -> None:
    """The CA may sign with Ed25519; the keys of the TLS handshake are P-256 (gRPC's
    TLS does not offer Ed25519 signatures in the handshake)."""
    pki = ExercisePki(tmp_path / "pki", algorithm="ed25519")
    async with (
        running_server(
            tmp_path / "data",
            client_tls=pki.tls(pki.control()),
            **pki.server_settings(mutual=True),
        ) as server,
        server.station("BLUE", AIR, token=None, tls=pki.tls(pki.station("BLUE", AIR))) as blue,
        server.control() as control,
    ):
        assert blue.ref.party == "BLUE"
        assert (await control.status()).log_size > 0


async def test_a_watch_ends_when_its_credential_expires(server: Harness) -> None:
    token = server.role_token_for(common_pb2.ROLE_OBSERVER, ttl_s=4)

    async def watch_to_the_end() -> None:
        async with HotlineClient(server.address, token) as observer:
            async for _ in observer.watch(resume_after_index=0):
                pass

    with pytest.raises(Refused) as caught:
        await asyncio.wait_for(watch_to_the_end(), 30)
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert "expired during the session" in caught.value.detail


# ---------------------------------------------------------------------- revoked by control


async def test_exercise_control_revokes_a_credential_during_the_exercise(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    async with running_server(data) as server:
        token = server.token("BLUE", AIR)
        credential_id = server.credential_of(token).credential_id
        async with server.station("BLUE", AIR, token=token) as blue, server.control() as control:
            revoked = await control.revoke_credential(credential_id, "laptop lost")
            assert revoked.sessions_ended == 1
            with pytest.raises(SessionFailed) as ended:
                await asyncio.wait_for(blue.next_delivery(), 30)
            assert ended.value.code == grpc.StatusCode.UNAUTHENTICATED
            assert f"credential {credential_id} was revoked by exercise control" in (
                ended.value.detail
            )
            (record,) = await records_of(control, log_pb2.RECORD_KIND_CREDENTIAL_REVOKED, 1)
            assert record.index == revoked.index
            assert record.actor == "EXERCISE_CONTROL:trainer"
            assert record.credential_revoked.credential_id == credential_id
            assert record.credential_revoked.reason == "laptop lost"
            (gone,) = await records_of(control, log_pb2.RECORD_KIND_STATION_DISCONNECTED, 1)
            assert "laptop lost" in gone.station_session.reason

    # Refused from then on, after a restart too.
    async with running_server(data) as restarted, HotlineClient(restarted.address, token) as again:
        with pytest.raises(Refused) as refused:
            await again.status()
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert stat_mode(data / "revoked-credentials") == 0o600


async def test_only_exercise_control_may_revoke(server: Harness) -> None:
    token = server.token("BLUE", AIR)
    async with HotlineClient(server.address, token) as blue:
        with pytest.raises(Refused) as refused:
            await blue.revoke_credential(server.credential_of(token).credential_id)
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    async with server.control() as control:
        with pytest.raises(Refused) as bad:
            await control.revoke_credential("not-an-id")
    assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "credential_id" in bad.value.detail


async def test_a_replay_ends_when_its_credential_expires(server: Harness) -> None:
    token = server.role_token_for(common_pb2.ROLE_OBSERVER, ttl_s=4)

    async def replay_to_the_end() -> None:
        async with (
            HotlineClient(server.address, token) as observer,
            observer.replay(services_pb2.ReplayStart(paused=True)) as session,
        ):
            async for _ in session:
                pass

    with pytest.raises(Refused) as caught:
        await asyncio.wait_for(replay_to_the_end(), 30)
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert "expired during the session" in caught.value.detail
