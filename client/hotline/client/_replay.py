"""A replay of the server's log (``ReplayService``), steered while it plays.

    async with client.replay(services_pb2.ReplayStart(speed=10)) as session:
        async for event in session:          # records, states, then the end
            ...
        # from another task: await session.pause(), .step(), .faster(), .jump("strike-1")

The session sends the ``start`` request when it is entered (or first read or steered);
each control is answered by a ``ReplayState`` in the stream, whose ``refused`` says why
when the control could not be applied (an unknown bookmark, a seek past the end: the
replay goes on as it stood). A refused start (a bad ``ReplayStart``, a station's
credential) is raised as :class:`~hotline.client.Refused` when the stream is read or
steered, a lost connection as :class:`~hotline.client.TransportError`, and a control
after the replay has ended as :class:`~hotline.client.Closed`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TypeAlias

import grpc

from hotline.client._errors import Closed, from_rpc_error, from_status
from hotline.v1 import services_pb2

__all__ = ["ReplayEvent", "ReplaySession"]

#: What the replay stream carries: a record, where the replay stands, or its end.
ReplayEvent: TypeAlias = (
    services_pb2.ReplayedRecord | services_pb2.ReplayState | services_pb2.ReplayFinished
)


class ReplaySession:
    """One replay call (made by :meth:`HotlineClient.replay`): iterate it for what is
    played; steer it with the controls.

    ``state`` is the last ``ReplayState`` read, ``finished`` the ``ReplayFinished`` once
    the selection is over. Iterate from one task; the controls may be called from any.
    """

    def __init__(
        self,
        call: grpc.aio.StreamStreamCall[services_pb2.ReplayRequest, services_pb2.ReplayResponse],
        start: services_pb2.ReplayStart,
    ) -> None:
        self._call = call
        self._start = start
        self._started = False
        # One write at a time on a call; controls may come from several tasks.
        self._writing = asyncio.Lock()
        self.state: services_pb2.ReplayState | None = None
        self.finished: services_pb2.ReplayFinished | None = None

    async def __aenter__(self) -> ReplaySession:
        await self._write(None)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Ends the replay (cancels the call); nothing more is read."""
        self._call.cancel()

    def __aiter__(self) -> AsyncIterator[ReplayEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[ReplayEvent]:
        await self._write(None)
        while True:
            try:
                response = await self._call.read()
            except grpc.aio.AioRpcError as error:
                raise from_rpc_error(error) from None
            if not isinstance(response, services_pb2.ReplayResponse):
                return  # the end of the stream
            which = response.WhichOneof("response")
            if which == "state":
                self.state = response.state
                yield response.state
            elif which == "record":
                yield response.record
            elif which == "finished":
                self.finished = response.finished
                yield response.finished

    async def records(self) -> AsyncIterator[services_pb2.ReplayedRecord]:
        """Only the records (``state`` and ``finished`` are kept up to date)."""
        async for event in self:
            if isinstance(event, services_pb2.ReplayedRecord):
                yield event

    async def pause(self) -> None:
        """Pauses the replay; :meth:`resume` plays on from there."""
        await self._command(services_pb2.REPLAY_COMMAND_PAUSE)

    async def resume(self) -> None:
        """Plays on from where the replay was paused."""
        await self._command(services_pb2.REPLAY_COMMAND_RESUME)

    async def step(self) -> None:
        """Plays the next record, then stays paused."""
        await self._command(services_pb2.REPLAY_COMMAND_STEP)

    async def faster(self) -> None:
        """Twice the speed."""
        await self._command(services_pb2.REPLAY_COMMAND_FASTER)

    async def slower(self) -> None:
        """Half the speed."""
        await self._command(services_pb2.REPLAY_COMMAND_SLOWER)

    async def set_speed(self, speed: float) -> None:
        """A new speed factor; 0 plays without waiting."""
        await self._write(services_pb2.ReplayControl(speed=speed))

    async def seek(self, index: int) -> None:
        """Goes on from record ``index``, forwards or backwards."""
        await self._write(services_pb2.ReplayControl(seek_to_index=index))

    async def jump(self, bookmark: str) -> None:
        """Goes on from the record ``bookmark`` marks."""
        await self._write(services_pb2.ReplayControl(jump_to_bookmark=bookmark))

    async def send(self, control: services_pb2.ReplayControl) -> None:
        """Any control, as built by the caller (the methods above are shortcuts)."""
        await self._write(control)

    async def _command(self, command: services_pb2.ReplayCommand.ValueType) -> None:
        await self._write(services_pb2.ReplayControl(command=command))

    async def _write(self, control: services_pb2.ReplayControl | None) -> None:
        """Sends ``start`` if not yet sent, then ``control`` if any."""
        async with self._writing:
            try:
                if not self._started:
                    self._started = True
                    await self._call.write(services_pb2.ReplayRequest(start=self._start))
                if control is not None:
                    await self._call.write(services_pb2.ReplayRequest(control=control))
            except grpc.aio.AioRpcError as error:
                raise from_rpc_error(error) from None
            except asyncio.InvalidStateError:
                # The call is over: refused before this was sent, or finished.
                code = await self._call.code()
                if code != grpc.StatusCode.OK:
                    raise from_status(code, await self._call.details() or "") from None
                raise Closed("the replay has ended; start another to go on") from None
