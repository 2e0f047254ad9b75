"""Publishing the log: every committed record, in order, QoS 1, from the cursor on.

Two workers share one session: the pump takes records from the feed, encodes them and
starts their publishes; the acker waits for each record's PUBACKs in log order and moves
the cursor. A bounded queue between them caps what is in flight. A record counts as
published only when the broker acknowledged every topic it went to; then what it left on
retained topics is noted in the cursor, for re-publishing after the broker lost it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt

from hotline.server.bridge import broker
from hotline.server.bridge.address import PayloadFormat
from hotline.server.bridge.cursor import Cursor
from hotline.server.bridge.feed import RecordFeed
from hotline.server.bridge.payloads import encode_record
from hotline.server.bridge.topics import TopicTree
from hotline.v1 import log_pb2

#: Records taken from the feed at once.
CHUNK = 256

#: A record being published: its index, its publishes and the retained topics it sets.
_InFlight = tuple[int, list[asyncio.Future[None]], list[str], bytes]


@dataclass
class OutboundStats:
    #: Records the broker acknowledged (counting a record once per session it went out in).
    records: int = 0
    #: PUBLISH packets acknowledged.
    messages: int = 0


class Publisher:
    def __init__(
        self,
        feed: RecordFeed,
        cursor: Cursor,
        topics: TopicTree,
        payload_format: PayloadFormat,
        in_flight: int,
        *,
        progressed: Callable[[], None],
    ) -> None:
        """``progressed`` is called each time the cursor moves."""
        self._feed = feed
        self._cursor = cursor
        self._topics = topics
        self._format = payload_format
        self._in_flight = in_flight
        self._progressed = progressed
        self.stats = OutboundStats()

    async def run(self, mqtt: aiomqtt.Client) -> None:
        """Publishes from the cursor until cancelled or the connection fails."""
        queue: asyncio.Queue[_InFlight] = asyncio.Queue(maxsize=self._in_flight)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._pump(mqtt, queue), name="mqtt-pump")
            tasks.create_task(self._ack(queue), name="mqtt-acker")

    async def _pump(
        self,
        mqtt: aiomqtt.Client,
        queue: asyncio.Queue[_InFlight],
    ) -> None:
        index = self._cursor.position
        while True:
            for stored in await self._feed.take(index, CHUNK):
                record = log_pb2.LogRecord.FromString(stored.data)
                payload = encode_record(record, stored.data, self._format)
                routes = self._topics.routes(record)
                publishes = [
                    broker.publish(mqtt, route.topic, payload, route.retain) for route in routes
                ]
                retained = [route.topic for route in routes if route.retain]
                await queue.put((stored.index, publishes, retained, payload))
                index = stored.index + 1

    async def _ack(self, queue: asyncio.Queue[_InFlight]) -> None:
        while True:
            index, publishes, retained, payload = await queue.get()
            for publish in publishes:
                await publish
            for topic in retained:
                self._cursor.keep(topic, payload)
            self._cursor.advance(index + 1)
            self.stats.records += 1
            self.stats.messages += len(publishes)
            self._progressed()
