"""The live terminal view of ``hotline replay``: what each key does to the replay, what
the screen shows, and the real command in a pseudo-terminal driven by key presses.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from replay.test_player import EXERCISE, text
from rich.console import Console

from hotline.cli.replay_view import KEYS, Outcome, Screen, dispatch
from hotline.server.replay import Bookmarks, InMemory, Played, Player
from hotline.server.storage import StoredRecord
from hotline.testing.harness import AIR, expect, running_server
from hotline.testing.recorded import Recordings
from hotline.v1 import acknowledgments_pb2, common_pb2, log_pb2, messages_pb2

PATIENCE_S = 30.0


def bookmark(index: int, name: str, about_index: int) -> StoredRecord:
    record = log_pb2.LogRecord(
        index=index,
        kind=log_pb2.RECORD_KIND_ANNOTATION,
        actor="trainer",
        annotation=log_pb2.Annotation(author="trainer", bookmark=name, about_index=about_index),
    )
    return StoredRecord(index, record.kind, 0, 0, record.SerializeToString())


BOOKMARKED = [*EXERCISE, bookmark(6, "strike", 2), bookmark(7, "convoy", 3)]


async def player(records: list[StoredRecord] = BOOKMARKED) -> Player:
    return Player(records, speed=1, bookmarks=await Bookmarks.scan(InMemory(records)))


def paused(replay: Player) -> bool:
    return replay.state.paused


async def test_space_pauses_and_resumes_n_steps_plus_and_minus_change_the_speed() -> None:
    replay = await player()
    assert dispatch(" ", replay) == (Outcome.STEERED, "paused")
    assert paused(replay)
    assert dispatch(" ", replay) == (Outcome.STEERED, "playing")
    assert not paused(replay)
    assert dispatch("+", replay)[0] is Outcome.STEERED
    assert replay.state.speed == 2.0
    dispatch("=", replay)  # the unshifted "+"
    assert replay.state.speed == 4.0
    dispatch("-", replay)
    dispatch("-", replay)
    dispatch("-", replay)
    assert replay.state.speed == 0.5
    assert dispatch("n", replay)[0] is Outcome.STEERED
    assert paused(replay)  # a step leaves the replay paused


async def test_b_jumps_to_the_next_bookmark_and_digits_to_the_nth() -> None:
    replay = await player()
    assert dispatch("b", replay) == (Outcome.JUMPED, "jumped to strike (#2)")
    assert replay.state.next_index == 2
    assert dispatch("b", replay) == (Outcome.JUMPED, "jumped to convoy (#3)")
    assert dispatch("b", replay) == (Outcome.JUMPED, "jumped to strike (#2)")  # round again
    assert dispatch("2", replay) == (Outcome.JUMPED, "jumped to convoy (#3)")
    assert replay.state.next_index == 3
    assert dispatch("7", replay) == (Outcome.IGNORED, "there are 2 bookmarks, not 7")
    assert replay.state.next_index == 3


async def test_keys_that_do_nothing_say_why_and_q_quits() -> None:
    plain = await player(list(EXERCISE))
    assert dispatch("b", plain) == (Outcome.IGNORED, "no bookmarks in this log")
    assert dispatch("x", plain) == (Outcome.IGNORED, "")
    assert dispatch("q", plain)[0] is Outcome.QUIT
    state = plain.state
    assert (state.paused, state.speed, state.next_index) == (False, 1.0, 0)


def screen_text(screen: Screen, replay: Player) -> str:
    console = Console(record=True, width=140, height=30, file=open(os.devnull, "w"))  # noqa: SIM115
    with console.file:
        console.print(screen.layout(replay.state, replay.bookmarks, 30))
    return console.export_text()


async def test_the_screen_has_a_panel_per_hotline_with_its_latest_records_and_a_status() -> None:
    replay = await player()
    screen = Screen(hotlines=(), total=len(BOOKMARKED))
    shown = [p async for p in Player(BOOKMARKED, speed=0)]
    for played in shown:
        screen.show(played)
    replay.pause()
    shown_text = screen_text(screen, replay)
    for title in ("AIR_OPERATIONS", "GROUND_COMMANDERS", "GENERALS", "EXERCISE"):
        assert title in shown_text
    assert "#5 T+00:01:00 #0 UNSPECIFIED BLUE text: message 5" in shown_text
    assert "#3 T+00:00:30 #0 UNSPECIFIED RED text: message 3" in shown_text
    assert "#4 T+00:00:45 trainer: note 4" in shown_text
    assert "PAUSED" in shown_text
    assert "next #0 of 8" in shown_text
    assert "1:strike #2  2:convoy #3" in shown_text
    assert KEYS[:40] in shown_text
    # Only the selected hotlines get a panel (and the exercise's own records).
    ground = Screen(hotlines=(common_pb2.HOTLINE_GROUND_COMMANDERS,), total=8)
    assert "AIR_OPERATIONS" not in screen_text(ground, replay)


async def test_a_panel_shows_the_latest_records_that_fit() -> None:
    screen = Screen(hotlines=(AIR,), total=100)
    for i in range(100):
        screen.show(Played(i, log_pb2.LogRecord.FromString(text(i, i, "BLUE").data), i))
    shown = screen_text(screen, await player())
    assert "message 99" in shown
    assert "message 10 " not in shown


# ---------------------------------------------------------------------- the real thing


async def _exercise(data_dir: Path) -> None:
    """BLUE pre-notifies a strike, RED answers; exercise control bookmarks it."""
    async with (
        running_server(data_dir) as server,
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as red,
        server.control() as control,
    ):
        sent = await blue.send(messages_pb2.TextMessage(text="Strike at grid 37S DV 1"))
        delivery = await expect(red, lambda e: e.message_id == sent.message_id)
        await red.acknowledge(delivery, acknowledgments_pb2.ACK_KIND_WILCO)
        await expect(blue, lambda e: e.acknowledgment.message_id == sent.message_id)
        await control.annotate("strike answered", bookmark="answered")


@pytest.fixture
def log(recordings: Recordings, tmp_path: Path) -> Path:
    """A copy of the recorded log, with the server's verifier key beside it."""
    return recordings.of(_exercise).copy_log(tmp_path)


_ESCAPES = re.compile(rb"\x1b(\[[0-9;?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[=>78])")


class Terminal:
    """``hotline`` in a pseudo-terminal: keys in, the screen's text out."""

    def __init__(self, *args: str) -> None:
        self.master, self.slave = os.openpty()
        termios.tcsetwinsize(self.slave, (40, 200))
        self.settings = termios.tcgetattr(self.slave)
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", *args],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            env={**env, "TERM": "xterm-256color"},
            start_new_session=True,
        )
        self._seen = b""
        self._mark = 0

    def press(self, key: str) -> None:
        """Types ``key``; what the screen shows from now on is what :meth:`shows` reads."""
        self._mark = len(self._seen)
        os.write(self.master, key.encode())

    def shows(self, *texts: str) -> str:
        """Waits (up to a deadline) until the screen, since the last key, has shown
        every one of ``texts``; returns that text."""
        deadline = time.monotonic() + PATIENCE_S
        while True:
            shown = _ESCAPES.sub(b"", self._seen[self._mark :]).decode(errors="replace")
            if all(t in shown for t in texts):
                return shown
            left = deadline - time.monotonic()
            if left <= 0 or (self.process.poll() is not None and not self._read(0)):
                pytest.fail(f"the screen never showed {texts}; it showed:\n{shown[-3000:]}")
            self._read(left)

    def _read(self, within: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], within)
        if not ready:
            return False
        try:
            self._seen += os.read(self.master, 65536)
        except OSError:  # the child is gone and the terminal closed
            return False
        return True

    def exit_status(self) -> int:
        """Waits for the command to end, reading what it still writes."""
        deadline = time.monotonic() + PATIENCE_S
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        return self.process.wait(timeout=1)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminal(log: Path) -> Iterator[Terminal]:
    key = log.parent / "signing.pub"
    terminal = Terminal("replay", str(log), "--key", str(key), "--speed", "0", "--paused")
    try:
        yield terminal
    finally:
        terminal.close()


def test_the_replay_command_on_a_terminal_is_a_live_view_steered_by_keys(
    terminal: Terminal,
) -> None:
    terminal.shows("AIR_OPERATIONS", "GROUND_COMMANDERS", "GENERALS", "EXERCISE")
    terminal.shows("PAUSED", "next #0 of", "1:answered #", "space pause/resume")

    terminal.press("n")  # one record: the exercise starting
    terminal.shows("played 1", "#0 ", "PAUSED")

    terminal.press(" ")  # to the end, as fast as possible
    terminal.shows("END", "Strike at grid 37S DV 1", "WILCO", "strike answered")

    terminal.press("1")  # back to the bookmark, and on to the end again
    terminal.shows("jumped to answered", "END")

    terminal.press("q")
    assert terminal.exit_status() == 0
    # The terminal is as it was: line editing and echo back on.
    restored = termios.tcgetattr(terminal.slave)
    assert restored[3] & (termios.ICANON | termios.ECHO) == terminal.settings[3] & (
        termios.ICANON | termios.ECHO
    )
