"""The MQTT bridge: the log published to a broker, position feeds taken in from it.

The bridge has two halves. Its link to the broker runs in a child process
(:mod:`~hotline.server.bridge.link`): sessions with back-off, the retained online status
and last will, publishing from the durable cursor, reading feeds. The half here, in the
server, hands the link every committed record (from a bounded window, so the path that
delivers to stations never waits: see :mod:`~hotline.server.bridge.feed`) and submits
the feeds it reads to the switchboard (:mod:`~hotline.server.bridge.inbound`). The
broker's cost then stays off the server's event loop: the gRPC path shares it with
no MQTT client.

:meth:`Bridge.run` keeps a link running, starting another after a jittered back-off if
one dies. Once the server has stopped, :meth:`Bridge.drain` has the link publish what
was committed on the way out, say offline, and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.server import frames
from hotline.server.bridge import broker
from hotline.server.bridge.address import BrokerAddress, PayloadFormat
from hotline.server.bridge.cursor import Cursor
from hotline.server.bridge.feed import DEFAULT_WINDOW, RecordFeed
from hotline.server.bridge.inbound import InboundStats, Ingest
from hotline.server.bridge.link import Feed, LinkConfig
from hotline.server.bridge.outbound import OutboundStats
from hotline.server.bridge.topics import TopicTree
from hotline.server.switchboard import Switchboard

log = logging.getLogger(__name__)

CURSOR_FILE = "mqtt.cursor"
#: How long :meth:`Bridge.drain` may take to publish what a stopping server committed.
DRAIN_S = 2.0
#: Records handed to the link in one frame at most.
CHUNK = 1024
#: How long a link that was told to drain may take beyond its limit to exit: a guard
#: against a link that hangs, not a cost of every stop (a link exits as soon as it has
#: drained). It is generous because the link runs at a lower priority: on busy cores it
#: may wait seconds for a turn to read the command, and again to exit, and one stopped
#: in between leaves the shutdown's records to the next start.
EXIT_GRACE_S = 15.0


@dataclass
class BridgeStats:
    outbound: OutboundStats
    inbound: InboundStats
    #: Sessions that ended with the broker unreachable or gone, and links that died.
    failed_sessions: int = 0


class Bridge:
    """Publishes one exercise's log to a broker and ingests its position feeds."""

    def __init__(
        self,
        switchboard: Switchboard,
        address: BrokerAddress,
        data_dir: Path,
        payload_format: PayloadFormat = PayloadFormat.JSON,
        *,
        window: int = DEFAULT_WINDOW,
        backoff: broker.Backoff | None = None,
    ) -> None:
        """Attach before :meth:`Switchboard.start` (after ``recover``): from then on it
        sees every record the switchboard commits."""
        self.address = address
        self.topics = TopicTree(switchboard.exercise.exercise_id)
        self.feed = RecordFeed(switchboard.records, switchboard.log_size, window)
        switchboard.add_listener(self.feed.committed)
        cursor = Cursor(data_dir / CURSOR_FILE)
        if cursor.position > self.feed.end:
            log.warning(
                "%s is at index %d but the log holds %d records: another log; "
                "publishing it from the start",
                cursor.path,
                cursor.position,
                self.feed.end,
            )
            cursor.rewind(0)
            cursor.save_now()
        self._config = LinkConfig(
            address,
            switchboard.exercise.exercise_id,
            payload_format,
            cursor.path,
            window,
            backoff or broker.Backoff(),
            logging.getLogger("hotline").getEffectiveLevel(),
        )
        self.ingest = Ingest(switchboard, self.topics)
        self.stats = BridgeStats(OutboundStats(), self.ingest.stats)
        self.connected = asyncio.Event()
        self._restarts = broker.Backoff()
        self._link: _LinkProcess | None = None

    async def run(self) -> None:
        """Keeps a link to the broker running until cancelled (the link itself lives on
        until :meth:`drain`)."""
        while True:
            link = self._link
            if link is None or link.exited:
                link = self._link = await _LinkProcess.start(self, self._config)
            try:
                await link.serve()
                # The link died on its own (a bug or the system): start another.
                log.error("MQTT bridge: its link to the broker exited (%s); restarting", link.code)
            except Exception:
                # A bug on this side must not take the hotlines down either: the next
                # link resumes from the cursor.
                log.exception("MQTT bridge failed; restarting its link to the broker")
                await link.stop()
            self.stats.failed_sessions += 1
            self.connected.clear()
            await asyncio.sleep(self._restarts.next_delay())

    async def drain(self, limit: float = DRAIN_S) -> None:
        """Has the link publish the records committed since the broker last acknowledged
        one (those of the shutdown included) for at most ``limit`` seconds, mark the
        bridge offline, and exit. For a server that has stopped: after :meth:`run` is
        cancelled and the switchboard closed. What is left over (the broker being away,
        the limit reached) goes out at the next start, as ever. Never raises for the
        broker or the log.
        """
        link, self._link = self._link, None
        if link is None or link.exited:
            return
        try:
            link.drain(self.feed.end, limit)
            async with asyncio.timeout(limit + EXIT_GRACE_S):
                await link.serve()
        except TimeoutError:
            log.warning("MQTT bridge: the link did not exit in time; stopped")
        except Exception:
            # E.g. the log is closed and the records are older than the window holds.
            log.exception("MQTT bridge: draining failed; the rest goes out at the next start")
        finally:
            await link.stop()
        self.connected.clear()


class _LinkProcess:
    """One link child process, seen from the server."""

    def __init__(self, bridge: Bridge, window: int, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self._bridge = bridge
        self._process = process
        self._to_link = process.stdin
        self._from_link = frames.FrameReader(process.stdout)
        self._window = window
        # The next record to hand over, and the link's cursor as last reported.
        self._sent = 0
        self._published = 0
        self._started = asyncio.Event()
        self._moved = asyncio.Event()
        self._acks: list[tuple[int, int]] = []
        self._acks_session = 0

    @classmethod
    async def start(cls, bridge: Bridge, config: LinkConfig) -> _LinkProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hotline.server.bridge",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        link = cls(bridge, config.window, process)
        link._send(config)
        return link

    @property
    def exited(self) -> bool:
        return self._process.returncode is not None

    @property
    def code(self) -> str:
        return f"exit status {self._process.returncode}"

    async def serve(self) -> None:
        """Hands the link records and takes in what it says, until it exits. May be
        cancelled and called again."""
        async with asyncio.TaskGroup() as tasks:
            handing = tasks.create_task(self._hand_over(), name="mqtt-records")
            while (said := await self._from_link.next()) is not None:
                self._hear(said)
            handing.cancel()
        await self._process.wait()

    def drain(self, end: int, limit: float) -> None:
        self._send(("drain", end, limit))

    async def stop(self) -> None:
        """Ends the process if it is still there."""
        if not self.exited:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._process.wait()

    def _send(self, value: object) -> None:
        if not self._to_link.is_closing():
            self._to_link.write(frames.encode(value))

    async def _hand_over(self) -> None:
        """Committed records to the link, in log order, never more than the window
        beyond its cursor (it keeps them all until the broker has them)."""
        await self._started.wait()
        feed = self._bridge.feed
        while True:
            while self._sent >= self._published + self._window:
                self._moved.clear()
                await self._moved.wait()
            limit = min(CHUNK, self._published + self._window - self._sent)
            records = await feed.take(self._sent, limit)
            self._send(("records", [(r.index, r.data) for r in records]))
            self._sent = records[-1].index + 1
            await self._to_link.drain()

    def _hear(self, said: tuple[Any, ...]) -> None:
        bridge = self._bridge
        match said:
            case ("feeds", session, feeds):
                self._take_in(session, feeds)
            case ("published", position, records, messages):
                self._published = position
                bridge.stats.outbound.records = records
                bridge.stats.outbound.messages = messages
                self._moved.set()
            case ("session", _):
                bridge.ingest.new_session()
                bridge.connected.set()
            case ("lost", _):
                bridge.stats.failed_sessions += 1
                bridge.connected.clear()
            case ("cursor", position):
                self._sent = self._published = position
                self._started.set()
                log.info(
                    "MQTT bridge to %s: publishing from log index %d", bridge.address, position
                )

    def _take_in(self, session: int, feeds: list[Feed]) -> None:
        ingest = self._bridge.ingest
        for mid, qos, topic, payload in feeds:
            ingest.handle(topic, payload, functools.partial(self._acknowledge, session, mid, qos))

    def _acknowledge(self, session: int, mid: int, qos: int) -> None:
        """Queues a PUBACK; those of one turn of the event loop go in one frame."""
        if self._acks and session != self._acks_session:
            self._send_acks()
        if not self._acks:
            asyncio.get_running_loop().call_soon(self._send_acks)
        self._acks_session = session
        self._acks.append((mid, qos))

    def _send_acks(self) -> None:
        if self._acks:
            acks, self._acks = self._acks, []
            self._send(("acks", self._acks_session, acks))
