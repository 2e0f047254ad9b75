"""The bridge's link to the broker as a child process: ``python -m hotline.server.bridge``
(see :mod:`hotline.server.bridge.link`)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from hotline.server import frames
from hotline.server.bridge.link import LINK_NICENESS, Link, LinkConfig


async def _main() -> None:
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), sys.stdin)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout)
    commands = frames.FrameReader(stream)
    config: LinkConfig | None = await commands.next()
    if config is None:
        return
    logging.getLogger().setLevel(config.log_level)
    await Link(config, lambda value: transport.write(frames.encode(value))).run(commands)


if __name__ == "__main__":
    # Ctrl-C in a terminal, or a service manager's SIGTERM, reaches the whole process
    # group: the server stops in order and drains the link, or closes its input.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(LINK_NICENESS)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_main())
