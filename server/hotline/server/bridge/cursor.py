"""The bridge's durable cursor: the log index up to which the broker has everything,
and the retained state those records left on the broker.

The file (``<data dir>/mqtt.cursor``) holds one number: every record with a lower index
was acknowledged by the broker (QoS 1 PUBACK). It is replaced atomically and fsynced,
and it only ever lags the truth, so after a crash the bridge publishes some records a
second time (which QoS 1 allows) and never skips one.

Beside it, ``<data dir>/mqtt.retained`` keeps the last payload of every retained topic
(station and line status, hotline suspension) among the published records. A broker that
restarts without its state (``kill -9`` before it saved) has lost them; the link
re-publishes them on every new session (:mod:`.link`), from this file after a restart
of the server. It is written before the cursor, so it never lags it.

Writes are serialised: a save in a worker thread goes on after the task that awaited it
is cancelled, so the save of a stopping link would otherwise race it on the same
temporary file (one of them failing, the file briefly empty). Each write takes the
position as it is then, so the last write is never an older one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)


class Cursor:
    """Where publishing resumes; advanced in memory, written by :meth:`save`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.retained_path = path.with_suffix(".retained")
        self.position = self._load()
        self._saved = self.position
        #: The last payload of each retained topic, of the records before the position.
        self.retained: dict[str, bytes] = self._load_retained()
        self._retained_changes = 0
        self._retained_saved = 0
        self._writing = threading.Lock()

    def _load_retained(self) -> dict[str, bytes]:
        try:
            kept = json.loads(self.retained_path.read_text(encoding="ascii"))
            return {str(topic): base64.b64decode(payload) for topic, payload in kept.items()}
        except FileNotFoundError:
            return {}
        except (ValueError, AttributeError) as error:
            log.warning(
                "%s cannot be read (%s): no retained state to restore", self.retained_path, error
            )
            return {}

    def keep(self, topic: str, payload: bytes) -> None:
        """Notes the payload a published record left on the retained ``topic``."""
        self.retained[topic] = payload
        self._retained_changes += 1

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
        """Writes the position (and the retained state, if it changed) if it moved, in a
        worker thread (fsync is slow)."""
        if self.dirty:
            await asyncio.to_thread(self._write, *self._snapshot())

    def save_now(self) -> None:
        """Writes the position in this thread, for shutdown (after a write still going on
        in a worker thread)."""
        self._write(*self._snapshot())

    def _snapshot(self) -> tuple[int, int, dict[str, bytes] | None]:
        # Taken in the event loop's thread, which alone changes them.
        changes = self._retained_changes
        retained = dict(self.retained) if changes != self._retained_saved else None
        return self.position, changes, retained

    def _write(self, position: int, changes: int, retained: dict[str, bytes] | None) -> None:
        with self._writing:
            if position == self._saved:
                return
            if retained is not None and changes > self._retained_saved:
                text = json.dumps(
                    {
                        topic: base64.b64encode(data).decode("ascii")
                        for topic, data in retained.items()
                    }
                )
                self._replace(self.retained_path, text)
                self._retained_saved = changes
            self._replace(self.path, f"{position}\n")
            self._saved = position

    def _replace(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        with temporary.open("w", encoding="ascii") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
