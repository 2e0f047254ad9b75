"""The bridge's link to the broker, in a child process of its own.

Everything that speaks MQTT runs here, beside the server's event loop instead of in it:
the sessions with the broker (jittered back-off, the retained online status and its last
will, the records' retained state published again on every session), publishing the log
from the durable cursor (:mod:`.outbound`), and reading the position feeds, each
acknowledged to the broker only once the server has answered it. The server
(:class:`~hotline.server.bridge.bridge.Bridge`) keeps the switchboard side: it sends the
link the records it committed and the acknowledgments it may give, and submits the feeds
the link read (:mod:`.inbound`).

The two processes speak over the link's standard input and output, in frames of
:mod:`hotline.server.frames`. To the link: a :class:`LinkConfig` first, then

* ``("records", [(index, data), ...])`` — the next committed records, in log order, from
  the position the link reported; never more than the window beyond it;
* ``("acks", session, [(mid, qos), ...])`` — feeds of that session the server answered;
* ``("drain", end, limit)`` — publish up to index ``end`` within ``limit`` seconds, say
  offline, and exit.

From the link: ``("cursor", position)`` once, where publishing resumes;
``("session", number)`` when a session is up and ``("lost", number)`` when it failed;
``("feeds", session, [(mid, qos, topic, payload), ...])``; and
``("published", position, records, messages)`` as the cursor moves.

If its input ends without ``drain`` (the server died), the link saves its cursor and
exits without a goodbye: the broker publishes its last will. Run by
``python -m hotline.server.bridge``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiomqtt

from hotline.server import frames
from hotline.server.bridge import broker
from hotline.server.bridge.address import BrokerAddress, PayloadFormat
from hotline.server.bridge.cursor import Cursor
from hotline.server.bridge.feed import RecordFeed
from hotline.server.bridge.outbound import Publisher
from hotline.server.bridge.payloads import BRIDGE_OFFLINE, BRIDGE_ONLINE
from hotline.server.bridge.topics import TopicTree
from hotline.server.storage import StoredRecord

log = logging.getLogger(__name__)

#: The link runs at a lower scheduling priority than the server: when the cores are
#: busy, the stations' traffic goes first and the link catches up from its cursor.
LINK_NICENESS = 10
#: How often the cursor is written while it moves.
SAVE_EVERY_S = 0.2
#: How long a stopping link tries to mark itself offline.
GOODBYE_S = 1.0

#: A position feed as read: message id, QoS, topic, payload.
Feed = tuple[int, int, str, bytes]


@dataclass(frozen=True)
class LinkConfig:
    address: BrokerAddress
    exercise_id: str
    payload_format: PayloadFormat
    cursor_path: Path
    #: Records the server may send beyond the cursor: the link keeps them all.
    window: int
    backoff: broker.Backoff
    log_level: int


class Link:
    """The link's side of the bridge: sessions with the broker, one at a time."""

    def __init__(self, config: LinkConfig, send: Callable[[object], None]) -> None:
        self._config = config
        self._send = send
        self._topics = TopicTree(config.exercise_id)
        self._identifier = f"hotline-bridge-{config.exercise_id}"
        self.cursor = Cursor(config.cursor_path)
        # Everything before the cursor is published: the feed never needs to read it.
        self._feed = RecordFeed(_published_already, self.cursor.position, config.window)
        self._publisher = Publisher(
            self._feed,
            self.cursor,
            self._topics,
            config.payload_format,
            broker.MAX_IN_FLIGHT,
            progressed=self._progressed,
        )
        self._moved = asyncio.Event()
        self._reporting = False
        self._session = 0
        self._mqtt: aiomqtt.Client | None = None
        self._feeds: list[Feed] = []
        # Set when the server says to drain (to where, within how long) or goes away.
        self._told = asyncio.Event()
        self._drain_to: tuple[int, float] | None = None

    async def run(self, commands: frames.FrameReader) -> None:
        """Serves the server until told to drain (then returns) or until its input ends
        (then exits the process at once)."""
        self._send(("cursor", self.cursor.position))
        async with asyncio.TaskGroup() as tasks:
            saving = tasks.create_task(self._save_cursor(), name="mqtt-cursor")
            sessions = tasks.create_task(self._sessions(), name="mqtt-sessions")
            obeying = tasks.create_task(self._obey(commands), name="mqtt-commands")
            await self._told.wait()
            if self._drain_to is None:
                self.cursor.save_now()
                # No goodbye and no DISCONNECT: the broker publishes the last will.
                os._exit(0)
            await self._drain(*self._drain_to)
            for task in (obeying, sessions, saving):
                task.cancel()

    async def _obey(self, commands: frames.FrameReader) -> None:
        while (command := await commands.next()) is not None:
            match command:
                case ("records", records):
                    self._feed.committed([_stored(index, data) for index, data in records])
                case ("acks", session, acks):
                    self._acknowledge(session, acks)
                case ("drain", end, limit):
                    self._drain_to = (end, limit)
                    self._told.set()
        self._told.set()

    async def _drain(self, end: int, limit: float) -> None:
        """Waits, for at most ``limit`` seconds, until everything before ``end`` is
        published."""
        try:
            async with asyncio.timeout(limit):
                while self.cursor.position < end:
                    self._moved.clear()
                    await self._moved.wait()
            log.info("MQTT bridge: published the log up to index %d on the way out", end - 1)
        except TimeoutError:
            log.warning(
                "MQTT bridge: records from index %d left for the next start: time limit reached",
                self.cursor.position,
            )

    def _progressed(self) -> None:
        self._moved.set()
        if not self._reporting:
            self._reporting = True
            asyncio.get_running_loop().call_soon(self._report)

    def _report(self) -> None:
        self._reporting = False
        stats = self._publisher.stats
        self._send(("published", self.cursor.position, stats.records, stats.messages))

    async def _save_cursor(self) -> None:
        try:
            while True:
                await asyncio.sleep(SAVE_EVERY_S)
                await self.cursor.save()
        finally:
            self.cursor.save_now()

    async def _sessions(self) -> None:
        backoff = self._config.backoff
        while True:
            try:
                await self._run_session(backoff)
            except aiomqtt.MqttError as error:
                log.warning("MQTT broker %s: %s; reconnecting", self._config.address, error)
            except Exception:
                # A bug here must not end the bridge: the next session resumes from the
                # cursor.
                log.exception("MQTT bridge session failed; reconnecting")
            self._mqtt = None
            self._send(("lost", self._session))
            await asyncio.sleep(backoff.next_delay())

    async def _run_session(self, backoff: broker.Backoff) -> None:
        topics = self._topics
        mqtt = broker.client(self._config.address, self._identifier, topics.bridge)
        async with mqtt:
            backoff.reset()
            self._session += 1
            self._mqtt = mqtt
            # Subscribed before saying online: a feed sent on seeing "online" is taken.
            await mqtt.subscribe(topics.ingest, qos=1)
            await mqtt.publish(topics.bridge, BRIDGE_ONLINE, qos=1, retain=True)
            await self._restore_retained(mqtt)
            log.info("MQTT bridge connected to %s", self._config.address)
            self._send(("session", self._session))
            try:
                await self._exchange(mqtt)
            except asyncio.CancelledError:
                # A clean disconnect does not fire the last will: say goodbye first.
                with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                    await mqtt.publish(
                        topics.bridge, BRIDGE_OFFLINE, qos=1, retain=True, timeout=GOODBYE_S
                    )
                raise

    async def _restore_retained(self, mqtt: aiomqtt.Client) -> None:
        """Publishes again the retained state the published records left: a broker that
        restarted without saving (``kill -9``) has lost it, and a subscriber that joins
        would otherwise not see the stations' and lines' current status. Records after
        the cursor, published next, update it in log order."""
        kept = list(self.cursor.retained.items())
        await asyncio.gather(*(broker.publish(mqtt, topic, data, True) for topic, data in kept))

    async def _exchange(self, mqtt: aiomqtt.Client) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._publisher.run(mqtt), name="mqtt-publisher")
                tasks.create_task(self._take_in(mqtt), name="mqtt-ingest")
        except* aiomqtt.MqttError as errors:
            raise errors.exceptions[0] from None

    async def _take_in(self, mqtt: aiomqtt.Client) -> None:
        """Hands the position feeds to the server, those of one turn of the loop in one
        frame; ends (raising) when the broker goes."""
        loop = asyncio.get_running_loop()
        async for message in mqtt.messages:
            payload = message.payload
            data = bytes(payload) if isinstance(payload, bytes | bytearray) else b""
            if not self._feeds:
                loop.call_soon(self._hand_over, self._session)
            self._feeds.append((message.mid, message.qos, message.topic.value, data))

    def _hand_over(self, session: int) -> None:
        feeds, self._feeds = self._feeds, []
        if feeds:
            self._send(("feeds", session, feeds))

    def _acknowledge(self, session: int, acks: list[tuple[int, int]]) -> None:
        """PUBACKs for feeds the server answered, unless their session is gone (the
        broker sends those again)."""
        mqtt = self._mqtt
        if mqtt is None or session != self._session:
            return
        for mid, qos in acks:
            broker.acknowledge(mqtt, mid, qos)


async def _published_already(start: int, end: int) -> list[StoredRecord]:
    raise RuntimeError(f"records {start}..{end - 1} are behind the cursor: never published again")


def _stored(index: int, data: bytes) -> StoredRecord:
    # The publisher reads the index and the record itself; the rest is for queries.
    return StoredRecord(index=index, kind=0, hotline=0, sequence=0, data=data)
