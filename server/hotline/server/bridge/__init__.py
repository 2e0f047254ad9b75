"""The MQTT bridge: the exercise's log published to a Mosquitto broker, and position
feeds taken in from it. ``docs/mqtt.md`` documents the topics, payloads and broker ACL."""

from hotline.server.bridge.address import (
    BrokerAddress,
    PayloadFormat,
    parse_broker_url,
    parse_format,
)
from hotline.server.bridge.bridge import Bridge, BridgeStats
from hotline.server.bridge.topics import TopicTree

__all__ = [
    "Bridge",
    "BridgeStats",
    "BrokerAddress",
    "PayloadFormat",
    "TopicTree",
    "parse_broker_url",
    "parse_format",
]
