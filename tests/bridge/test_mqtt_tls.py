"""The bridge over TLS to a real Mosquitto TLS listener that requires client
certificates (the listener of docs/mqtt.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.server.errors import ConfigurationError
from hotline.server.settings import Settings
from hotline.testing.harness import AIR, running_server
from hotline.testing.mosquitto import Mosquitto, Observed, subscribed
from hotline.testing.pki import ExercisePki
from hotline.v1 import messages_pb2

ROOT = "hotline/default"


async def test_the_log_reaches_the_broker_over_tls(
    mosquitto_tls: Mosquitto, tmp_path: Path
) -> None:
    assert mosquitto_tls.tls_directory is not None
    pki = ExercisePki(mosquitto_tls.tls_directory)  # the broker's
    certificate, key = pki.bridge()
    async with (
        subscribed(mosquitto_tls, f"{ROOT}/#") as subscriber,
        running_server(
            tmp_path / "data",
            mqtt_url=mosquitto_tls.tls_url(),
            mqtt_ca=pki.ca_file,
            mqtt_cert=certificate,
            mqtt_key=key,
        ) as server,
        server.station("BLUE", AIR) as blue,
    ):
        sent = await blue.send(messages_pb2.TextMessage(text="over TLS", language="en"))

        def arrived(seen: list[Observed]) -> bool:
            return any(o.topic == f"{ROOT}/air_operations/text" for o in seen)

        await subscriber.wait_for(arrived)
    (text,) = subscriber.on(f"{ROOT}/air_operations/text")
    envelope = text.json()["envelope"]
    assert isinstance(envelope, dict)
    assert envelope["messageId"] == sent.message_id
    # The bridge came in on the TLS listener (the subscriber on the plaintext one).
    broker_log = mosquitto_tls.log()
    assert f"on port {mosquitto_tls.tls_port}" in broker_log
    assert "u'hotline-bridge'" in broker_log


def test_tls_files_need_an_mqtts_url(tmp_path: Path) -> None:
    pki = ExercisePki(tmp_path / "pki")
    with pytest.raises(ConfigurationError, match="use mqtts://"):
        Settings(mqtt_url="mqtt://127.0.0.1:1883", mqtt_ca=pki.ca_file).checked()
    with pytest.raises(ConfigurationError, match="needs its key"):
        Settings(mqtt_url="mqtts://127.0.0.1", mqtt_cert=pki.directory / "server.crt").checked()
    address = Settings(mqtt_url="mqtts://b:s@broker.example", mqtt_ca=pki.ca_file).checked()
    assert str(address.broker_address(address.mqtt_url)) == "mqtts://b@broker.example:8883"
