"""What every gRPC adapter shares: authentication and the mapping of errors to statuses.

Requests are decoded here, not by gRPC: bytes that are not the method's message, and
messages holding a Timestamp, Duration or integer out of range (see
:mod:`~hotline.server.field_ranges`; envelopes are checked one by one by the
switchboard), reach the servicer as a :class:`BadRequest`. A unary call is then refused
before its servicer runs; in a stream the refusal is raised where the request is read.
Either way it is INVALID_ARGUMENT, recorded like every refusal, and the caller is
authenticated first. Whatever else escapes a servicer is a bug: it is logged and the
call ends with INTERNAL, never with gRPC's UNKNOWN.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeAlias, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from hotline.server.admission import Admission
from hotline.server.errors import HotlineError, InvalidArgument
from hotline.server.field_ranges import check_ranges
from hotline.server.identity import Credential
from hotline.server.switchboard import Switchboard
from hotline.v1 import envelope_pb2, services_pb2

log = logging.getLogger(__name__)

T = TypeVar("T")
Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]


class Adapter:
    """Base of the servicers: authenticates calls and reports refusals precisely."""

    def __init__(self, switchboard: Switchboard, admission: Admission) -> None:
        self.switchboard = switchboard
        self.admission = admission

    async def authenticate(self, context: Context, method: str) -> Credential:
        try:
            return self.admission.admit(context.invocation_metadata(), context.auth_context())
        except HotlineError as error:
            self.switchboard.record_refusal(None, error, method, peer=context.peer())
            await abort(context, error)

    async def refuse(self, context: Context, method: str, error: HotlineError) -> NoReturn:
        """Records ``error`` as the refusal of the authenticated caller's request and
        ends the call with it (UNAUTHENTICATED instead for a caller without a valid
        credential, as for any request)."""
        credential = await self.authenticate(context, method)
        self.switchboard.record_refusal(credential, error, method, peer=context.peer())
        await abort(context, error)

    async def call(
        self,
        context: Context,
        method: str,
        action: Callable[[Credential], Awaitable[T]],
    ) -> T:
        """Runs ``action`` for the authenticated caller; refusals become statuses."""
        credential = await self.authenticate(context, method)
        try:
            return await action(credential)
        except HotlineError as error:
            self.switchboard.record_refusal(credential, error, method, peer=context.peer())
            await abort(context, error)


def end_at_expiry(credential: Credential, end: Callable[[str], None]) -> asyncio.TimerHandle | None:
    """Calls ``end`` with the reason when ``credential`` expires (a long-lived stream
    ends then with UNAUTHENTICATED); the handle cancels it. None for one that never does."""
    if not credential.expires_at:
        return None
    loop = asyncio.get_running_loop()
    reason = (
        f"credential {credential.credential_id or credential.subject} expired during the "
        "session; reconnect with a renewed one"
    )
    delay = max(0.0, credential.expires_at - time.time())
    return loop.call_later(delay, end, reason)


@dataclass(frozen=True, slots=True)
class BadRequest:
    """What a servicer gets in place of a request the server cannot take as it came."""

    error: InvalidArgument


#: Envelopes are checked one by one where they are taken in (a refused envelope is
#: answered by its SendResult; the rest of a batch goes on).
_ENVELOPES = frozenset({envelope_pb2.Envelope.DESCRIPTOR})


def _decoder(message_class: type[Message]) -> Callable[[bytes], Message | BadRequest]:
    name = message_class.DESCRIPTOR.full_name
    parse = message_class.FromString

    def decode(data: bytes) -> Message | BadRequest:
        try:
            request = parse(data)
        except DecodeError:
            return BadRequest(
                InvalidArgument(
                    f"request: {len(data)} bytes that are not a {name} (they do not decode); "
                    "send the message the contract (services.proto) gives this method"
                )
            )
        try:
            check_ranges(request, skip=_ENVELOPES)
        except InvalidArgument as error:
            return BadRequest(error)
        return request

    return decode


async def _checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """The stream of requests, raising the refusal of the first bad one."""
    async for request in requests:
        if isinstance(request, BadRequest):
            raise request.error
        yield request


def _guarded(adapter: Adapter, name: str, client_streaming: bool) -> Callable[..., Any]:
    """``adapter``'s method ``name``, behind the refusal of bad requests and the mapping
    of unexpected errors to INTERNAL."""
    method = getattr(adapter, name)

    async def guarded(request: Any, context: Context) -> Any:
        try:
            if client_streaming:
                request = _checked(request)
            elif isinstance(request, BadRequest):
                await adapter.refuse(context, name, request.error)
            return await method(request, context)
        except grpc.aio.AbortError:
            raise
        except HotlineError as error:
            # Refusals are mapped where they are raised; one that got through still
            # gets its own status.
            await adapter.refuse(context, name, error)
        except Exception:
            log.exception("%s failed", name)
            await context.abort(
                grpc.StatusCode.INTERNAL,
                f"{name}: the server failed on this request; the error is in the server's log",
            )

    return guarded


def _serialize(response: bytes | Message) -> bytes:
    # Deliveries and watched records arrive already framed (see wire.py).
    return response if isinstance(response, bytes) else response.SerializeToString()


_KINDS = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def service_handler(servicer: Adapter, service: str) -> grpc.GenericRpcHandler:
    """Routes every method of ``service`` (from the contract) to ``servicer``'s method of
    the same name. Responses may be messages or pre-serialised bytes."""
    descriptor = services_pb2.DESCRIPTOR.services_by_name[service]
    handlers = {}
    for method in descriptor.methods:
        kind = _KINDS[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = kind(
            _guarded(servicer, method.name, method.client_streaming),
            request_deserializer=_decoder(GetMessageClass(method.input_type)),
            response_serializer=_serialize,
        )
    return grpc.method_handlers_generic_handler(descriptor.full_name, handlers)


async def abort(context: Context, error: HotlineError) -> NoReturn:
    await context.abort(error.code, error.message)
    raise AssertionError("unreachable: abort raises")  # pragma: no cover


__all__ = [
    "Adapter",
    "BadRequest",
    "Context",
    "abort",
    "end_at_expiry",
    "service_handler",
]
