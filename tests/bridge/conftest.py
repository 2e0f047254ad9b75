"""The bridge tests run against a real Mosquitto broker started per test."""

from __future__ import annotations

from fixtures.mosquitto import mosquitto  # noqa: F401
