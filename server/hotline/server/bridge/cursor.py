"""The bridge's durable cursor: the log index up to which the broker has everything.

The file (``<data dir>/mqtt.cursor``) holds one number: every record with a lower index
was acknowledged by the broker (QoS 1 PUBACK). It is replaced atomically and fsynced,
and it only ever lags the truth, so after a crash the bridge publishes some records a
second time (which QoS 1 allows) and never skips one.

Writes are serialised: a save in a worker thread goes on after the task that awaited it
is cancelled, so the save of a stopping link would otherwise race it on the same
temporary file (one of them failing, the file briefly empty). Each write takes the
position as it is then, so the last write is never an older one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)


class Cursor:
    """Where publishing resumes; advanced in memory, written by :meth:`save`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.position = self._load()
        self._saved = self.position
        self._writing = threading.Lock()

    def _load(self) -> int:
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return 0
        if not text.isdigit():
            log.warning("%s holds %r, not a log index; publishing from the start", self.path, text)
            return 0
        return int(text)

    def advance(self, position: int) -> None:
        self.position = max(self.position, position)

    def rewind(self, position: int) -> None:
        """Starts over at ``position`` (for a log shorter than the cursor: another log)."""
        self.position = position

    @property
    def dirty(self) -> bool:
        return self.position != self._saved

    async def save(self) -> None:
        """Writes the position if it moved, in a worker thread (fsync is slow)."""
        if self.dirty:
            await asyncio.to_thread(self._write)

    def save_now(self) -> None:
        """Writes the position in this thread, for shutdown (after a write still going on
        in a worker thread)."""
        self._write()

    def _write(self) -> None:
        with self._writing:
            position = self.position
            if position == self._saved:
                return
            self._replace(position)
            self._saved = position

    def _replace(self, position: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("w", encoding="ascii") as handle:
            handle.write(f"{position}\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
