"""``hotline replay --speed 0`` on every core: the log's index range is cut into shards,
the first printed here, each of the others by a second process into a temporary file,
copied out in order once this process's own shard is done.

Formatting a line costs more than reading the record, so a long replay is bound by one
core; with shards it is bound by all of them. Elapsed times count from the first record
of the whole selection, which is found before the shards are handed out, so every shard
prints exactly the lines a single process would have: the output does not depend on how
many cores did the work.
"""

from __future__ import annotations

import asyncio
import codecs
import dataclasses
import gc
import io
import itertools
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TextIO

from hotline.cli import replay_lines
from hotline.server.replay import BackendSource, Played, Player, Selection
from hotline.server.storage import Backend, open_backend

__all__ = [
    "CORES",
    "MIN_SHARD",
    "Shard",
    "ShardWorker",
    "copy_text",
    "first_shown",
    "line_format",
    "narrowed",
    "print_shard",
    "shards",
]

#: Fewer records than this per shard are not worth a second process's start-up.
MIN_SHARD = 100_000


#: Processes a fast replay prints with, this one included.
CORES = os.cpu_count() or 1


def shards(start: int, end: int) -> list[tuple[int, int]]:
    """``[start, end)`` cut into as many nearly equal ``(start, end)`` windows as there
    are :data:`CORES`, each of at least :data:`MIN_SHARD` records (one for fewer)."""
    count = max(1, min(CORES, (end - start) // MIN_SHARD))
    cuts = [start + (end - start) * i // count for i in range(count + 1)]
    return list(itertools.pairwise(cuts))


async def first_shown(
    backend: Backend, selection: Selection, end: int
) -> tuple[int, float | None] | None:
    """The index of the first record the selection shows before ``end``, and the
    server time elapsed times count from (that of the first readable record); ``None``
    when the selection shows nothing."""
    player = Player(BackendSource(backend, end), speed=0, selection=selection)
    first: int | None = None
    async for run in player.runs():
        first = run[0].index if first is None else first
        if player.origin is not None:
            break
    return None if first is None else (first, player.origin)


@dataclass(frozen=True, slots=True)
class Shard:
    """What a worker prints: the selection narrowed to its window, elapsed times from
    ``origin``, text lines or ``json`` objects."""

    location: str
    selection: Selection
    origin: float | None
    json: bool


def line_format(json: bool) -> Callable[[Played], str]:
    """How a record is printed: one JSON object, or a readable line."""
    return replay_lines.json_line if json else replay_lines.TextLines()


async def print_shard(backend: Backend, shard: Shard, write: Callable[[str], object]) -> None:
    """Prints the records of ``shard``, a run at a time."""
    player = Player(
        BackendSource(backend, shard.selection.to_index),
        speed=0,
        selection=shard.selection,
        origin=shard.origin,
    )
    line = line_format(shard.json)
    # Nothing made here forms a reference cycle, and the collector's passes over the
    # young records cost several per cent of a fast replay.
    collecting = gc.isenabled()
    gc.disable()
    try:
        async for run in player.runs():
            write("".join([line(played) + "\n" for played in run]))
    finally:
        if collecting:
            gc.enable()


class ShardWorker:
    """A second process printing one shard into a temporary file (UTF-8)."""

    def __init__(self, shard: Shard) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115  (closed on leaving)
        # A fresh interpreter rather than a fork: the parent may hold threads.
        self._child = subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=self._file,
            stderr=subprocess.PIPE,
        )
        assert self._child.stdin is not None
        with self._child.stdin as orders:
            orders.write(pickle.dumps(shard))
        self._child.stdin = None  # given and closed: nothing for communicate() to send

    def copy_to(self, out: TextIO) -> None:
        """Waits for the shard to be printed, then copies it to ``out``; exits (status
        1, the worker's error on standard error) if the worker failed."""
        _, err = self._child.communicate()
        if self._child.returncode != 0:
            sys.stderr.write(err.decode(errors="replace"))
            raise SystemExit("hotline replay: a part of the log could not be printed")
        self._file.seek(0)
        copy_text(self._file, out)

    def __enter__(self) -> ShardWorker:
        return self

    def __exit__(self, *_: object) -> None:
        """Stops the worker if it is still running, and drops its file."""
        if self._child.returncode is None:
            self._child.kill()
            self._child.communicate()
        self._file.close()


def copy_text(utf8: IO[bytes], out: TextIO) -> None:
    """Copies UTF-8 text to ``out``: as bytes when ``out`` writes UTF-8 too."""
    buffer = getattr(out, "buffer", None)
    if buffer is not None and codecs.lookup(out.encoding).name == "utf-8":
        out.flush()
        shutil.copyfileobj(utf8, buffer)
    else:
        shutil.copyfileobj(io.TextIOWrapper(utf8, encoding="utf-8"), out)


def narrowed(selection: Selection, start: int, end: int) -> Selection:
    """``selection`` limited to the records ``start <= index < end``."""
    return dataclasses.replace(selection, from_index=start, to_index=end)


_CHILD = "from hotline.cli.replay_shards import print_for_parent; print_for_parent()"


def print_for_parent() -> None:
    """The child of :class:`ShardWorker`: prints the shard pickled on its standard
    input to its standard output."""
    # Our own parent wrote it: the bytes are trusted.
    shard = pickle.loads(sys.stdin.buffer.read())
    assert isinstance(shard, Shard)
    backend = open_backend(shard.location, durable=False, create=False)
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", write_through=False)
    try:
        asyncio.run(print_shard(backend, shard, out.write))
    finally:
        out.flush()
        backend.close()
