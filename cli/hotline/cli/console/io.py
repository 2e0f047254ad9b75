"""The console's two faces: a terminal (line editing, history, completion, deliveries
printed above the line being typed, what is owed in a bar below it) and plain lines for
scripts and pipes."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.patch_stdout import patch_stdout

from hotline.cli.console.book import Book, countdown

#: Typed lines, then None at the end of the input.
Typed = asyncio.Queue[str | None]

_BELL = "\a"
_LOUD = "\x1b[1;7;31m"
_RESET = "\x1b[0m"


class ConsoleIO(Protocol):
    #: Whether lines typed before the server is reached wait for it (a script's) or
    #: are refused at once (an officer's, who sees that nothing is connected).
    holds_early_lines: bool

    def say(self, text: str, loud: bool = False) -> None:
        """Prints a line (``loud``: a page or an escalation, which must not go unseen)."""

    async def read(self, typed: Typed) -> None:
        """Puts every line typed on ``typed``, then None at the end of the input."""


class PlainLines:
    """Lines from standard input, lines to standard output: for scripts and pipes."""

    holds_early_lines = True

    def say(self, text: str, loud: bool = False) -> None:
        print(text, flush=True)

    async def read(self, typed: Typed) -> None:
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).decode():
            await typed.put(line.rstrip("\n"))
        await typed.put(None)


class _Completion(Completer):
    """Command words first; then, after an answer, the messages awaiting one."""

    def __init__(self, words: Iterable[str], owed: Callable[[], list[str]]) -> None:
        self.words = sorted(set(words))
        self.owed = owed

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        before = document.text_before_cursor
        parts = before.split(" ")
        current = parts[-1]
        if len(parts) == 1:
            candidates = self.words
        elif len(parts) == 2:
            candidates = self.owed()
        else:
            return
        for candidate in candidates:
            if candidate.startswith(current) or candidate.lstrip("#").startswith(current):
                yield Completion(candidate, start_position=-len(current))


class Terminal:
    """A prompt at the bottom of the terminal, with history (up and down arrows), line
    editing, completion (Tab) and a bar of what the station owes; whatever the
    console prints goes above the line being typed, which stays as it was."""

    holds_early_lines = False

    def __init__(self, words: Iterable[str]) -> None:
        self.book: Book | None = None
        self._session: PromptSession[str] = PromptSession(
            history=InMemoryHistory(),
            completer=_Completion(words, self._owed_references),
            bottom_toolbar=self._toolbar,
            refresh_interval=1.0,
            complete_while_typing=False,
        )

    def say(self, text: str, loud: bool = False) -> None:
        if loud:
            text = f"{_BELL}{_LOUD}{text}{_RESET}"
        print(text, flush=True)

    async def read(self, typed: Typed) -> None:
        with patch_stdout(raw=True):
            while True:
                try:
                    line = await self._session.prompt_async("> ")
                except KeyboardInterrupt:
                    # Ctrl-C clears the line; Ctrl-D (or 'quit') leaves.
                    continue
                except EOFError:
                    await typed.put(None)
                    return
                await typed.put(line)

    def _owed_references(self) -> list[str]:
        return self.book.awaiting_references() if self.book is not None else []

    def _toolbar(self) -> str:
        if self.book is None:
            return " not connected"
        owed = self.book.owed()
        if not owed:
            return " nothing owed"
        now = time.time()
        listed = " · ".join(
            f"#{item.envelope.sequence} {countdown(item.due, now)}" for item in owed[:4]
        )
        more = f" · {len(owed) - 4} more ('owed')" if len(owed) > 4 else ""
        return f" owed: {listed}{more}"
