"""The MQTT bridge beside Mosquitto's own rate, measured in the same run.

Starts a throwaway ``mosquitto`` (the test fixture's configuration: password file, ACL,
no persistence) on a free loopback port and measures, for the same payload size:

* **raw** — an aiomqtt publisher (QoS 1, up to 1,024 in flight, as the bridge) to an
  aiomqtt subscriber: messages/s until the subscriber has them all;
* **publish** — the bridge publishing a log of position reports from cursor 0 (JSON
  payloads, the default), until a subscriber has them all;
* **ingest** — a party publishing position feeds (QoS 1) that the bridge submits to the
  switchboard, until the switchboard has recorded them all (SQLite, fsync on commit).

The raw clients, the feed publisher and the switchboard share this process; the
bridge's link to the broker runs in its child process, as it does in the server.

    .venv/bin/python bench/mqtt_bridge.py [--count N]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import time
from pathlib import Path

from hotline.contract import timestamp
from hotline.server.bridge import PayloadFormat
from hotline.server.bridge.payloads import encode_record
from hotline.server.identity import Credential
from hotline.testing.bridge import bridged_switchboard
from hotline.testing.feeds import report, unit
from hotline.testing.mosquitto import BRIDGE_USER, Mosquitto, mosquitto_broker
from hotline.v1 import common_pb2, envelope_pb2, log_pb2, positions_pb2

IN_FLIGHT = 1024
TOPIC = "hotline/default/air_operations/position_report"


async def receive(broker: Mosquitto, topic: str, count: int, ready: asyncio.Event) -> float:
    """Subscribes, sets ``ready``, and returns the time the ``count``-th message came."""
    async with broker.client() as client:
        await client.subscribe(topic, qos=1)
        ready.set()
        got = 0
        async for _ in client.messages:
            got += 1
            if got == count:
                return time.perf_counter()
    raise RuntimeError("subscription ended")


async def raw_rate(broker: Mosquitto, size: int, count: int) -> float:
    ready = asyncio.Event()
    topic = "hotline/default/raw/bench"
    payload = b"x" * size
    async with asyncio.TaskGroup() as tasks:
        done = tasks.create_task(receive(broker, topic, count, ready))
        await ready.wait()
        async with broker.client(BRIDGE_USER) as client:
            client.pending_calls_threshold = 2 * IN_FLIGHT
            window: asyncio.Queue[asyncio.Task[None]] = asyncio.Queue(IN_FLIGHT)
            started = time.perf_counter()

            async def acker() -> None:
                for _ in range(count):
                    await (await window.get())

            acks = tasks.create_task(acker())
            for _ in range(count):
                await window.put(tasks.create_task(client.publish(topic, payload, qos=1)))
            await acks
    return count / (done.result() - started)


def position_envelope(n: int) -> envelope_pb2.Envelope:
    envelope = envelope_pb2.Envelope(
        message_id=f"bench-{n}",
        sender=common_pb2.StationRef(party="BLUE", hotline=common_pb2.HOTLINE_AIR_OPERATIONS),
        hotline=common_pb2.HOTLINE_AIR_OPERATIONS,
        priority=common_pb2.PRIORITY_ROUTINE,
    )
    envelope.sent_at.CopyFrom(timestamp())
    position = positions_pb2.UnitPosition(
        unit_id=f"VIPER{n % 100}",
        callsign="VIPER",
        domain=common_pb2.DOMAIN_AIR,
        latitude=35.3,
        longitude=40.1,
        altitude_m=6000.0,
        course_deg=90.0,
        speed_mps=200.0,
    )
    position.observed_at.CopyFrom(timestamp())
    envelope.position_report.positions.append(position)
    return envelope


async def publish_rate(broker: Mosquitto, data_dir: Path, count: int) -> tuple[float, int]:
    credential = Credential(
        "bench", common_pb2.ROLE_PARTICIPANT, "BLUE", common_pb2.HOTLINE_AIR_OPERATIONS
    )
    async with bridged_switchboard(data_dir, broker.url(), run_bridge=False) as rig:
        for n in range(count):
            rig.switchboard.submit(credential, position_envelope(n), lambda _: None)
        await rig.switchboard.flush()
        records = await rig.switchboard.records(0)
    last = log_pb2.LogRecord.FromString(records[-1].data)
    size = len(encode_record(last, records[-1].data, PayloadFormat.JSON))
    ready = asyncio.Event()
    async with asyncio.TaskGroup() as tasks:
        done = tasks.create_task(receive(broker, TOPIC, count, ready))
        await ready.wait()
        started = time.perf_counter()
        async with bridged_switchboard(data_dir, broker.url()):
            await done
    return count / (done.result() - started), size


async def ingest_rate(broker: Mosquitto, data_dir: Path, count: int) -> tuple[float, int]:
    payloads = [report(unit(f"U{n}")) for n in range(count)]
    async with (
        bridged_switchboard(data_dir, broker.url()) as rig,
        broker.client("BLUE") as blue,
    ):
        blue.pending_calls_threshold = 2 * IN_FLIGHT
        stats = rig.bridge.stats.inbound
        started = time.perf_counter()
        window: asyncio.Queue[asyncio.Task[None]] = asyncio.Queue(IN_FLIGHT)
        async with asyncio.TaskGroup() as tasks:

            async def acker() -> None:
                for _ in range(count):
                    await (await window.get())

            tasks.create_task(acker())
            for payload in payloads:
                topic = "hotline/default/ingest/BLUE/positions"
                await window.put(tasks.create_task(blue.publish(topic, payload, qos=1)))
        # The counters have no event; 10 ms is fine-grained enough for seconds of load.
        while stats.accepted + stats.refused < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        assert stats.refused == 0, stats
    return count / elapsed, len(payloads[0])


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory)
        with mosquitto_broker(base / "broker", persistent=False) as broker:
            publish, record_size = await publish_rate(broker, base / "publish", count)
            json_size = record_size
            raw_publish = await raw_rate(broker, json_size, count)
            ingest, feed_size = await ingest_rate(broker, base / "ingest", count)
            raw_ingest = await raw_rate(broker, feed_size, count)
    print(f"{platform.processor() or platform.machine()}, {platform.system()}; "
          f"CPython {platform.python_version()}; {count:,} messages per figure\n")  # fmt: skip
    print("| path | payload | messages/s | raw Mosquitto, same size | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(
        f"| publish (log → broker → subscriber) | ~{json_size} B | {publish:,.0f} | "
        f"{raw_publish:,.0f} | {publish / raw_publish:.0%} |"
    )
    print(
        f"| ingest (party → broker → switchboard, durable) | {feed_size} B | {ingest:,.0f} | "
        f"{raw_ingest:,.0f} | {ingest / raw_ingest:.0%} |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().count))
