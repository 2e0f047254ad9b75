"""What a subscriber of the broker sees of an exercise: every record on its topic, in
log order, with retained status topics and the bridge's own online state."""

from __future__ import annotations

import json
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs among the dev dependencies

from hotline.server.exercise import load_exercise
from hotline.testing.bridge import bridge_link
from hotline.testing.harness import AIR, expect, is_ack, running_server
from hotline.testing.mosquitto import HANG_GUARD_S, Mosquitto, Observed, subscribed
from hotline.v1 import acknowledgments_pb2, common_pb2, log_pb2, messages_pb2

ROOT = "hotline/default"


def indices(seen: list[Observed], prefix: str = ROOT) -> list[int]:
    return [o.index for o in seen if o.topic.startswith(prefix) and o.topic != f"{ROOT}/bridge"]


async def test_hotline_traffic_arrives_on_its_topics_in_log_order(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscribed(mosquitto, f"{ROOT}/#") as subscriber,
        running_server(tmp_path / "data", mqtt_url=mosquitto.url()) as server,
    ):
        async with server.station("BLUE", AIR) as blue, server.station("RED", AIR) as red:
            sent = await blue.send(
                messages_pb2.TextMessage(text="Strike package at 0600Z", language="en"),
                common_pb2.PRIORITY_IMMEDIATE,
            )
            delivery = await red.next_delivery(within=HANG_GUARD_S)
            await red.acknowledge(delivery, acknowledgments_pb2.ACK_KIND_WILCO)
            await expect(
                blue, is_ack(sent.message_id, acknowledgments_pb2.ACK_KIND_WILCO), HANG_GUARD_S
            )

        def answered(seen: list[Observed]) -> bool:
            acks = [o.json() for o in seen if o.topic == f"{ROOT}/air_operations/acknowledgment"]
            return any(
                a["envelope"]["acknowledgment"]["kind"] == "ACK_KIND_WILCO"  # type: ignore[index]
                for a in acks
            )

        seen = await subscriber.wait_for(answered)
        text = subscriber.on(f"{ROOT}/air_operations/text")
        assert len(text) == 1
        record = text[0].json()
        assert record["kind"] == "RECORD_KIND_ENVELOPE"
        envelope = record["envelope"]
        assert isinstance(envelope, dict)
        assert envelope["messageId"] == sent.message_id
        assert envelope["text"]["text"] == "Strike package at 0600Z"
        assert envelope["sender"] == {"party": "BLUE", "hotline": "HOTLINE_AIR_OPERATIONS"}
        kinds = [
            o.json()["envelope"]["acknowledgment"]["kind"]  # type: ignore[index]
            for o in subscriber.on(f"{ROOT}/air_operations/acknowledgment")
        ]
        assert kinds[:2] == ["ACK_KIND_RECEIPT", "ACK_KIND_WILCO"]
        # The log in order, from record 0, without gaps or repeats.
        published = indices(seen)
        assert published == list(range(len(published)))
        assert subscriber.on(f"{ROOT}/exercise/started")[0].index == 0
        assert seen[0] == Observed(f"{ROOT}/bridge", b'{"state": "online"}', False)

        # Both stations went offline: the second one raises STATION_OFFLINE.
        await subscriber.wait_for(lambda _: bool(subscriber.on(f"{ROOT}/alerts/station_offline")))
        alert = subscriber.on(f"{ROOT}/alerts/station_offline")[0].json()
        assert alert["envelope"]["alert"]["kind"] == "ALERT_KIND_STATION_OFFLINE"  # type: ignore[index]


async def test_station_and_bridge_status_are_retained_and_the_stop_is_announced(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with subscribed(mosquitto, f"{ROOT}/bridge", "status") as status:
        async with running_server(tmp_path / "data", mqtt_url=mosquitto.url()) as server:
            online = await status.wait_for(lambda seen: len(seen) >= 1)
            assert json.loads(online[0].payload) == {"state": "online"}
            async with server.station("BLUE", AIR):
                async with subscribed(mosquitto, f"{ROOT}/+/stations/#", "early") as early:
                    await early.wait_for(lambda seen: len(seen) >= 1)
                # A subscriber that comes later still sees the station's state, retained.
                async with subscribed(mosquitto, f"{ROOT}/+/stations/#", "late") as late:
                    seen = await late.wait_for(lambda seen: len(seen) >= 1)
                    assert seen[0].topic == f"{ROOT}/air_operations/stations/BLUE"
                    assert seen[0].retain
                    assert seen[0].json()["kind"] == "RECORD_KIND_STATION_CONNECTED"
            async with subscribed(mosquitto, f"{ROOT}/air_operations/stations/BLUE", "s") as st:
                offline = await st.wait_for(
                    lambda seen: (
                        bool(seen) and seen[-1].json()["kind"] == "RECORD_KIND_STATION_DISCONNECTED"
                    )
                )
                session = offline[-1].json()["stationSession"]
                assert session["station"]["party"] == "BLUE"  # type: ignore[index]
        # The server stopped: the bridge said goodbye, and that is what stays retained.
        await status.wait_for(lambda seen: json.loads(seen[-1].payload) == {"state": "offline"})
    async with subscribed(mosquitto, f"{ROOT}/bridge", "after") as after:
        seen = await after.wait_for(lambda seen: len(seen) >= 1)
        assert seen[0].retain
        assert json.loads(seen[0].payload) == {"state": "offline"}


async def test_protobuf_payloads_are_the_stored_log_records(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscribed(mosquitto, f"{ROOT}/air_operations/#") as subscriber,
        running_server(
            tmp_path / "data", mqtt_url=mosquitto.url(), mqtt_format="protobuf"
        ) as server,
        server.station("BLUE", AIR) as blue,
    ):
        sent = await blue.send(
            messages_pb2.TextMessage(text="binary", language="en"), common_pb2.PRIORITY_ROUTINE
        )
        await subscriber.wait_for(lambda _: bool(subscriber.on(f"{ROOT}/air_operations/text")))
        record = log_pb2.LogRecord.FromString(
            subscriber.on(f"{ROOT}/air_operations/text")[0].payload
        )
        assert record.envelope.message_id == sent.message_id
        assert record.envelope.text.text == "binary"
        assert record.index > 0


async def test_records_of_the_shutdown_are_published_before_the_server_exits(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with subscribed(mosquitto, f"{ROOT}/#") as subscriber:
        async with (
            running_server(tmp_path / "data", mqtt_url=mosquitto.url()) as server,
            server.station("BLUE", AIR) as blue,
        ):
            await blue.send(
                messages_pb2.TextMessage(text="last words", language="en"),
                common_pb2.PRIORITY_ROUTINE,
            )
        # The server has exited: its stop record went out on the way, not at a next start.
        seen = await subscriber.wait_for(lambda _: bool(subscriber.on(f"{ROOT}/exercise/stopped")))
        stopped = subscriber.on(f"{ROOT}/exercise/stopped")[0].json()
        assert stopped["kind"] == "RECORD_KIND_SERVER_STOPPED"
        # At least once: a record in flight at the stop may come twice.
        assert sorted(set(indices(seen))) == list(range(int(str(stopped["index"])) + 1))
        # And the cursor says so: a restart publishes nothing again.
        cursor = (tmp_path / "data" / "mqtt.cursor").read_text().strip()
        assert int(cursor) == int(str(stopped["index"])) + 1


async def test_the_exercise_file_can_name_the_broker(mosquitto: Mosquitto, tmp_path: Path) -> None:
    exercise_file = tmp_path / "exercise.toml"
    exercise_file.write_text(
        '[exercise]\nid = "drill"\n[[parties]]\nid = "BLUE"\n[[parties]]\nid = "RED"\n'
        f'[mqtt]\nurl = "{mosquitto.url()}"\n'
    )
    exercise = load_exercise(exercise_file)
    async with (
        subscribed(mosquitto, "hotline/drill/#") as subscriber,
        running_server(tmp_path / "data", exercise),
    ):
        await subscriber.wait_for(lambda _: bool(subscriber.on("hotline/drill/exercise/started")))
        assert subscriber.on("hotline/drill/bridge")[0].payload == b'{"state": "online"}'


async def test_the_link_to_the_broker_gives_way_to_the_stations_traffic(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    # The link runs in a child process at a lower scheduling priority than the server:
    # on busy cores the stations' traffic goes first, the link catches up from its cursor.
    async with (
        subscribed(mosquitto, f"{ROOT}/bridge", "status") as status,
        running_server(tmp_path / "data", mqtt_url=mosquitto.url()),
    ):
        await status.bridge_online()
        assert bridge_link().nice() >= psutil.Process().nice() + 10
