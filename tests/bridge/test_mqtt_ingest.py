"""Position feeds from the broker: recorded as the party's reports, through the same
validation as gRPC; refused when malformed or sent under another party's topic; never
fatal to the bridge."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
from pathlib import Path

import aiomqtt
import pytest

from hotline.testing.bridge import bridged_switchboard
from hotline.testing.feeds import report, reports, unit, unit_ids
from hotline.testing.harness import AIR, GROUND, running_server
from hotline.testing.mosquitto import HANG_GUARD_S, PASSWORDS, Mosquitto, find_binary, subscribed
from hotline.v1 import common_pb2, positions_pb2

ROOT = "hotline/default"


def mosquitto_pub(broker: Mosquitto, user: str, topic: str, payload: bytes) -> None:
    binary = find_binary("mosquitto_pub")
    assert binary is not None, "mosquitto_pub is missing (package mosquitto-clients)"
    subprocess.run(
        [
            binary, "-h", "127.0.0.1", "-p", str(broker.port), "-u", user,
            "-P", PASSWORDS[user], "-q", "1", "-t", topic, "-s",
        ],
        input=payload,
        check=True,
        timeout=HANG_GUARD_S,
    )  # fmt: skip


async def test_a_feed_published_with_mosquitto_pub_is_recorded_and_delivered(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscribed(mosquitto, f"{ROOT}/#") as subscriber,
        running_server(tmp_path / "data", mqtt_url=mosquitto.url()) as server,
        server.station("RED", AIR) as red,
    ):
        await subscriber.bridge_online()
        await asyncio.to_thread(
            mosquitto_pub,
            mosquitto,
            "BLUE",
            f"{ROOT}/ingest/BLUE/positions",
            report(unit("VIPER11"), unit("VIPER12")),
        )
        # RED's station receives BLUE's report like any other on the hotline.
        delivery = await red.next_delivery(within=HANG_GUARD_S)
        assert delivery.WhichOneof("body") == "position_report"
        assert delivery.sender.party == "BLUE"
        assert [p.unit_id for p in delivery.position_report.positions] == ["VIPER11", "VIPER12"]
        assert delivery.message_id.startswith("mqtt:BLUE:AIR_OPERATIONS:")
        seen = await subscriber.wait_for(lambda seen: bool(reports(seen)))
        assert unit_ids(reports(seen)[0]) == ["VIPER11", "VIPER12"]


async def test_protobuf_feeds_are_split_by_domain_and_redeliveries_recorded_once(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    message = positions_pb2.PositionReport()
    for unit_id, domain in (("EAGLE1", common_pb2.DOMAIN_AIR), ("TANK1", common_pb2.DOMAIN_GROUND)):
        position = message.positions.add(
            unit_id=unit_id, domain=domain, latitude=35.3, longitude=40.2, speed_mps=5.0
        )
        position.observed_at.GetCurrentTime()
    payload = message.SerializeToString()
    async with (
        subscribed(mosquitto, f"{ROOT}/#") as subscriber,
        running_server(tmp_path / "data", mqtt_url=mosquitto.url()) as server,
        server.station("BLUE", AIR) as blue_air,
        server.station("BLUE", GROUND) as blue_ground,
        mosquitto.client("RED") as red,
    ):
        del blue_air, blue_ground
        await subscriber.bridge_online()
        topic = f"{ROOT}/ingest/RED/positions"
        # The same payload twice (as a QoS 1 redelivery would be), then a marker.
        await red.publish(topic, payload, qos=1)
        await red.publish(topic, payload, qos=1)
        await red.publish(topic, report(unit("MARKER")), qos=1)
        seen = await subscriber.wait_for(
            lambda seen: any("MARKER" in unit_ids(r) for r in reports(seen))
        )
        air = reports(seen)
        ground = reports(seen, "ground_commanders")
        assert [unit_ids(r) for r in air] == [["EAGLE1"], ["MARKER"]]
        assert [unit_ids(r) for r in ground] == [["TANK1"]]
        assert air[0]["sender"] == {"party": "RED", "hotline": "HOTLINE_AIR_OPERATIONS"}
        assert ground[0]["sender"] == {"party": "RED", "hotline": "HOTLINE_GROUND_COMMANDERS"}


async def publish_once(broker: Mosquitto, user: str, topic: str, payload: bytes) -> None:
    """Publishes QoS 1 on a connection of its own. A refused publish may cost the
    connection (Mosquitto 2.0 answers it with a PUBACK carrying a reason code that an
    MQTT 3.1.1 client takes as a protocol error): that is a refusal too."""
    with contextlib.suppress(aiomqtt.MqttError):
        async with broker.client(user) as client:
            await client.publish(topic, payload, qos=1)


async def test_the_acl_keeps_a_party_to_its_own_feed(mosquitto: Mosquitto, tmp_path: Path) -> None:
    async with (
        subscribed(mosquitto, f"{ROOT}/#") as subscriber,
        running_server(tmp_path / "data", mqtt_url=mosquitto.url()),
    ):
        await subscriber.bridge_online()
        # BLUE posing as RED, and an observer feeding anything: the broker drops both.
        await publish_once(mosquitto, "BLUE", f"{ROOT}/ingest/RED/positions", report(unit("FAKE")))
        await publish_once(
            mosquitto, "observer", f"{ROOT}/ingest/BLUE/positions", report(unit("O"))
        )
        await publish_once(mosquitto, "BLUE", f"{ROOT}/ingest/BLUE/positions", report(unit("OWN")))
        seen = await subscriber.wait_for(lambda seen: bool(reports(seen)))
        # The bridge takes feeds in the order the broker forwards them: had either of
        # the first two been let through, it would be here before OWN.
        assert [unit_ids(r) for r in reports(seen)] == [["OWN"]]
    denied = [line for line in mosquitto.log().splitlines() if "Denied PUBLISH" in line]
    assert len(denied) == 2
    assert "ingest/RED/positions" in denied[0]


async def test_the_broker_refuses_a_wrong_password(mosquitto: Mosquitto) -> None:
    client = aiomqtt.Client("127.0.0.1", mosquitto.port, username="BLUE", password="wrong")
    with pytest.raises(aiomqtt.MqttError):
        async with client:
            pass


async def test_malformed_feeds_are_counted_logged_recorded_and_survived(
    mosquitto: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "hotline.server.bridge")
    bad = [
        (b"\x00\xff garbage", "not a PositionReport in protobuf"),
        (b'{"positions": [', "not a PositionReport in JSON"),
        (b'{"positions": [{"unitId": "X", "warpFactor": 9}]}', "warpFactor"),
        (b'{"positions": []}', "no positions"),
        (b"\xff{", "not a PositionReport"),
    ]
    async with (
        subscribed(mosquitto, f"{ROOT}/#") as subscriber,
        bridged_switchboard(tmp_path / "data", mosquitto.url()) as rig,
        mosquitto.client("BLUE") as blue,
    ):
        topic = f"{ROOT}/ingest/BLUE/positions"
        for payload, _ in bad:
            await blue.publish(topic, payload, qos=1)
        # Well formed, but refused by the same validation as a gRPC send.
        await blue.publish(topic, report(unit("FAR", latitude=123.0)), qos=1)
        await blue.publish(topic, report(unit("GOOD")), qos=1)
        seen = await subscriber.wait_for(lambda seen: bool(reports(seen)))
        assert [unit_ids(r) for r in reports(seen)] == [["GOOD"]]
        stats = rig.bridge.stats.inbound
        assert (stats.received, stats.malformed, stats.refused, stats.accepted) == (7, 5, 1, 1)
        refused = [o.json()["refusedRequest"] for o in seen if o.topic.endswith("/refused")]
        assert len(refused) == 6
        details = [str(r["detail"]) for r in refused]  # type: ignore[index]
        for (_, reason), detail in zip(bad, details, strict=False):
            assert reason in detail
        assert "latitude" in details[5]
        assert all(r["method"] in ("MqttIngest", "Send") for r in refused)  # type: ignore[index]
    messages = [r.getMessage() for r in caplog.records]
    for _, reason in bad:
        assert any(reason in m for m in messages), reason
