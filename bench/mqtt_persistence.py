"""What the broker's crash safety costs: a backlog for a persistent subscriber, queued
and drained under three Mosquitto configurations, in the same run.

* **none** — no persistence: a restart of the broker forgets every session and queue;
* **periodic** — ``persistence true`` with Mosquitto's default save (every 30 minutes
  and at a clean stop): ``kill -9`` loses what changed since the last save;
* **every change** — ``autosave_on_changes true`` with ``autosave_interval 1``, the
  crash-safe configuration of docs/mqtt.md: the state is saved after every change.

For each, a subscriber subscribes with a persistent session and goes away; the bridge
publishes a log of ``--count`` position reports (queue: until the bridge's cursor has
them all acknowledged), then the subscriber comes back and receives them (drain).

    .venv/bin/python bench/mqtt_persistence.py [--count N]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import time
from pathlib import Path

from mqtt_bridge import TOPIC, position_envelope

from hotline.server.identity import Credential
from hotline.testing.bridge import bridged_switchboard
from hotline.testing.mosquitto import Mosquitto, find_binary
from hotline.v1 import common_pb2

CONFIGURATIONS = {
    "none": (False, False),
    "periodic": (True, False),
    "every change": (True, True),
}


async def backlog(broker: Mosquitto, data_dir: Path, count: int) -> tuple[float, float]:
    """Seconds to queue ``count`` records for an absent subscriber, and to drain them."""
    credential = Credential(
        "bench", common_pb2.ROLE_PARTICIPANT, "BLUE", common_pb2.HOTLINE_AIR_OPERATIONS
    )
    async with bridged_switchboard(data_dir, broker.url(), run_bridge=False) as rig:
        for n in range(count):
            rig.switchboard.submit(credential, position_envelope(n), lambda _: None)
        await rig.switchboard.flush()
    async with broker.client(identifier="away", clean_session=False) as client:
        await client.subscribe(TOPIC, qos=1)
    started = time.perf_counter()
    async with bridged_switchboard(data_dir, broker.url()) as rig:
        stats = rig.bridge.stats.outbound
        # The counters have no event; 10 ms is fine-grained enough for seconds of load.
        while stats.records < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        queued = time.perf_counter() - started
    started = time.perf_counter()
    async with broker.client(identifier="away", clean_session=False) as client:
        got = 0
        async for message in client.messages:
            got += message.topic.value == TOPIC
            if got == count:
                break
    return queued, time.perf_counter() - started


async def main(count: int) -> None:
    binary = find_binary("mosquitto")
    assert binary is not None, "mosquitto is missing (apt-get install mosquitto)"
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory)
        for name, (persistent, every_change) in CONFIGURATIONS.items():
            where = base / name.replace(" ", "-")
            where.mkdir()
            broker = Mosquitto(binary, where, _port(), persistent)
            broker.save_every_change = every_change
            broker.configure()
            broker.start()
            try:
                queued, drained = await backlog(broker, where / "data", count)
            finally:
                broker.stop()
            rows.append((name, queued, drained))
    print(f"{platform.processor() or platform.machine()}, {platform.system()}; "
          f"CPython {platform.python_version()}; a backlog of {count:,} records\n")  # fmt: skip
    print("| broker persistence | queue (records/s) | drain (records/s) | survives kill -9 |")
    print("| --- | ---: | ---: | --- |")
    for name, queued, drained in rows:
        safe = "yes" if name == "every change" else "no"
        print(f"| {name} | {count / queued:,.0f} | {count / drained:,.0f} | {safe} |")


def _port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5_000)
    asyncio.run(main(parser.parse_args().count))
