"""A ``hotline station`` console in a pseudo-terminal, typed into as an officer would.

The console runs as a child process whose terminal is a pty (pexpect): line editing,
history, completion and output above the prompt are those a user gets. Waits follow
what the console prints; pexpect blocks, so they run in a thread while the test's event
loop (and a server in it) goes on.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
from types import TracebackType

from pexpect.fdpexpect import fdspawn

#: Keys as a terminal sends them.
UP = "\x1b[A"
LEFT = "\x1b[D"
TAB = "\t"
ENTER = "\r"
CTRL_D = "\x04"
#: Longest a console may take to print what a test waits for.
WITHIN = 30.0


class TerminalConsole:
    """``hotline station ARGS`` in a pseudo-terminal 200 columns wide.

    The child is started by :mod:`subprocess` on the pty's far end rather than by
    pexpect's own fork, which would fork the test's process with gRPC threads running.
    """

    def __init__(self, *args: str) -> None:
        env = {
            **os.environ,
            "TERM": "xterm",
            # A pty under test answers no cursor position request.
            "PROMPT_TOOLKIT_NO_CPR": "1",
        }
        ours, theirs = os.openpty()
        fcntl.ioctl(theirs, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hotline.cli", "station", *args],
                stdin=theirs,
                stdout=theirs,
                stderr=theirs,
                env=env,
                start_new_session=True,
            )
        finally:
            os.close(theirs)
        self.child = fdspawn(ours, encoding="utf-8", timeout=WITHIN)

    @classmethod
    def at(cls, address: str, token: str, *options: str) -> TerminalConsole:
        return cls("--address", address, "--token", token, *options)

    async def __aenter__(self) -> TerminalConsole:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)

    def type(self, keys: str) -> None:
        """Types ``keys`` (no Enter unless they hold one)."""
        self.child.send(keys)

    def enter(self, line: str) -> None:
        self.child.send(line + ENTER)

    async def expect(self, text: str) -> str:
        """Waits until the console prints ``text``; returns what it printed since the
        last wait, up to and including it."""
        await asyncio.to_thread(self.child.expect_exact, text)
        return f"{self.child.before}{self.child.after}"

    async def expect_pattern(self, pattern: str) -> re.Match[str]:
        """Waits until the console prints something matching ``pattern``."""
        await asyncio.to_thread(self.child.expect, pattern)
        match = self.child.match
        assert isinstance(match, re.Match)
        return match

    async def ended(self) -> int:
        """Waits for the console to end; its exit status."""
        return await asyncio.to_thread(self.process.wait, WITHIN)

    def close(self) -> None:
        if self.process.poll() is None:
            self.child.send(CTRL_D)
            try:
                self.process.wait(WITHIN)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.child.close()
