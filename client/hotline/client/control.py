"""Unary calls and the watch stream, for one-shot tools and exercise control."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterable
from types import TracebackType
from typing import TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from hotline.client.errors import from_rpc_error
from hotline.client.replay import ReplaySession
from hotline.client.station import CHANNEL_OPTIONS
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
    steering the exercise. Every refusal is raised as :class:`Refused`."""

    def __init__(self, address: str, token: str) -> None:
        self.address = address
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
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
        """Sends one envelope and waits until it is recorded."""
        try:
            response = await self._stations.Send(
                services_pb2.SendRequest(envelope=message), metadata=self._metadata
            )
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
        return response.result

    async def exercise(self) -> services_pb2.GetExerciseResponse:
        return await self._unary(
            self._exercise.GetExercise(services_pb2.GetExerciseRequest(), metadata=self._metadata)
        )

    async def status(self) -> services_pb2.GetStatusResponse:
        return await self._unary(
            self._exercise.GetStatus(services_pb2.GetStatusRequest(), metadata=self._metadata)
        )

    async def zones(
        self, states: Iterable[zones_pb2.ZoneState.ValueType] = ()
    ) -> list[zones_pb2.Zone]:
        request = services_pb2.ListZonesRequest(states=list(states))
        response = await self._unary(self._zones.ListZones(request, metadata=self._metadata))
        return list(response.zones)

    async def zone(self, zone_id: str) -> services_pb2.GetZoneResponse:
        return await self._unary(
            self._zones.GetZone(
                services_pb2.GetZoneRequest(zone_id=zone_id), metadata=self._metadata
            )
        )

    async def suspend(self, hotline: common_pb2.Hotline.ValueType, reason: str) -> None:
        request = services_pb2.SuspendHotlineRequest(hotline=hotline, reason=reason)
        await self._unary(self._exercise.SuspendHotline(request, metadata=self._metadata))

    async def resume(self, hotline: common_pb2.Hotline.ValueType) -> None:
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
    ) -> int:
        """Appends a note or bookmark (exercise control); returns the record's index.

        ``about_index`` / ``about_time`` say which record or moment of the exercise a
        note written after the fact is about; a record not yet in the log is refused
        with OUT_OF_RANGE."""
        request = services_pb2.AnnotateRequest(
            text=text,
            bookmark=bookmark,
            hotline=hotline,
            about_index=about_index,
            about_time=about_time,
        )
        response = await self._unary(self._exercise.Annotate(request, metadata=self._metadata))
        return response.index

    async def watch(
        self,
        hotlines: Iterable[common_pb2.Hotline.ValueType] = (),
        resume_after_index: int | None = None,
    ) -> AsyncIterator[log_pb2.LogRecord]:
        """Every log record as it is recorded (exercise control and observers)."""
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
        """A replay of the server's log (exercise control and observers), sent when the
        session is entered or first read; see :class:`ReplaySession` for the controls."""
        call = self._replays.Replay(metadata=self._metadata)
        return ReplaySession(call, start or services_pb2.ReplayStart())

    @staticmethod
    async def _unary(call: Awaitable[T]) -> T:
        try:
            return await call
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
