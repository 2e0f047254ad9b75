"""The client's errors: one family per way a call can fail.

    HotlineClientError
    ├── StatusError            a call ended with a gRPC status (``code``, ``detail``)
    │   ├── Refused            the server refused the request; ``detail`` says why
    │   ├── SessionFailed      the server refused the station's session for good
    │   └── TransportError     the call did not get through or did not finish
    └── Closed                 the client, session or replay was closed

A refusal is the server's answer to what was asked: the same request would be refused
again (fix what ``detail`` names). A transport failure says nothing about the request:
the server could not be reached or is not serving now (UNAVAILABLE), the call ran out
of time (DEADLINE_EXCEEDED) or was cancelled (CANCELLED); trying again later may
succeed. :func:`from_rpc_error` is the one place a gRPC error becomes one of these.
"""

from __future__ import annotations

import grpc

__all__ = [
    "FATAL",
    "TRANSPORT_CODES",
    "Closed",
    "HotlineClientError",
    "Refused",
    "SessionFailed",
    "StatusError",
    "TransportError",
    "from_rpc_error",
    "from_status",
]


class HotlineClientError(Exception):
    """Base of every error the client library raises."""


class StatusError(HotlineClientError):
    """A call ended with gRPC status ``code``; ``detail`` is the message that came with it."""

    def __init__(self, code: grpc.StatusCode, detail: str) -> None:
        super().__init__(f"{code.name}: {detail}")
        self.code = code
        self.detail = detail


class Refused(StatusError):
    """The server refused a request; ``code`` is the gRPC status it chose and ``detail``
    says what was wrong, e.g. ``INVALID_ARGUMENT: zone_proposal.zone.effective_from.nanos:
    -1 is outside [0, 999999999]``."""


class SessionFailed(StatusError):
    """The server refused the station's session (bad credential, or the station was
    refused); reconnecting with the same credential would fail the same way."""


class TransportError(StatusError):
    """The call did not get through or did not finish: ``code`` is UNAVAILABLE (no
    server reachable at the address, or the server is not serving now), DEADLINE_EXCEEDED
    or CANCELLED. Nothing is known of the request; trying again later may succeed."""


class Closed(HotlineClientError):
    """The client was closed."""


#: Statuses that end a call for reasons other than the request itself.
TRANSPORT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
    }
)
#: Statuses after which reconnecting would fail again the same way.
FATAL = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)


#: What gRPC says when the server closes a connection during the TLS handshake.
_CLOSED = "Socket closed"
_CLOSED_HINT = (
    " (the server closed the connection: it may be on TLS, which a plaintext client "
    "cannot use (give the exercise CA: --ca, Tls), or require a client certificate from "
    "the exercise CA (--cert and --key), or not accept the one presented)"
)


def from_status(code: grpc.StatusCode, detail: str) -> Refused | TransportError:
    """The error for a call that ended with ``code`` and ``detail``."""
    if code in TRANSPORT_CODES:
        if detail.endswith(_CLOSED):
            detail += _CLOSED_HINT
        return TransportError(code, detail)
    return Refused(code, detail)


def from_rpc_error(error: grpc.aio.AioRpcError) -> Refused | TransportError:
    """The error for a failed gRPC call: a :class:`TransportError` for UNAVAILABLE,
    DEADLINE_EXCEEDED and CANCELLED, a :class:`Refused` for any other status."""
    return from_status(error.code(), error.details() or "")
