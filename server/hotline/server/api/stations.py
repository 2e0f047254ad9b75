"""StationService: a station's session stream and one-shot sends."""

from __future__ import annotations

import asyncio
import logging

from hotline.contract import status_code
from hotline.server.api.common import Adapter, BadRequest, Context, abort, end_at_expiry
from hotline.server.consoles import Console, ConsoleClosed
from hotline.server.errors import (
    HotlineError,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from hotline.server.exercise import station_proto
from hotline.server.identity import Credential
from hotline.v1 import services_pb2

log = logging.getLogger(__name__)


class _SessionEnded(Exception):
    def __init__(self, error: HotlineError) -> None:
        super().__init__(error.message)
        self.error = error


class StationService(Adapter):
    """Thin adapter over the switchboard for station consoles."""

    async def Send(
        self, request: services_pb2.SendRequest, context: Context
    ) -> services_pb2.SendResponse:
        credential = await self.authenticate(context, "Send")
        outcome: asyncio.Future[services_pb2.SendResult] = (
            asyncio.get_running_loop().create_future()
        )
        self.switchboard.submit(credential, request.envelope, outcome.set_result)
        result = await outcome
        if result.code:
            await context.abort(status_code(result.code), result.error)
        return services_pb2.SendResponse(result=result)

    async def Session(self, _requests: object, context: Context) -> None:
        credential = await self.authenticate(context, "Session")
        try:
            console = await self._open(credential, context)
        except HotlineError as error:
            self.switchboard.record_refusal(credential, error, "Session", peer=context.peer())
            await abort(context, error)
        expiry = end_at_expiry(credential, lambda reason: console.close(reason, Unauthenticated))
        try:
            ended = await self._exchange(credential, console, context)
        finally:
            if expiry is not None:
                expiry.cancel()
        if ended is not None:
            await abort(context, ended)

    async def _exchange(
        self, credential: Credential, console: Console, context: Context
    ) -> HotlineError | None:
        """Reads and writes until the station leaves or the session must end; returns
        the error to end the stream with, if any. Both tasks are owned here."""
        reader = asyncio.create_task(self._read(credential, console, context))
        writer = asyncio.create_task(self._write(console, context))
        ended: HotlineError | None = None
        try:
            done, _ = await asyncio.wait((reader, writer), return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                if isinstance(error, _SessionEnded):
                    ended = error.error
                elif error is not None:
                    raise error
        finally:
            for task in (reader, writer):
                task.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)
            reason = "the stream ended" if ended is None else ended.message
            self.switchboard.close_console(console, reason)
        return ended

    async def _open(self, credential: Credential, context: Context) -> Console:
        if not credential.is_participant:
            raise PermissionDenied(
                f"{credential.station_label} is not a station; watch with ExerciseService.Watch"
            )
        first = await context.read()
        if isinstance(first, BadRequest):
            raise first.error
        if not isinstance(first, services_pb2.SessionRequest):
            raise InvalidArgument("open: the session ended before it was opened")
        if first.WhichOneof("request") != "open":
            raise InvalidArgument("open: the first message of a session must be 'open'")
        request = first.open
        resume = (
            request.resume_after_sequence if request.HasField("resume_after_sequence") else None
        )
        console, last = await self.switchboard.open_console(
            credential, context.peer(), resume, request.received_after
        )
        station = self.switchboard.exercise.station(credential.party, credential.hotline)
        assert station is not None
        opened = services_pb2.SessionOpened(
            station=station_proto(station),
            operator=credential.operator,
            session_id=console.session_id,
            last_sequence=last,
        )
        try:
            await context.write(services_pb2.SessionResponse(opened=opened))
        except BaseException:
            # The station went away (or the server stops) before the session began.
            self.switchboard.close_console(console, "the stream ended while opening")
            raise
        return console

    async def _read(self, credential: Credential, console: Console, context: Context) -> None:
        while True:
            request = await context.read()
            if isinstance(request, BadRequest):
                raise self._refused(credential, context, request.error)
            if not isinstance(request, services_pb2.SessionRequest):
                console.close("the station closed the session")
                return
            self.switchboard.heartbeat(console)
            kind = request.WhichOneof("request")
            if kind == "envelopes":
                for envelope in request.envelopes.envelopes:
                    self.switchboard.submit(credential, envelope, console.post_result)
            elif kind == "open":
                error = InvalidArgument("open: the session is already open")
                raise self._refused(credential, context, error)

    def _refused(
        self, credential: Credential, context: Context, error: HotlineError
    ) -> _SessionEnded:
        """Records a refused stream message; the session ends with its status."""
        self.switchboard.record_refusal(credential, error, "Session", peer=context.peer())
        return _SessionEnded(error)

    async def _write(self, console: Console, context: Context) -> None:
        while True:
            try:
                responses = await console.next_responses()
            except ConsoleClosed as closed:
                if closed.error is None:
                    return
                raise _SessionEnded(closed.error(closed.reason)) from None
            for response in responses:
                await context.write(response)
