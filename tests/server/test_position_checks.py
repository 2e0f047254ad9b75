"""A reported position is checked field by field, and a refusal names the first field
that is wrong: whatever the combination of values, in-process (no network)."""

from __future__ import annotations

import time

import pytest

from hotline.server.envelope_checks import check_envelope
from hotline.server.errors import InvalidArgument
from hotline.v1 import common_pb2, envelope_pb2, positions_pb2

NAN, INF = float("nan"), float("inf")


def report(**values: float) -> envelope_pb2.Envelope:
    unit = positions_pb2.UnitPosition(
        unit_id="VIPER11", domain=common_pb2.DOMAIN_AIR, latitude=35.0, longitude=40.0
    )
    for name, value in values.items():
        setattr(unit, name, value)
    unit.observed_at.GetCurrentTime()
    message = envelope_pb2.Envelope(
        message_id="m-1",
        sender=common_pb2.StationRef(party="BLUE", hotline=common_pb2.HOTLINE_AIR_OPERATIONS),
        hotline=common_pb2.HOTLINE_AIR_OPERATIONS,
        priority=common_pb2.PRIORITY_ROUTINE,
    )
    message.sent_at.GetCurrentTime()
    message.position_report.positions.append(unit)
    return message


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"accuracy_m": NAN}, "accuracy_m: must be a finite number, got nan"),
        ({"altitude_m": INF, "speed_mps": -INF}, "altitude_m: must be a finite number"),
        ({"course_deg": NAN, "latitude": 95.0}, "course_deg: must be a finite number"),
        ({"latitude": 95.0, "course_deg": 400.0}, "latitude: 95.0 is outside [-90, 90]"),
        ({"course_deg": 360.0}, "course_deg: 360.0 is outside [0, 360)"),
        ({"speed_mps": -1.0}, "speed_mps: must not be negative"),
        ({"accuracy_m": -0.5}, "accuracy_m: must not be negative"),
        ({"domain": 99}, "domain: unknown value 99"),
        ({"domain": 0}, "domain: required; one of DOMAIN_"),
    ],
)
def test_the_first_wrong_field_is_named(values: dict[str, float], problem: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        check_envelope(report(**values), time.time())
    assert refused.value.message.startswith(f"position_report.positions[0].{problem}")


def test_large_finite_values_are_not_taken_for_infinite_ones() -> None:
    """Their sum overflows; each of them is still a finite number."""
    assert check_envelope(report(altitude_m=1e308, speed_mps=1e308), time.time()) == (
        "position_report"
    )
