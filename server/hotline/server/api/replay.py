"""ReplayService: the server's own log played back for after-action review, steered by
the trainer while it plays.

The first request says what to replay (``start``); every later one is a control. The
call runs two owned tasks, joined in one task group: one plays the records, one reads
the controls and applies them to the :class:`~hotline.server.replay.Player`, so a pause
takes effect in the middle of a wait. A ``ReplayState`` is sent at the start and after
every control, a ``ReplayFinished`` when the selection is over; then the stream ends.
A control the service refuses ends the replay with the status that says why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator

from hotline.contract import duration, seconds, status_number
from hotline.server.api.common import Adapter, Context, abort, end_at_expiry
from hotline.server.envelope_checks import check_enum
from hotline.server.errors import HotlineError, InvalidArgument, Unauthenticated
from hotline.server.identity import Credential
from hotline.server.replay import Bookmarks, Played, Player, ReaderSource, Selection
from hotline.v1 import common_pb2, log_pb2, services_pb2

log = logging.getLogger(__name__)

__all__ = ["ReplayService", "replay_selection", "replay_speed"]

_COMMANDS = ", ".join(services_pb2.ReplayCommand.keys()[1:])


def replay_speed(value: float, field: str) -> float:
    """A speed factor from the request: 0 (as fast as possible) or positive, finite."""
    if not 0 <= value < float("inf"):
        raise InvalidArgument(f"{field}: 0 (as fast as possible) or a positive factor, not {value}")
    return value


def replay_selection(start: services_pb2.ReplayStart) -> Selection:
    """The records a ``ReplayStart`` asks for; raises InvalidArgument naming the field."""
    for i, hotline in enumerate(start.hotlines):
        check_enum(hotline, common_pb2.Hotline, f"start.hotlines[{i}]")
    for i, kind in enumerate(start.kinds):
        check_enum(kind, log_pb2.RecordKind, f"start.kinds[{i}]")
    for i, party in enumerate(start.parties):
        if not party.strip():
            raise InvalidArgument(f"start.parties[{i}]: a party id, e.g. BLUE")

    def moment(field: str) -> float | None:
        if not start.HasField(field):  # type: ignore[arg-type]
            return None
        return seconds(getattr(start, field))

    return Selection(
        from_index=start.from_index if start.HasField("from_index") else None,
        to_index=start.to_index if start.HasField("to_index") else None,
        from_time=moment("from_time"),
        to_time=moment("to_time"),
        hotlines=frozenset(start.hotlines),
        parties=frozenset(p.strip() for p in start.parties),
        kinds=frozenset(start.kinds),
    )


def _state(player: Player, refused: HotlineError | None = None) -> services_pb2.ReplayResponse:
    state = player.state
    response = services_pb2.ReplayResponse(
        state=services_pb2.ReplayState(
            paused=state.paused,
            speed=state.speed,
            next_index=state.next_index,
            bookmarks=dict(player.bookmarks),
        )
    )
    if refused is not None:
        response.state.refused.code = status_number(refused.code)
        response.state.refused.message = refused.message
    return response


def _record(played: Played) -> services_pb2.ReplayResponse:
    return services_pb2.ReplayResponse(
        record=services_pb2.ReplayedRecord(record=played.record, elapsed=duration(played.elapsed))
    )


def _first(group: BaseExceptionGroup[HotlineError]) -> HotlineError:
    """The first refusal in a task group's errors (the one that ended the replay)."""
    error: HotlineError | BaseExceptionGroup[HotlineError] = group.exceptions[0]
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


class _Replay:
    """One replay call: the player, its source, and the stream it writes to."""

    def __init__(self, player: Player, source: ReaderSource, context: Context) -> None:
        self.player = player
        self.source = source
        self._context = context
        # gRPC allows one write at a time; records and states come from two tasks.
        self._writing = asyncio.Lock()

    async def send(self, response: services_pb2.ReplayResponse) -> None:
        async with self._writing:
            await self._context.write(response)

    async def run(self, requests: AsyncIterator[services_pb2.ReplayRequest]) -> None:
        await self.send(_state(self.player))
        try:
            async with asyncio.TaskGroup() as tasks:
                steering = tasks.create_task(self._steer(requests), name="replay-controls")
                played = 0
                async for shown in self.player:
                    if shown.record is None:
                        # Only an altered log holds such bytes; the audit tools report it.
                        log.warning("replay: record %d is not a log record", shown.index)
                        continue
                    await self.send(_record(shown))
                    played += 1
                await self.send(
                    services_pb2.ReplayResponse(
                        finished=services_pb2.ReplayFinished(records=played)
                    )
                )
                steering.cancel()
        except* HotlineError as refused:
            raise _first(refused) from None

    async def _steer(self, requests: AsyncIterator[services_pb2.ReplayRequest]) -> None:
        """Applies each control as it comes and reports the state it leaves, with the
        reason when the control was refused (the replay goes on as it stood). The client
        closing its side only means no more controls: the replay plays on."""
        async for request in requests:
            try:
                if request.WhichOneof("request") != "control":
                    raise InvalidArgument(
                        "start: the replay has already started; later requests are controls"
                    )
                await self._apply(request.control)
            except HotlineError as refused:
                await self.send(_state(self.player, refused))
            else:
                await self.send(_state(self.player))

    async def _apply(self, control: services_pb2.ReplayControl) -> None:
        player = self.player
        which = control.WhichOneof("control")
        if which == "command":
            command = control.command
            if command == services_pb2.REPLAY_COMMAND_PAUSE:
                player.pause()
            elif command == services_pb2.REPLAY_COMMAND_RESUME:
                player.resume()
            elif command == services_pb2.REPLAY_COMMAND_STEP:
                player.step()
            elif command == services_pb2.REPLAY_COMMAND_FASTER:
                player.faster()
            elif command == services_pb2.REPLAY_COMMAND_SLOWER:
                player.slower()
            else:
                raise InvalidArgument(f"control.command: one of {_COMMANDS}, not {command}")
        elif which == "speed":
            player.set_speed(replay_speed(control.speed, "control.speed"))
        elif which == "jump_to_bookmark":
            if control.jump_to_bookmark not in player.bookmarks:
                # Perhaps set since the replay began (live through Annotate).
                await player.bookmarks.refresh(self.source)
            player.jump(control.jump_to_bookmark)
        elif which == "seek_to_index":
            if control.seek_to_index >= self.source.end:
                raise InvalidArgument(
                    f"control.seek_to_index: this replay covers records 0 to "
                    f"{self.source.end - 1}, not {control.seek_to_index}"
                )
            player.seek(control.seek_to_index)
        else:
            raise InvalidArgument(
                "control: one of command, speed, jump_to_bookmark or seek_to_index"
            )


class ReplayService(Adapter):
    async def Replay(
        self, request_iterator: AsyncIterable[services_pb2.ReplayRequest], context: Context
    ) -> None:
        """Plays the log as it stands when the call starts (exercise control and
        observers): PERMISSION_DENIED for a station, INVALID_ARGUMENT naming the field
        for a first request that is not ``start`` or a bad selection. A control that
        cannot be applied (INVALID_ARGUMENT naming the field, NOT_FOUND for a jump to a
        bookmark no annotation gave) is answered by a state saying so, and the replay
        goes on."""

        async def action(credential: Credential) -> None:
            credential.require_watch("replaying the exercise")
            requests = aiter(request_iterator)
            first = await anext(requests, None)
            if first is None or first.WhichOneof("request") != "start":
                raise InvalidArgument(
                    "start: the first request of a replay says what to replay "
                    "(ReplayStart: speed, window, hotlines, parties, kinds)"
                )
            start = first.start
            speed = replay_speed(start.speed, "start.speed") if start.HasField("speed") else 1.0
            selection = replay_selection(start)
            # Everything recorded so far is committed first, so the replay sees all of it.
            await self.switchboard.flush()
            source = ReaderSource(self.switchboard.records, self.switchboard.log_size)
            player = Player(
                source,
                speed=speed,
                selection=selection,
                paused=start.paused,
                bookmarks=await Bookmarks.scan(source),
            )
            replay = asyncio.create_task(_Replay(player, source, context).run(requests))
            expired: list[str] = []

            def end(reason: str) -> None:
                expired.append(reason)
                replay.cancel()

            expiry = end_at_expiry(credential, end)
            try:
                await replay
            except asyncio.CancelledError:
                if not expired:
                    raise
                # The credential expired during the replay.
                await abort(context, Unauthenticated(expired[0]))
            finally:
                replay.cancel()
                if expiry is not None:
                    expiry.cancel()

        await self.call(context, "Replay", action)
