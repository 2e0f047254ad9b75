"""What a failed call raises: a refusal the server chose, kept apart from a call that did
not get through."""

from __future__ import annotations

import socket

import grpc
import pytest

from hotline.client import HotlineClient, Refused, SessionFailed, StationClient, TransportError
from hotline.client._errors import from_rpc_error
from hotline.testing.harness import AIR, Harness
from hotline.v1 import zones_pb2


def nothing_listening() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


async def test_a_server_that_cannot_be_reached_is_a_transport_failure() -> None:
    async with HotlineClient(nothing_listening(), "any token") as client:
        with pytest.raises(TransportError) as caught:
            await client.status()
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert not isinstance(caught.value, Refused)


async def test_what_the_server_refuses_is_a_refusal_with_its_reason(server: Harness) -> None:
    async with HotlineClient(server.address, server.token("BLUE", AIR)) as blue:
        with pytest.raises(Refused) as unknown:
            await blue.zone("ROZ-404")
        with pytest.raises(Refused) as not_control:
            await blue.suspend(AIR, "drill")
    assert unknown.value.code == grpc.StatusCode.NOT_FOUND
    assert "ROZ-404" in unknown.value.detail
    assert not_control.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert str(not_control.value).startswith("PERMISSION_DENIED: ")

    async with HotlineClient(server.address, "not a credential") as stranger:
        with pytest.raises(Refused) as caught:
            await stranger.zones([zones_pb2.ZONE_STATE_ACTIVE])
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED


async def test_a_session_the_server_refuses_fails_for_good(server: Harness) -> None:
    forged = server.token("BLUE", AIR)[:-4] + "AAAA"
    with pytest.raises(SessionFailed) as caught:
        async with StationClient(server.address, forged, connect_timeout=10):
            pass
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (grpc.StatusCode.UNAVAILABLE, TransportError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, TransportError),
        (grpc.StatusCode.CANCELLED, TransportError),
        (grpc.StatusCode.INVALID_ARGUMENT, Refused),
        (grpc.StatusCode.FAILED_PRECONDITION, Refused),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, Refused),
        (grpc.StatusCode.INTERNAL, Refused),
    ],
)
def test_each_status_maps_to_one_family(code: grpc.StatusCode, kind: type[Exception]) -> None:
    empty = grpc.aio.Metadata()
    error = from_rpc_error(grpc.aio.AioRpcError(code, empty, empty, details="why"))
    assert type(error) is kind
    assert (error.code, error.detail) == (code, "why")
