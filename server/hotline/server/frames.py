"""Frames between the server and its child processes: a 4-byte length, then a pickle.

Both ends are this package's own code, started by the server with its interpreter.
"""

from __future__ import annotations

import asyncio
import pickle
from typing import IO, Any

_HEADER = 4


def encode(value: object) -> bytes:
    data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(_HEADER, "little") + data


def write_frame(stream: IO[bytes], value: object) -> None:
    stream.write(encode(value))
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next frame's value; None at the end of the stream."""
    header = stream.read(_HEADER)
    if len(header) < _HEADER:
        return None
    size = int.from_bytes(header, "little")
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


class FrameReader:
    """Frames from an asyncio stream. Cancelling :meth:`next` loses nothing: a frame is
    consumed only once it is whole."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._stream = stream
        self._size: int | None = None

    async def next(self) -> Any:
        """The next frame's value; None at the end of the stream."""
        try:
            if self._size is None:
                self._size = int.from_bytes(await self._stream.readexactly(_HEADER), "little")
            data = await self._stream.readexactly(self._size)
        except asyncio.IncompleteReadError:
            return None
        self._size = None
        return pickle.loads(data)
