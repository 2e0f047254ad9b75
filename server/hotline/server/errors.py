"""The service's one error hierarchy.

Every error a user can cause is a :class:`HotlineError` whose subclass fixes the gRPC
status it is reported with; its message says what was wrong and how to put it right.
The gRPC adapters translate these, and only these, into statuses; anything else that
escapes is a bug and is reported as INTERNAL.
"""

from __future__ import annotations

from typing import ClassVar

import grpc


class HotlineError(Exception):
    """A request the service refuses, with the status it maps to."""

    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(HotlineError):
    """A field is missing, malformed or out of range; the message names the field."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class Unauthenticated(HotlineError):
    """No credential, or one that is not valid for this exercise."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(HotlineError):
    """A valid credential that does not allow this (e.g. sending as another party)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class FailedPrecondition(HotlineError):
    """The request is well formed but the state does not allow it now."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class NotFound(HotlineError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(HotlineError):
    code = grpc.StatusCode.ALREADY_EXISTS


class OutOfRange(HotlineError):
    """A position past the end of what exists, e.g. a log index not yet recorded."""

    code = grpc.StatusCode.OUT_OF_RANGE


class ResourceExhausted(HotlineError):
    """Too large, or too much at once."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(HotlineError):
    """The service is shutting down or the hotline is suspended."""

    code = grpc.StatusCode.UNAVAILABLE


class ConfigurationError(Exception):
    """The exercise file or the server settings are invalid; raised at start-up."""
