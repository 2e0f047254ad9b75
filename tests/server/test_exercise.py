"""The exercise file: what it may say, and the errors it gets when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.server.errors import ConfigurationError
from hotline.server.exercise import default_exercise, load_exercise, parse_duration
from hotline.v1 import common_pb2


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exercise.toml"
    path.write_text(text)
    return path


def test_the_default_has_two_parties_on_all_three_hotlines() -> None:
    exercise = default_exercise()
    assert [p.party_id for p in exercise.parties] == ["BLUE", "RED"]
    assert len(exercise.stations) == 6
    flash = exercise.policy.deadlines_for(common_pb2.PRIORITY_FLASH)
    assert (flash.receipt, flash.response) == (5, 60)


def test_a_full_file(tmp_path: Path) -> None:
    exercise = load_exercise(
        write(
            tmp_path,
            """
[exercise]
id = "drill"
name = "Deir Ezzor drill"
[[parties]]
id = "BLUE"
[[parties]]
id = "RED"
[[stations]]
party = "BLUE"
hotline = "air-operations"
primary = "Maj. Carter"
standby = "Capt. Diaz"
[[stations]]
party = "RED"
hotline = "AIR_OPERATIONS"
[policy]
line_test_interval = "15m"
[policy.deadlines.IMMEDIATE]
receipt = "250ms"
response = "2m"
[policy.separation]
air_horizontal_m = 9260
[mqtt]
url = "mqtt://blue:secret@broker:1883"
""",
        )
    )
    assert exercise.exercise_id == "drill"
    assert [s.label for s in exercise.stations] == ["BLUE/AIR_OPERATIONS", "RED/AIR_OPERATIONS"]
    assert exercise.stations[0].standby_operator == "Capt. Diaz"
    immediate = exercise.policy.deadlines_for(common_pb2.PRIORITY_IMMEDIATE)
    assert (immediate.receipt, immediate.response) == (0.25, 120)
    assert exercise.policy.line_test_interval == 900
    assert exercise.policy.separation.air_horizontal_m == 9260
    assert exercise.broker is not None
    assert exercise.broker.url == "mqtt://blue:secret@broker:1883"
    assert exercise.broker.payload_format == "json"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[[parties]]\nid = 'BLUE'\n", "at least two parties"),
        ("[[parties]]\nid='BLUE'\n[[parties]]\nid='BLUE'\n", "unique"),
        ("[[parties]]\nid='blue'\n[[parties]]\nid='RED'\n", "party id 'blue'"),
        (
            "[[parties]]\nid='BLUE'\n[[parties]]\nid='RED'\n[[stations]]\nparty='GREEN'\n"
            "hotline='GENERALS'\n",
            "unknown party 'GREEN'",
        ),
        (
            "[[parties]]\nid='BLUE'\n[[parties]]\nid='RED'\n[[stations]]\nparty='RED'\n"
            "hotline='NAVY'\n",
            "unknown hotline 'NAVY'",
        ),
        (
            "[[parties]]\nid='BLUE'\n[[parties]]\nid='RED'\n[policy.deadlines.FLASH]\n"
            "receipt='soon'\n",
            "policy.deadlines.FLASH.receipt",
        ),
        ("[[parties]]\nid='BLUE'\n[[parties]]\nid='RED'\n[surprise]\n", "surprise: unknown key"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        load_exercise(write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "[[parties]]\nid='BLUE'\n[[parties]]\nid='RED'\n\n[policy]\n"
            "line_test_receipt = '30s'\nline_test_intervall = '1h'\n",
            ":8: policy.line_test_intervall: unknown key; did you mean 'line_test_interval'?",
        ),
        (
            "[exercise]\nid = 'x'\nnmae = 'X'\n[[parties]]\nid='BLUE'\n[[parties]]\nid='RED'\n",
            ":3: exercise.nmae: unknown key; did you mean 'name'?",
        ),
        (
            "[[parties]]\nid='BLUE'\n[[parties]]\nid='RED'\n[policy.deadlines.FLASH]\n"
            "reciept = '5s'\n",
            ":6: policy.deadlines.FLASH.reciept: unknown key; did you mean 'receipt'?",
        ),
        (
            "[[parties]]\nid='BLUE'\n[[parties]]\nid='RED'\n[[stations]]\nparty='RED'\n"
            "hotline='GENERALS'\nstandy='Capt. B'\n",
            ":8: stations[0].standy: unknown key; did you mean 'standby'?",
        ),
        (
            "[[parties]]\nid='BLUE'\n[[parties]]\nid='RED'\n[policy.seperation]\n",
            ":5: policy.seperation: unknown key; did you mean 'separation'?",
        ),
    ],
)
def test_an_unknown_key_is_refused_naming_its_line(tmp_path: Path, text: str, says: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as refused:
        load_exercise(path)
    assert str(refused.value) == f"{path}{says}"


def test_durations() -> None:
    assert parse_duration("1h", "x") == 3600
    assert parse_duration(2.5, "x") == 2.5
    with pytest.raises(ConfigurationError, match="positive"):
        parse_duration(0, "x")


def test_the_recorded_exercise_holds_every_separation_setting(tmp_path: Path) -> None:
    """Re-evaluation configures the engine from the EXERCISE_STARTED record: every
    setting of the exercise file must be in it."""
    exercise = load_exercise(
        write(
            tmp_path,
            """
[exercise]
id = "drill"
[[parties]]
id = "BLUE"
[[parties]]
id = "RED"
[policy.separation]
air_horizontal_m = 9260
air_vertical_m = 150
ground_m = 500
look_ahead = "2m"
stale_after = "20s"
notice_mismatch_m = 5000
""",
        )
    )
    recorded = exercise.to_proto().policy.separation
    assert recorded.air_horizontal_m == 9260
    assert recorded.air_vertical_m == 150
    assert recorded.ground_m == 500
    assert recorded.look_ahead.seconds == 120
    assert recorded.stale_after.seconds == 20
    assert recorded.notice_mismatch_m == 5000
