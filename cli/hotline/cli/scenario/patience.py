"""Calls that wait out a server restart: a scenario run goes on when the server comes
back, as the stations' own sessions do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from hotline.client import TransportError

P = ParamSpec("P")
T = TypeVar("T")

#: How long a call keeps trying while the server cannot be reached (wall seconds).
PATIENCE_S = 30.0
#: Waits between tries, doubling up to the last.
RETRY_WAITS_S = (0.2, 0.4, 0.8, 1.6, 2.0)


async def patiently(call: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """``await call(*args, **kwargs)``, tried again while it raises
    :class:`~hotline.client.TransportError` (no server at the address: a restart), for
    :data:`PATIENCE_S` at most; a refusal is raised at once."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + PATIENCE_S
    tries = 0
    while True:
        try:
            return await call(*args, **kwargs)
        except TransportError:
            wait = RETRY_WAITS_S[min(tries, len(RETRY_WAITS_S) - 1)]
            if loop.time() + wait > give_up:
                raise
            tries += 1
            await asyncio.sleep(wait)
