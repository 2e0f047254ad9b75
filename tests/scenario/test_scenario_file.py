"""The scenario file: what it holds once read, and the errors of a file that is wrong,
each naming the line and the field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hotline.server.errors import ConfigurationError
from hotline.server.exercise import default_exercise
from hotline.server.scenario import (
    InjectKind,
    ObjectiveKind,
    Seat,
    StationName,
    load_scenario,
    parse_offset,
    parse_scenario,
    scaled_exercise,
)
from hotline.v1 import acknowledgments_pb2, common_pb2

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
AIR = common_pb2.HOTLINE_AIR_OPERATIONS

HEADER = """
[scenario]
name = "Drill"
time_scale = 10
seed = 7
duration = "30m"
played = ["BLUE/AIR_OPERATIONS"]

[exercise]
id = "drill"

[[parties]]
id = "BLUE"

[[parties]]
id = "RED"
"""


def parse(extra: str) -> object:
    return parse_scenario(HEADER + textwrap.dedent(extra), name="drill.toml")


def test_every_shipped_scenario_is_valid() -> None:
    paths = sorted(SCENARIOS.glob("*.toml"))
    scenarios = [load_scenario(p) for p in paths if not p.name.endswith(".exercise.toml")]
    assert len(scenarios) >= 2
    for scenario in scenarios:
        assert scenario.injects
        assert scenario.objectives


def test_a_scenario_holds_its_stations_injects_and_objectives() -> None:
    scenario = parse_scenario(
        HEADER
        + textwrap.dedent(
            """
            [[simulated]]
            station = "RED/AIR_OPERATIONS"
            absent = [{ seat = "primary", from = "5m", until = "10m" }]

            [simulated.primary]
            delay = { uniform = ["10s", "1m"] }
            answer_probability = 0.5
            answer = { activity_notice = "UNABLE: no aircraft" }

            [[injects]]
            id = "S1"
            at = "T+2m"
            from = "RED/AIR_OPERATIONS"
            message = { stop_request = { reason = "cease" } }

            [[injects]]
            id = "U1"
            at = "1m"
            kind = "unavailable"
            station = "RED/GENERALS"
            seat = "standby"
            until = "20m"

            [[objectives]]
            id = "O1"
            kind = "answered_within"
            party = "BLUE"
            inject = "S1"
            within = "2m"
            """
        )
    )
    red_air = StationName("RED", AIR)
    assert StationName("BLUE", AIR) in scenario.played
    # Every station the exercise has and nobody plays is simulated.
    assert len(scenario.simulated) == 5
    operator = scenario.simulated[red_air].primary
    assert operator.probability == 0.5
    assert operator.delay.low == 10
    assert operator.delay.high == 60
    assert operator.answer_to("activity_notice").kind == acknowledgments_pb2.ACK_KIND_UNABLE
    assert operator.answer_to("text").kind == acknowledgments_pb2.ACK_KIND_WILCO
    assert operator.back_at(6 * 60) == 10 * 60
    assert operator.back_at(60) == 60
    unavailable, stop = scenario.injects  # in time order
    assert unavailable.kind is InjectKind.UNAVAILABLE
    assert unavailable.seat is Seat.STANDBY
    assert stop.at == 120
    assert stop.envelope is not None
    assert stop.envelope.priority == common_pb2.PRIORITY_FLASH
    assert scenario.objectives[0].kind is ObjectiveKind.ANSWERED_WITHIN


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '[[injects]]\nid = "S1"\nat = "soon"\nkind = "note"\ntext = "x"\n',
            "drill.toml:19: injects[0].at: expected exercise time",
        ),
        (
            '[[injects]]\nid = "S1"\nat = "1m"\nkind = "notes"\n',
            "injects[0].kind: 'notes' is not an inject kind",
        ),
        (
            '[[injects]]\nid = "S1"\nat = "1m"\nfrom = "BLUE/AIR_OPERATIONS"\n'
            'message = { text = { text = "x" } }\n',
            "injects[0].from: BLUE/AIR_OPERATIONS is played by a person",
        ),
        (
            '[[injects]]\nid = "S1"\nat = "1m"\nfrom = "GREEN/AIR_OPERATIONS"\n'
            'message = { text = { text = "x" } }\n',
            "injects[0].from: the exercise has no station GREEN/AIR_OPERATIONS",
        ),
        (
            '[[injects]]\nid = "S1"\nat = "1m"\nfrom = "RED/AIR_OPERATIONS"\n'
            'message = { text = { txt = "x" } }\n',
            'injects[0].message: Message type "hotline.v1.TextMessage" has no field named "txt"',
        ),
        (
            '[[injects]]\nid = "S1"\nat = "40m"\nkind = "note"\ntext = "late"\n',
            "scenario.duration: 1800 s ends before the last inject",
        ),
        (
            '[[simulated]]\nstation = "RED/GENERALS"\nprimary = { answer = "UNABLE" }\n',
            "simulated[0].primary.answer: UNABLE needs its reason",
        ),
        (
            '[[objectives]]\nid = "O1"\nkind = "answered_within"\nparty = "RED"\n'
            'inject = "X9"\nwithin = "1m"\n',
            "objectives[0].inject: no inject has the id 'X9'",
        ),
        (
            '[[injects]]\nid = "S1"\nat = "1m"\nkind = "note"\ntxt = "x"\n',
            "drill.toml:21: injects[0].txt: unknown key; did you mean 'text'?",
        ),
    ],
)
def test_a_mistake_names_the_line_and_the_field(extra: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse(extra)
    assert message in str(raised.value)


def test_exercise_time_is_written_as_a_clock_offset() -> None:
    assert parse_offset(0) == 0
    assert parse_offset("90s") == 90
    assert parse_offset("T+1h30m") == 5400
    with pytest.raises(ValueError, match="-1"):
        parse_offset(-1)


def test_a_faster_time_scale_divides_every_deadline_of_the_policy() -> None:
    exercise = default_exercise()
    scaled = scaled_exercise(exercise, 60)
    flash = common_pb2.PRIORITY_FLASH
    assert scaled.policy.deadlines[flash].response == 1.0
    assert scaled.policy.line_test_interval == 60.0
    assert scaled.exercise_id == exercise.exercise_id


def test_the_example_of_the_reference_is_accepted() -> None:
    reference = (SCENARIOS.parent / "docs" / "scenarios.md").read_text()
    example = reference.split("```toml\n", 1)[1].split("```", 1)[0]
    scenario = parse_scenario(example, base=SCENARIOS, name="docs/scenarios.md")
    assert scenario.played == {StationName("RED", common_pb2.HOTLINE_GROUND_COMMANDERS)}
    assert [i.inject_id for i in scenario.injects] == ["S1"]
