"""gRPC statuses inside messages: ``SendResult.code`` and ``ReplayState.refused.code``
carry a status by its number (0 for OK), so that one refused envelope of a batch or one
refused replay control does not end the call."""

from __future__ import annotations

import grpc

_BY_NUMBER = {status.value[0]: status for status in grpc.StatusCode}


def status_number(code: grpc.StatusCode) -> int:
    """The number a status is carried as in a message."""
    number: int = code.value[0]
    return number


def status_code(number: int) -> grpc.StatusCode:
    """The status a message's number stands for; UNKNOWN for a number gRPC does not
    define."""
    return _BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)
