"""The live terminal view of ``hotline replay``: one panel per hotline with its latest
records, a status line, and keys that steer the replay while it plays.

    space  pause / resume      n  step one record      +  faster      -  slower
    b      next bookmark       1-9  the n-th bookmark  q  quit

It is used when standard output is a terminal and neither ``--json`` nor ``--plain`` is
given. Keys are read from standard input in cbreak mode (each key at once, no echo);
the terminal is restored on the way out, however the view ends. Without a terminal on
standard input the view plays to the end and returns.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import math
import os
import sys
import termios
import tty
from collections import deque
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console, Group
from rich.layout import Layout
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from hotline.cli import render, replay_lines
from hotline.server.errors import HotlineError
from hotline.server.replay import (
    BackendSource,
    Bookmarks,
    Played,
    Player,
    PlayerState,
    Selection,
)
from hotline.server.storage import Backend
from hotline.v1 import common_pb2, log_pb2

__all__ = ["KEYS", "Outcome", "Screen", "add_arguments", "dispatch", "run", "wanted"]

KEYS = "space pause/resume · n step · +/- faster/slower · b next bookmark · 1-9 bookmark · q quit"
#: Most screen refreshes a second: a fast replay is drawn, not every record of it.
REFRESH_HZ = 12
#: Records kept per panel (more than any terminal shows).
KEPT = 200
#: The panel of records on no hotline (exercise start, trainers' notes, server events).
EXERCISE = common_pb2.HOTLINE_UNSPECIFIED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--plain`` and ``--paused``, the view's options of ``hotline replay``."""
    parser.add_argument(
        "--plain",
        action="store_true",
        help="one line per record even on a terminal (no live view)",
    )
    parser.add_argument(
        "--paused",
        action="store_true",
        help="in the live view, start paused (space plays, n steps)",
    )


def wanted(args: argparse.Namespace) -> bool:
    """Whether ``hotline replay`` shows the live view: on a terminal, unless ``--json``
    or ``--plain`` asks for lines."""
    return sys.stdout.isatty() and not args.json and not args.plain


class Controls(Protocol):
    """What the keys steer: a :class:`~hotline.server.replay.Player`."""

    @property
    def state(self) -> PlayerState: ...

    @property
    def bookmarks(self) -> Mapping[str, int]: ...

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def step(self) -> None: ...
    def faster(self) -> None: ...
    def slower(self) -> None: ...
    def jump(self, bookmark: str) -> int: ...


class Outcome(enum.Enum):
    """What a key did, for the view to follow up."""

    IGNORED = enum.auto()
    STEERED = enum.auto()
    JUMPED = enum.auto()
    QUIT = enum.auto()


def dispatch(key: str, controls: Controls) -> tuple[Outcome, str]:
    """Applies the control ``key`` stands for; returns what it did and a line saying so
    (also why nothing happened, e.g. a bookmark number with no bookmark)."""
    if key == "q":
        return Outcome.QUIT, ""
    if key == " ":
        if controls.state.paused:
            controls.resume()
            return Outcome.STEERED, "playing"
        controls.pause()
        return Outcome.STEERED, "paused"
    simple = {"n": controls.step, "+": controls.faster, "-": controls.slower}
    if key in simple:
        simple[key]()
        return Outcome.STEERED, ""
    if key == "=":  # "+" without shift, on most keyboards
        controls.faster()
        return Outcome.STEERED, ""
    if key == "b" or key in "123456789":
        return _jump(key, controls)
    return Outcome.IGNORED, ""


def _jump(key: str, controls: Controls) -> tuple[Outcome, str]:
    names = list(controls.bookmarks)
    if not names:
        return Outcome.IGNORED, "no bookmarks in this log"
    if key == "b":
        at = controls.state.next_index
        name = next((n for n in names if controls.bookmarks[n] > at), names[0])
    elif int(key) <= len(names):
        name = names[int(key) - 1]
    else:
        return Outcome.IGNORED, f"there are {len(names)} bookmarks, not {key}"
    try:
        index = controls.jump(name)
    except HotlineError as error:
        return Outcome.IGNORED, error.message
    return Outcome.JUMPED, f"jumped to {name} (#{index})"


def _speed(speed: float) -> str:
    if speed == 0:
        return "as fast as possible"
    return f"x{speed:g}"


def _summary(record: log_pb2.LogRecord) -> str:
    """The record in a panel's width: who and what, without what the panel already says
    (the hotline) or what only a search needs (message ids)."""
    payload = record.WhichOneof("payload")
    if payload == "envelope":
        envelope = record.envelope
        return render.describe(envelope).replace(f" [{envelope.message_id}]", "", 1)
    summary = render.describe_record(record)
    if payload == "annotation":
        return summary  # it names its author
    kind = render.name(log_pb2.RecordKind, record.kind, "RECORD_KIND_")
    return f"{record.actor}: {kind}{' ' + summary if summary else ''}"


class Screen:
    """What the view shows, kept apart from the terminal: the latest records of each
    hotline, and a status line built from the player's state."""

    def __init__(self, hotlines: Collection[int], total: int) -> None:
        shown = sorted(hotlines) or [h for h in common_pb2.Hotline.values() if h]
        self._panels: dict[int, deque[Text]] = {h: deque(maxlen=KEPT) for h in shown}
        self._panels[EXERCISE] = deque(maxlen=KEPT)
        self._total = total
        self.message = ""

    def show(self, played: Played) -> None:
        """Adds a record to its hotline's panel."""
        record = played.record
        if record is None:
            line = Text(f"#{played.index} (not a log record: the stored bytes were altered)")
            self._panels[EXERCISE].append(line)
            return
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"#{played.index} ", style="dim")
        line.append(f"{replay_lines.elapsed(played.elapsed)} ", style="cyan")
        line.append(_summary(record))
        self._panels.get(record.hotline, self._panels[EXERCISE]).append(line)

    def clear(self) -> None:
        """Empties the panels (after a jump, which plays on from elsewhere)."""
        for lines in self._panels.values():
            lines.clear()

    def status(self, state: PlayerState, bookmarks: Mapping[str, int]) -> Text:
        if state.at_end and not state.paused:
            mode = Text("END", style="bold magenta")
        elif state.paused:
            mode = Text("PAUSED", style="bold yellow")
        else:
            mode = Text("PLAYING", style="bold green")
        status = Text.assemble(
            mode,
            f"  {_speed(state.speed)}  next #{state.next_index} of {self._total}",
            f"  played {state.played}",
        )
        if bookmarks:
            marks = "  ".join(
                f"{n}:{name} #{i}" for n, (name, i) in enumerate(bookmarks.items(), 1)
            )
            status.append(f"  bookmarks {marks}")
        else:
            status.append("  no bookmarks")
        if self.message:
            status.append(f"  ({self.message})", style="italic")
        return status

    def layout(self, state: PlayerState, bookmarks: Mapping[str, int], height: int) -> Layout:
        """The whole screen for a terminal ``height`` lines tall."""
        panels = list(self._panels.items())
        rows = math.ceil(len(panels) / 2)
        # Each panel shows as many of its latest records as fit (less its border).
        fits = max((height - 4) // rows - 2, 1)
        screen = Layout()
        grid = Layout(name="hotlines")
        status = Panel(
            Group(self.status(state, bookmarks), Text(KEYS, style="dim")), title="replay"
        )
        screen.split_column(grid, Layout(status, name="status", size=4))
        grid.split_column(*(Layout(name=f"row{r}") for r in range(rows)))
        for r in range(rows):
            row = panels[2 * r : 2 * r + 2]
            grid[f"row{r}"].split_row(
                *(Layout(self._panel(hotline, lines, fits)) for hotline, lines in row)
            )
        return screen

    @staticmethod
    def _panel(hotline: int, lines: deque[Text], fits: int) -> Panel:
        title = "EXERCISE" if hotline == EXERCISE else render.hotline(hotline)
        latest = list(lines)[-fits:]
        return Panel(Group(*latest) if latest else Text(""), title=title, title_align="left")


@contextmanager
def _keys(fd: int) -> Iterator[asyncio.Queue[str]]:
    """Keys pressed on terminal ``fd``, each at once (cbreak: no line editing, no echo;
    Ctrl-C still interrupts); the terminal's settings are restored on the way out."""
    saved = termios.tcgetattr(fd)
    pressed: asyncio.Queue[str] = asyncio.Queue(maxsize=64)
    loop = asyncio.get_running_loop()

    def readable() -> None:
        for key in os.read(fd, 64).decode(errors="ignore"):
            if not pressed.full():  # a key pressed faster than the view keeps up is lost
                pressed.put_nowait(key)

    tty.setcbreak(fd, termios.TCSANOW)
    loop.add_reader(fd, readable)
    try:
        yield pressed
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def run(backend: Backend, selection: Selection, args: argparse.Namespace) -> int:
    """Plays the (verified) log in the live view until ``q``, or until the end when no
    keys can be read."""
    source = BackendSource(backend)
    interactive = sys.stdin.isatty()
    player = Player(
        source,
        speed=args.speed,
        selection=selection,
        paused=args.paused and interactive,
        bookmarks=await Bookmarks.scan(source),
        hold_at_end=interactive,
    )
    screen = Screen(selection.hotlines, backend.size())
    console = Console()
    with Live(console=console, screen=True, auto_refresh=False) as live:
        if interactive:
            with _keys(sys.stdin.fileno()) as keys:
                await _view(player, screen, live, keys)
        else:
            await _view(player, screen, live, None)
    return 0


async def _view(
    player: Player, screen: Screen, live: Live, keys: asyncio.Queue[str] | None
) -> None:
    """Three owned tasks: the player filling the screen, the keys steering it, and the
    refresher drawing it at most :data:`REFRESH_HZ` times a second."""
    changed = asyncio.Event()
    done = asyncio.Event()

    async def play() -> None:
        async for played in player:
            screen.show(played)
            changed.set()
        done.set()

    async def steer(pressed: asyncio.Queue[str]) -> None:
        while True:
            outcome, screen.message = dispatch(await pressed.get(), player)
            if outcome is Outcome.QUIT:
                done.set()
                return
            if outcome is Outcome.JUMPED:
                screen.clear()
            changed.set()

    async def draw() -> None:
        while True:
            await changed.wait()
            changed.clear()
            height = live.console.size.height
            live.update(screen.layout(player.state, player.bookmarks, height), refresh=True)
            await asyncio.sleep(1 / REFRESH_HZ)

    async with asyncio.TaskGroup() as tasks:
        workers = [tasks.create_task(play()), tasks.create_task(draw())]
        if keys is not None:
            workers.append(tasks.create_task(steer(keys)))
        changed.set()
        await done.wait()
        # The last picture, then everything stops.
        live.update(screen.layout(player.state, player.bookmarks, live.console.size.height))
        live.refresh()
        for worker in workers:
            worker.cancel()
