"""The stack in real containers (docker/build-images, hotline.testing.docker): traffic
between a station console in a container and stations on the host, a station's
container frozen (paused) and its line cut (its network disconnected), and the server
killed mid-traffic."""

from __future__ import annotations

import asyncio

import pytest

from hotline.client import StationClient
from hotline.testing.docker import DockerStack, docker
from hotline.testing.harness import AIR, expect, is_ack, is_alert
from hotline.testing.mosquitto import Observed, subscribed
from hotline.v1 import acknowledgments_pb2, common_pb2, messages_pb2

A = acknowledgments_pb2
# The first test's set-up builds the images (docker_images): minutes on a new machine.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

RED = "RED-AIR_OPERATIONS-primary"
BLUE = "BLUE-AIR_OPERATIONS-primary"
#: The bound on one wait for what the server does on its schedule (line tests every 3 s,
#: FLASH answers owed within 4 s), on busy cores.
WITHIN = 60.0


def station(stack: DockerStack, stem: str) -> StationClient:
    return StationClient(stack.address, None, tls=stack.tls(stem), connect_timeout=WITHIN)


async def test_a_message_crosses_containers_and_escalates_unanswered(
    docker_stack: DockerStack,
) -> None:
    stack = docker_stack
    blue = await asyncio.to_thread(stack.station, "BLUE")
    async with station(stack, RED) as red:
        sent = await red.send(
            messages_pb2.TextMessage(text="Cease fire east of the Euphrates"),
            common_pb2.PRIORITY_FLASH,
            message_id="docker-flash-1",
        )
        # The console in BLUE's container shows it and its client library RECEIPTs it.
        await asyncio.to_thread(stack.wait_log, blue, "Cease fire east of the Euphrates")
        await expect(red, is_ack(sent.message_id, A.ACK_KIND_RECEIPT), WITHIN)
        # Nobody at BLUE's console answers: overdue, then escalated to GENERALS.
        overdue = await expect(red, is_alert(A.ALERT_KIND_ACK_OVERDUE), WITHIN)
        assert overdue.alert.message_id == sent.message_id
        escalated = await expect(red, is_alert(A.ALERT_KIND_ESCALATED), WITHIN)
        assert escalated.alert.message_id == sent.message_id
    assert await asyncio.to_thread(stack.health, stack.server) in {"starting", "healthy"}


async def test_a_paused_station_is_down_then_resumes_with_no_gap(
    docker_stack: DockerStack,
) -> None:
    stack = docker_stack
    blue = await asyncio.to_thread(stack.station, "BLUE")
    async with station(stack, RED) as red:
        await asyncio.to_thread(docker, "pause", blue)
        down = await expect(red, is_alert(A.ALERT_KIND_LINE_DOWN), WITHIN)
        assert down.alert.station.party == "BLUE"
        texts = [f"While BLUE was cut: report {n}" for n in range(1, 4)]
        for text in texts:
            await red.send(messages_pb2.TextMessage(text=text))
        await asyncio.to_thread(docker, "unpause", blue)
        restored = await expect(red, is_alert(A.ALERT_KIND_LINE_RESTORED), WITHIN)
        assert restored.alert.station.party == "BLUE"
        shown = await asyncio.to_thread(stack.wait_log, blue, texts[-1])
    # Each once, in the order sent.
    assert [shown.count(text) for text in texts] == [1, 1, 1]
    assert [shown.index(t) for t in texts] == sorted(shown.index(t) for t in texts)


async def test_a_server_killed_mid_traffic_loses_nothing_and_its_log_verifies(
    docker_stack: DockerStack,
) -> None:
    stack = docker_stack
    count, kill_after = 30, 10
    texts = [f"Track report {n}" for n in range(count)]
    async with station(stack, BLUE) as blue, station(stack, RED) as red:
        confirmed = 0

        async def traffic() -> None:
            nonlocal confirmed
            for n, text in enumerate(texts):
                await red.send(messages_pb2.TextMessage(text=text), message_id=f"kill-{n}")
                confirmed += 1
                if confirmed == kill_after:
                    await asyncio.to_thread(docker, "kill", stack.server)
                    await asyncio.to_thread(docker, "start", stack.server)

        async with asyncio.timeout(WITHIN * 2):
            await traffic()
        delivered: dict[str, list[int]] = {}
        async with asyncio.timeout(WITHIN):
            while len(delivered) < count:
                envelope = await blue.next_delivery()
                if envelope.WhichOneof("body") == "text" and envelope.hotline == AIR:
                    delivered.setdefault(envelope.text.text, []).append(envelope.sequence)
    server_output = await asyncio.to_thread(stack.logs, stack.server)
    assert server_output.count("hotline: serving on") == 2
    assert sorted(delivered) == sorted(texts)
    assert all(len(sequences) == 1 for sequences in delivered.values())
    # 'docker stop' is a clean SIGTERM: the server ends, signs, and exits 0.
    await asyncio.to_thread(docker, "stop", stack.server)
    state = await asyncio.to_thread(
        docker, "inspect", "--format", "{{.State.ExitCode}}", stack.server
    )
    assert state.strip() == "0"
    report = await asyncio.to_thread(
        stack.tools, "audit", "verify", stack.database_url, "--key", "/data/signing.pub"
    )
    assert report.startswith("OK: "), report
    assert "verified against checkpoint" in report


async def test_a_cut_line_is_down_and_offline_then_resumes_with_no_gap(
    docker_stack: DockerStack,
) -> None:
    stack = docker_stack
    blue = await asyncio.to_thread(stack.station, "BLUE")
    blue_network = stack.network("BLUE")
    async with station(stack, RED) as red:
        # The cable is cut: BLUE's container leaves its party's network.
        await asyncio.to_thread(docker, "network", "disconnect", blue_network, blue)
        wanted = {A.ALERT_KIND_LINE_DOWN, A.ALERT_KIND_STATION_OFFLINE}
        raised: set[int] = set()
        while raised != wanted:
            alert = await expect(red, lambda e: e.alert.kind in wanted, WITHIN)
            assert alert.alert.station.party == "BLUE"
            raised.add(alert.alert.kind)
        texts = [f"While BLUE's line was cut: report {n}" for n in range(1, 4)]
        for text in texts:
            await red.send(messages_pb2.TextMessage(text=text))
        await asyncio.to_thread(docker, "network", "connect", blue_network, blue)
        restored = await expect(red, is_alert(A.ALERT_KIND_LINE_RESTORED), WITHIN)
        assert restored.alert.station.party == "BLUE"
        shown = await asyncio.to_thread(stack.wait_log, blue, texts[-1])
    assert [shown.count(text) for text in texts] == [1, 1, 1]
    assert [shown.index(t) for t in texts] == sorted(shown.index(t) for t in texts)


async def test_a_broker_container_killed_mid_traffic_loses_nothing(
    docker_stack: DockerStack,
) -> None:
    stack = docker_stack
    root = "hotline/docker-test"
    broker = f"{stack.name}-mosquitto"

    def delivered(seen: list[Observed]) -> list[int]:
        return [o.index for o in seen if o.topic == f"{root}/air_operations/text"]

    async with (
        subscribed(stack.broker, f"{root}/#", "docker-watcher") as watcher,
        station(stack, BLUE) as blue,
    ):
        await watcher.bridge_online(root)
        for n in range(20):
            await blue.send(messages_pb2.TextMessage(text=f"Position update {n}"))
        await watcher.wait_for(lambda seen: len(delivered(seen)) == 20)
        await asyncio.to_thread(docker, "kill", broker)
        # The hotline does not wait for the broker.
        for n in range(20, 40):
            await blue.send(messages_pb2.TextMessage(text=f"Position update {n}"))
        await asyncio.to_thread(docker, "start", broker)
        seen = await watcher.wait_for(lambda seen: len(set(delivered(seen))) == 40)
    # Every record the bridge published live (not retained state from before), from the
    # first to the last, with no gap.
    indices = sorted({o.index for o in seen if not o.retain and o.topic != f"{root}/bridge"})
    assert indices == list(range(indices[0], indices[-1] + 1))
    # Through a second session with the broker, the server running all along.
    server_output = await asyncio.to_thread(stack.logs, stack.server)
    assert server_output.count("MQTT bridge connected") == 2
    assert server_output.count("hotline: serving on") == 1
