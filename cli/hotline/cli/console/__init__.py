"""``hotline station``: a participant's console.

Deliveries and alerts are printed as they arrive, above the line being typed; each
message is shown with its number on the hotline (#N), which names it in answers:

    say TEXT              send text (ROUTINE); 'priority', 'immediate', 'flash TEXT'
    wilco #N | roger #N   answer message #N (or the start of its id)
    unable #N REASON      unable to comply, with the reason
    accept #N | reject #N REASON | counter #N --circle LAT,LON,RADIUS_M ...
                          decide a zone proposal
    stop REASON           stop request, always FLASH
    send KIND ...         any kind of message, as 'hotline send KIND' (alone: asks
                          for each field)
    owed                  what this station still owes, with the time left
    quit                  leave (also Ctrl-D, or the end of the input)

On a terminal the console has line editing, history (up/down), completion (Tab) and a
bar with what is owed; with --plain, or when its input or output is not a terminal, it
reads and prints plain lines.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from hotline.cli import render
from hotline.cli.console.book import Book
from hotline.cli.console.commands import WORDS, Commands
from hotline.cli.console.io import ConsoleIO, PlainLines, Terminal, Typed
from hotline.cli.console.lines import delivery
from hotline.cli.console.prompts import Ask
from hotline.client import (
    HotlineClient,
    HotlineClientError,
    Refused,
    StationClient,
    Tls,
    TokenSource,
    TransportError,
)
from hotline.v1 import common_pb2, exercise_pb2

#: Seconds between attempts to reach a server that is not there yet.
_RETRY = (0.2, 0.5, 1.0, 2.0)


def add_parser(commands: Any, connected: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "station",
        parents=[connected],
        help="a participant's console",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="plain lines in and out, as for a script or a pipe (the default when the "
        "input or the output is not a terminal)",
    )
    parser.add_argument(
        "--give-up",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="stop trying to reach the server after this long (0: never; default %(default)s)",
    )
    parser.set_defaults(run=run)


class _Said(logging.Handler):
    """The client library's notes (a lost connection, a reconnection) as console lines."""

    def __init__(self, io: ConsoleIO) -> None:
        super().__init__(logging.INFO)
        self.io = io

    def emit(self, record: logging.LogRecord) -> None:
        self.io.say(f"-- {record.getMessage()}")


class GaveUp(Exception):
    """No server answered within the time given (``--give-up``)."""


class Console:
    """One station's console: first contact, then deliveries and commands."""

    def __init__(
        self,
        io: ConsoleIO,
        address: str,
        token: TokenSource,
        give_up: float,
        tls: Tls | None = None,
    ) -> None:
        self.io = io
        self.address = address
        self.token = token
        self.tls = tls
        self.give_up = give_up
        self.failed = False

    async def run(self) -> int:
        """Runs until ``quit`` or the end of the input: 0; 1 if the server could not be
        reached or the session failed."""
        typed: Typed = asyncio.Queue()
        async with asyncio.TaskGroup() as tasks:
            reader = tasks.create_task(self.io.read(typed), name="console-input")
            try:
                return await self._run(typed)
            finally:
                reader.cancel()

    async def _run(self, typed: Typed) -> int:
        try:
            policy = await self._first_contact(typed)
        except GaveUp as error:
            self.io.say(f"?? {error}")
            return 1
        if policy is None:
            return 0
        async with (
            StationClient(self.address, self.token, tls=self.tls) as station,
            HotlineClient(self.address, self.token, tls=self.tls) as control,
        ):
            assert station.station is not None
            seat = "standby" if station.operator == common_pb2.OPERATOR_STANDBY else "primary"
            self.io.say(
                f"connected as {station.station.name} "
                f"({station.ref.party}/{render.hotline(station.ref.hotline)}, {seat}); "
                "type 'help' for commands"
            )
            book = Book(station.ref.party, policy)
            if isinstance(self.io, Terminal):
                self.io.book = book
            commands = Commands(station, control, book, self.io.say, self._asker(typed))
            async with asyncio.TaskGroup() as tasks:
                shown = tasks.create_task(self._show(station, book, typed), name="deliveries")
                while (line := await typed.get()) is not None:
                    if not await commands.run(line):
                        break
                shown.cancel()
        return 1 if self.failed else 0

    def _asker(self, typed: Typed) -> Ask | None:
        """Questions for the officer at a terminal; None for a script, which is never
        asked anything."""
        if self.io.holds_early_lines:
            return None

        async def ask(question: str) -> str | None:
            self.io.say(question)
            answer = await typed.get()
            if answer is None:
                # The end of the input ends the console too.
                typed.put_nowait(None)
            return answer

        return ask

    async def _show(self, station: StationClient, book: Book, typed: Typed) -> None:
        try:
            async for envelope in station.deliveries():
                book.note(envelope)
                shown = delivery(envelope, book)
                self.io.say(shown.text, loud=shown.loud)
        except HotlineClientError as error:
            self.io.say(f"?? the session ended: {error}")
            self.failed = True
            typed.put_nowait(None)

    async def _first_contact(self, typed: Typed) -> exercise_pb2.Policy | None:
        """The exercise's policy once the server answers; None if the input ends first
        with nothing to do. Says once that there is no server yet; raises
        :class:`GaveUp` after ``give_up`` seconds, or at once if the server refuses the
        credential. Lines typed meanwhile are refused on a terminal; a script's wait,
        and are put back on ``typed`` to be carried out once connected."""
        held: list[str | None] = []
        reaching = asyncio.create_task(self._reach(), name="first-contact")
        try:
            while None not in held:
                getting = asyncio.create_task(typed.get())
                await asyncio.wait((reaching, getting), return_when=asyncio.FIRST_COMPLETED)
                if not getting.done():
                    getting.cancel()
                    break
                line = getting.result()
                if line is None and not held:
                    self.io.say("-- end of input: leaving without having connected")
                    return None
                if self.io.holds_early_lines or line is None:
                    held.append(line)
                elif line.strip():
                    self.io.say(f"?? not connected yet: no server at {self.address}; not sent")
            policy = await reaching
        finally:
            reaching.cancel()
            await asyncio.gather(reaching, return_exceptions=True)
        # What was typed meanwhile goes first.
        while not typed.empty():
            held.append(typed.get_nowait())
        for line in held:
            typed.put_nowait(line)
        return policy

    async def _reach(self) -> exercise_pb2.Policy:
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempt = 0
        async with HotlineClient(self.address, self.token, tls=self.tls) as probe:
            while True:
                try:
                    return (await probe.exercise()).exercise.policy
                except TransportError as error:
                    waited = loop.time() - started
                    if self.give_up and waited >= self.give_up:
                        raise GaveUp(
                            f"no server at {self.address} after {waited:.0f} s "
                            f"({error.code.name}): giving up"
                        ) from None
                    if attempt == 0:
                        limit = f"for up to {self.give_up:g} s" if self.give_up else "until it is"
                        self.io.say(
                            f"-- not connected yet: no server at {self.address} "
                            f"({error.code.name}); trying again {limit}"
                        )
                except Refused as error:
                    raise GaveUp(f"the server at {self.address} refused: {error}") from None
                await asyncio.sleep(_RETRY[min(attempt, len(_RETRY) - 1)])
                attempt += 1


async def run(args: argparse.Namespace) -> int:
    terminal = not args.plain and sys.stdin.isatty() and sys.stdout.isatty()
    io: ConsoleIO = Terminal(WORDS) if terminal else PlainLines()
    notes = logging.getLogger("hotline.client")
    notes.addHandler(_Said(io))
    notes.propagate = False
    try:
        return await Console(io, args.address, args.token, args.give_up, args.tls).run()
    finally:
        notes.propagate = True
        notes.handlers.clear()
