"""What every gRPC adapter shares: authentication and the mapping of errors to statuses."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeAlias, TypeVar

import grpc
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from hotline.server.errors import HotlineError
from hotline.server.identity import Credential, TokenAuthority, bearer_token
from hotline.server.switchboard import Switchboard
from hotline.v1 import services_pb2

log = logging.getLogger(__name__)

T = TypeVar("T")
Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]
STATUS_BY_CODE = {status.value[0]: status for status in grpc.StatusCode}


class Adapter:
    """Base of the servicers: authenticates calls and reports refusals precisely."""

    def __init__(self, switchboard: Switchboard, authority: TokenAuthority) -> None:
        self.switchboard = switchboard
        self.authority = authority

    async def authenticate(self, context: Context, method: str) -> Credential:
        try:
            return self.authority.verify(bearer_token(context.invocation_metadata()))
        except HotlineError as error:
            self.switchboard.record_refusal(None, error, method)
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
            self.switchboard.record_refusal(credential, error, method)
            await abort(context, error)


def _serialize(response: bytes | Message) -> bytes:
    # Deliveries and watched records arrive already framed (see wire.py).
    return response if isinstance(response, bytes) else response.SerializeToString()


_KINDS = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def service_handler(servicer: object, service: str) -> grpc.GenericRpcHandler:
    """Routes every method of ``service`` (from the contract) to ``servicer``'s method of
    the same name. Responses may be messages or pre-serialised bytes."""
    descriptor = services_pb2.DESCRIPTOR.services_by_name[service]
    handlers = {}
    for method in descriptor.methods:
        kind = _KINDS[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = kind(
            getattr(servicer, method.name),
            request_deserializer=GetMessageClass(method.input_type).FromString,
            response_serializer=_serialize,
        )
    return grpc.method_handlers_generic_handler(descriptor.full_name, handlers)


async def abort(context: Context, error: HotlineError) -> NoReturn:
    await context.abort(error.code, error.message)
    raise AssertionError("unreachable: abort raises")  # pragma: no cover


__all__ = ["STATUS_BY_CODE", "Adapter", "Context", "abort", "service_handler"]
