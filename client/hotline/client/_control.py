"""Unary calls, the watch stream and replays, for one-shot tools, exercise control and
observers.

Every call raises :class:`~hotline.client.Refused` when the server refuses it (the
status it chose and why: PERMISSION_DENIED for what the credential does not allow,
INVALID_ARGUMENT naming the field, NOT_FOUND, FAILED_PRECONDITION ...) and
:class:`~hotline.client.TransportError` when it does not get through (no server at the
address, the connection lost). Nothing is retried: that is the caller's choice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterable
from types import TracebackType
from typing import TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from hotline.client._errors import from_rpc_error
from hotline.client._replay import ReplaySession
from hotline.client._security import Tls, TokenSource, metadata, open_channel, read_token
from hotline.client._station import CHANNEL_OPTIONS
from hotline.v1 import (
    common_pb2,
    envelope_pb2,
    log_pb2,
    services_pb2,
    services_pb2_grpc,
    zones_pb2,
)

T = TypeVar("T")


class HotlineClient:
    """Exercise status, zones, one-shot sends and (for exercise control) watching and
    steering the exercise, over one channel to the server at ``address`` with the
    credential ``token``.

    Use it as ``async with HotlineClient(address, token) as client``; the channel is
    opened lazily, so a server that cannot be reached shows at the first call. ``token``
    and ``tls`` are as for :class:`~hotline.client.StationClient` (the token is read
    once, here).
    """

    def __init__(self, address: str, token: TokenSource, *, tls: Tls | None = None) -> None:
        self.address = address
        self._metadata = metadata(read_token(token))
        self._channel = open_channel(address, CHANNEL_OPTIONS, tls)
        self._stations = services_pb2_grpc.StationServiceStub(self._channel)
        self._exercise = services_pb2_grpc.ExerciseServiceStub(self._channel)
        self._zones = services_pb2_grpc.ZoneServiceStub(self._channel)
        self._replays = services_pb2_grpc.ReplayServiceStub(self._channel)

    async def __aenter__(self) -> HotlineClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._channel.close()

    async def send(self, message: envelope_pb2.Envelope) -> services_pb2.SendResult:
        """Sends one envelope and returns once it is durably recorded: its sequence
        number, or ``duplicate`` for a message id already recorded with the same
        content. Refused with the reason otherwise (INVALID_ARGUMENT naming the field,
        PERMISSION_DENIED for another party or hotline, ALREADY_EXISTS for a message id
        used with other content, FAILED_PRECONDITION on a suspended hotline ...)."""
        try:
            response = await self._stations.Send(
                services_pb2.SendRequest(envelope=message), metadata=self._metadata
            )
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
        return response.result

    async def exercise(self) -> services_pb2.GetExerciseResponse:
        """The exercise: its parties, stations and policy."""
        return await self._unary(
            self._exercise.GetExercise(services_pb2.GetExerciseRequest(), metadata=self._metadata)
        )

    async def status(self) -> services_pb2.GetStatusResponse:
        """Every station (consoles, line, messages awaiting its answer) and every
        hotline (last sequence number, suspension, time lost)."""
        return await self._unary(
            self._exercise.GetStatus(services_pb2.GetStatusRequest(), metadata=self._metadata)
        )

    async def zones(
        self, states: Iterable[zones_pb2.ZoneState.ValueType] = ()
    ) -> list[zones_pb2.Zone]:
        """The zones in any of ``states`` (every zone when empty)."""
        request = services_pb2.ListZonesRequest(states=list(states))
        response = await self._unary(self._zones.ListZones(request, metadata=self._metadata))
        return list(response.zones)

    async def zone(self, zone_id: str) -> services_pb2.GetZoneResponse:
        """Zone ``zone_id`` with its history of versions; NOT_FOUND for no such zone."""
        return await self._unary(
            self._zones.GetZone(
                services_pb2.GetZoneRequest(zone_id=zone_id), metadata=self._metadata
            )
        )

    async def suspend(self, hotline: common_pb2.Hotline.ValueType, reason: str) -> None:
        """Suspends ``hotline`` (exercise control): nothing is sent on it and no deadline
        runs until it is resumed. FAILED_PRECONDITION if it is suspended already."""
        request = services_pb2.SuspendHotlineRequest(hotline=hotline, reason=reason)
        await self._unary(self._exercise.SuspendHotline(request, metadata=self._metadata))

    async def resume(self, hotline: common_pb2.Hotline.ValueType) -> None:
        """Resumes a suspended ``hotline`` (exercise control); its deadlines run on with
        the time they had left. FAILED_PRECONDITION if it is not suspended."""
        request = services_pb2.ResumeHotlineRequest(hotline=hotline)
        await self._unary(self._exercise.ResumeHotline(request, metadata=self._metadata))

    async def annotate(
        self,
        text: str,
        bookmark: str = "",
        hotline: common_pb2.Hotline.ValueType = common_pb2.HOTLINE_UNSPECIFIED,
        *,
        about_index: int | None = None,
        about_time: Timestamp | None = None,
        about_sequence: int | None = None,
    ) -> int:
        """Appends a note or bookmark (exercise control); returns the record's index.

        ``about_index`` / ``about_time`` say which record (by its index in the log) or
        moment of the exercise a note written after the fact is about;
        ``about_sequence`` names the message by its number on ``hotline`` instead (the
        #N a console shows). A record not in the log is refused with OUT_OF_RANGE."""
        request = services_pb2.AnnotateRequest(
            text=text,
            bookmark=bookmark,
            hotline=hotline,
            about_index=about_index,
            about_time=about_time,
            about_sequence=about_sequence,
        )
        response = await self._unary(self._exercise.Annotate(request, metadata=self._metadata))
        return response.index

    async def revoke_credential(
        self, credential_id: str, reason: str = ""
    ) -> services_pb2.RevokeCredentialResponse:
        """Revokes a credential by its id (exercise control): its open sessions end at
        once with UNAUTHENTICATED and it is refused from then on; recorded. Returns how
        many sessions ended and the record's index. INVALID_ARGUMENT for an id that is
        not one."""
        request = services_pb2.RevokeCredentialRequest(credential_id=credential_id, reason=reason)
        return await self._unary(self._exercise.RevokeCredential(request, metadata=self._metadata))

    async def watch(
        self,
        hotlines: Iterable[common_pb2.Hotline.ValueType] = (),
        resume_after_index: int | None = None,
    ) -> AsyncIterator[log_pb2.LogRecord]:
        """Every log record once it is durable, on ``hotlines`` (all when empty), from
        after log index ``resume_after_index`` if given (exercise control and
        observers; a station is refused with PERMISSION_DENIED). Runs until the caller
        stops iterating; a lost connection raises :class:`~hotline.client.TransportError`
        (resume after the last index seen)."""
        request = services_pb2.WatchRequest(hotlines=list(hotlines))
        if resume_after_index is not None:
            request.resume_after_index = resume_after_index
        call = self._exercise.Watch(request, metadata=self._metadata)
        try:
            async for response in call:
                for record in response.records:
                    yield record
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
        finally:
            call.cancel()

    def replay(self, start: services_pb2.ReplayStart | None = None) -> ReplaySession:
        """A replay of the server's log (exercise control and observers), started when
        the session is entered or first read; see :class:`ReplaySession` for the
        controls. A bad ``start`` or a station's credential is refused then."""
        call = self._replays.Replay(metadata=self._metadata)
        return ReplaySession(call, start or services_pb2.ReplayStart())

    @staticmethod
    async def _unary(call: Awaitable[T]) -> T:
        try:
            return await call
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
