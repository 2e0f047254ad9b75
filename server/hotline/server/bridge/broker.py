"""The connection to the broker: one MQTT client per session, and the back-off between
sessions.

This is the one module that touches the MQTT client library's internals, for what the
public aiomqtt API does not offer or offers at too high a cost: ingested messages are
acknowledged by hand (:func:`acknowledge`), once they are durable in the log; and the
log is published with :func:`publish`, a fraction of the cost of
``aiomqtt.Client.publish``, which waits through ``asyncio.wait_for`` and scans every
pending call on each publish (quadratic with a thousand in flight).
"""

from __future__ import annotations

import asyncio
import random

import aiomqtt
import paho.mqtt.client as paho

from hotline.server.bridge.address import BrokerAddress
from hotline.server.bridge.payloads import BRIDGE_OFFLINE

#: QoS 1 publishes the bridge keeps in flight: enough to fill the round trip.
MAX_IN_FLIGHT = 1024
KEEPALIVE_S = 10
CONNECT_TIMEOUT_S = 5.0


def client(address: BrokerAddress, identifier: str, status_topic: str) -> aiomqtt.Client:
    """An unconnected client with a persistent session (the broker keeps the position
    feeds sent while the bridge is away) and a last will that marks the bridge offline."""
    mqtt = aiomqtt.Client(
        address.host,
        address.port,
        username=address.username,
        password=address.password,
        identifier=identifier,
        clean_session=False,
        keepalive=KEEPALIVE_S,
        timeout=CONNECT_TIMEOUT_S,
        will=aiomqtt.Will(status_topic, BRIDGE_OFFLINE, qos=1, retain=True),
        max_inflight_messages=MAX_IN_FLIGHT,
        tls_params=_tls(address),
    )
    mqtt.pending_calls_threshold = 2 * MAX_IN_FLIGHT
    # PUBACK for an ingested message goes out only once it is recorded: see acknowledge.
    mqtt._client.manual_ack_set(True)  # private: no public API for manual acks
    return mqtt


def _tls(address: BrokerAddress) -> aiomqtt.TLSParameters | None:
    """TLS for ``mqtts://``: the broker's certificate checked against the CA (and its
    host name), the bridge's certificate presented if one is configured."""
    if not address.tls:
        return None

    def name(path: object) -> str | None:
        return None if path is None else str(path)

    return aiomqtt.TLSParameters(
        ca_certs=name(address.ca), certfile=name(address.certificate), keyfile=name(address.key)
    )


def acknowledge(mqtt: aiomqtt.Client, mid: int, qos: int) -> None:
    """Sends the PUBACK of a QoS 1 message received with manual acknowledgment."""
    if qos > 0:
        mqtt._client.ack(mid, qos)


class _Confirmation:
    """Stands in aiomqtt's table of pending publishes, which calls ``set`` at the PUBACK."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future

    def set(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


def publish(mqtt: aiomqtt.Client, topic: str, payload: bytes, retain: bool) -> asyncio.Future[None]:
    """Starts a QoS 1 publish; the future is done at its PUBACK. It never times out: a
    connection that is lost ends the session, which drops its pending futures."""
    info = mqtt._client.publish(topic, payload, 1, retain)  # private: see the module doc
    if info.rc != paho.MQTT_ERR_SUCCESS:
        raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
    future = asyncio.get_running_loop().create_future()
    if info.is_published():
        future.set_result(None)
    else:
        mqtt._pending_publishes[info.mid] = _Confirmation(future)  # type: ignore[assignment]
    return future


class Backoff:
    """Exponential back-off with jitter: each delay is drawn from [d/2, d], where d
    doubles from ``initial`` up to ``maximum``; :meth:`reset` after a good session."""

    def __init__(
        self, initial: float = 0.1, maximum: float = 5.0, rng: random.Random | None = None
    ) -> None:
        self._initial = initial
        self._maximum = maximum
        self._attempts = 0
        self._rng = rng or random.Random()

    def reset(self) -> None:
        self._attempts = 0

    def next_delay(self) -> float:
        ceiling = min(self._maximum, self._initial * 2**self._attempts)
        self._attempts += 1
        return self._rng.uniform(ceiling / 2, ceiling)
