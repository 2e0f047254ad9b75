"""The client's errors: one family per way a call can fail."""

from __future__ import annotations

import grpc


class HotlineClientError(Exception):
    """Base of every error the client library raises."""


class Refused(HotlineClientError):
    """The server refused a request; ``code`` is the gRPC status and ``detail`` says why."""

    def __init__(self, code: grpc.StatusCode, detail: str) -> None:
        super().__init__(f"{code.name}: {detail}")
        self.code = code
        self.detail = detail


class SessionFailed(HotlineClientError):
    """The session cannot go on (bad credential, or the station was refused); retrying
    with the same credential would not help."""

    def __init__(self, code: grpc.StatusCode, detail: str) -> None:
        super().__init__(f"{code.name}: {detail}")
        self.code = code
        self.detail = detail


class Closed(HotlineClientError):
    """The client was closed."""


#: Statuses after which reconnecting would fail again the same way.
FATAL = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)
