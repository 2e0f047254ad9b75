"""The MQTT bridge: the log published to a broker, position feeds taken in from it.

:meth:`Bridge.run` keeps one session at a time with the broker and starts another,
after a jittered back-off, whenever one fails: the broker going away is an outage to
wait out, never an error of the server. Each session marks the bridge online (a retained
status whose last will says offline), publishes from the durable cursor (see
:mod:`~hotline.server.bridge.outbound`) and takes in position feeds (see
:mod:`~hotline.server.bridge.inbound`). Once the server has stopped, :meth:`Bridge.drain`
publishes what it committed on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import aiomqtt

from hotline.server.bridge import broker
from hotline.server.bridge.address import BrokerAddress, PayloadFormat
from hotline.server.bridge.cursor import Cursor
from hotline.server.bridge.feed import DEFAULT_WINDOW, RecordFeed
from hotline.server.bridge.inbound import InboundStats, Ingest
from hotline.server.bridge.outbound import OutboundStats, Publisher
from hotline.server.bridge.payloads import BRIDGE_OFFLINE, BRIDGE_ONLINE
from hotline.server.bridge.topics import TopicTree
from hotline.server.switchboard import Switchboard

log = logging.getLogger(__name__)

CURSOR_FILE = "mqtt.cursor"
#: How often the cursor is written while it moves.
SAVE_EVERY_S = 0.2
#: How long a stopping bridge tries to mark itself offline.
GOODBYE_S = 1.0
#: How long :meth:`Bridge.drain` may take to publish what a stopping server committed.
DRAIN_S = 2.0


@dataclass
class BridgeStats:
    outbound: OutboundStats
    inbound: InboundStats
    #: Sessions that ended with the broker unreachable or gone.
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
        self._identifier = f"hotline-bridge-{switchboard.exercise.exercise_id}"
        self.feed = RecordFeed(switchboard.records, switchboard.log_size, window)
        switchboard.add_listener(self.feed.committed)
        self.cursor = Cursor(data_dir / CURSOR_FILE)
        if self.cursor.position > self.feed.end:
            log.warning(
                "%s is at index %d but the log holds %d records: another log; "
                "publishing it from the start",
                self.cursor.path,
                self.cursor.position,
                self.feed.end,
            )
            self.cursor.rewind(0)
        self.publisher = Publisher(
            self.feed, self.cursor, self.topics, payload_format, broker.MAX_IN_FLIGHT
        )
        self.ingest = Ingest(switchboard, self.topics)
        self.stats = BridgeStats(self.publisher.stats, self.ingest.stats)
        self.connected = asyncio.Event()
        self._backoff = backoff or broker.Backoff()

    async def run(self) -> None:
        """Runs sessions with the broker until cancelled; saves the cursor on the way out."""
        log.info(
            "MQTT bridge to %s: publishing from log index %d", self.address, self.cursor.position
        )
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._save_cursor(), name="mqtt-cursor")
                tasks.create_task(self._sessions(), name="mqtt-sessions")
        finally:
            self.cursor.save_now()

    async def drain(self, limit: float = DRAIN_S) -> None:
        """Publishes the records committed since the broker last acknowledged one (those
        of the shutdown included), for at most ``limit`` seconds, then saves the cursor.

        For a server that has stopped, after :meth:`run` is cancelled and the switchboard
        closed: what is left over (the broker being away, the limit reached) goes out at
        the next start, as ever. Never raises for the broker or the log.
        """
        end = self.feed.end
        if self.cursor.position >= end:
            return
        try:
            async with asyncio.timeout(limit):
                await self._drain_session(end, limit)
        except (aiomqtt.MqttError, TimeoutError) as error:
            log.warning(
                "MQTT bridge: records from index %d left for the next start: %s",
                self.cursor.position,
                str(error) or "time limit reached",
            )
        except Exception:
            # E.g. the log is closed and the records are older than the window holds.
            log.exception(
                "MQTT bridge: records from index %d left for the next start", self.cursor.position
            )
        finally:
            self.cursor.save_now()

    async def _drain_session(self, end: int, limit: float) -> None:
        mqtt = broker.client(self.address, self._identifier, self.topics.bridge)
        # Connecting and disconnecting wait no longer than the drain may take.
        mqtt.timeout = min(mqtt.timeout, limit)
        async with mqtt:
            self.publisher.caught_up.clear()
            async with asyncio.TaskGroup() as tasks:
                publishing = tasks.create_task(self.publisher.run(mqtt), name="mqtt-drain")
                await self.publisher.caught_up.wait()
                publishing.cancel()
            log.info("MQTT bridge: published the log up to index %d on the way out", end - 1)
            await mqtt.publish(self.topics.bridge, BRIDGE_OFFLINE, qos=1, retain=True)

    async def _save_cursor(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY_S)
            await self.cursor.save()

    async def _sessions(self) -> None:
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as error:
                self.stats.failed_sessions += 1
                log.warning("MQTT broker %s: %s; reconnecting", self.address, error)
            except Exception:
                # A bug here must not take the hotlines down: the next session resumes
                # from the cursor.
                self.stats.failed_sessions += 1
                log.exception("MQTT bridge session failed; reconnecting")
            self.connected.clear()
            await asyncio.sleep(self._backoff.next_delay())

    async def _session(self) -> None:
        mqtt = broker.client(self.address, self._identifier, self.topics.bridge)
        async with mqtt:
            self._backoff.reset()
            self.ingest.new_session()
            # Subscribed before saying online: a feed sent on seeing "online" is taken.
            await mqtt.subscribe(self.topics.ingest, qos=1)
            await mqtt.publish(self.topics.bridge, BRIDGE_ONLINE, qos=1, retain=True)
            log.info("MQTT bridge connected to %s", self.address)
            self.connected.set()
            try:
                await self._exchange(mqtt)
            except asyncio.CancelledError:
                # A clean disconnect does not fire the last will: say goodbye first.
                with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                    await mqtt.publish(
                        self.topics.bridge, BRIDGE_OFFLINE, qos=1, retain=True, timeout=GOODBYE_S
                    )
                raise

    async def _exchange(self, mqtt: aiomqtt.Client) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.publisher.run(mqtt), name="mqtt-publisher")
                tasks.create_task(self._take_in(mqtt), name="mqtt-ingest")
        except* aiomqtt.MqttError as errors:
            raise errors.exceptions[0] from None

    async def _take_in(self, mqtt: aiomqtt.Client) -> None:
        """Feeds ingest messages to the switchboard; ends (raising) when the broker goes."""
        async for message in mqtt.messages:
            payload = message.payload
            data = bytes(payload) if isinstance(payload, bytes | bytearray) else b""
            self.ingest.handle(
                message.topic.value, data, functools.partial(broker.acknowledge, mqtt, message)
            )
