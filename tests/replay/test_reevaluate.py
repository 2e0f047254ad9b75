"""``hotline replay --reevaluate``: the alerts recomputed from a recorded exercise.

The log is a real one from ``hotline.server.app.serve``: near Deir Ezzor, BLUE and RED
report two pairs of aircraft at 7,000 and 7,100 m, one pair 4 km apart (inside the
3 NM minimum: the server raised SEPARATION_BREACH), the other 7 km apart (clear).
Re-evaluated with the recorded minima nothing diverges; with a 3 km minimum the breach
goes missing, with a 10 km one the second pair's breach is added.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hotline.cli import main
from hotline.cli.replay_modes import DIVERGED
from hotline.contract import timestamp
from hotline.server.exercise import Policy, Separation, default_exercise
from hotline.server.replay.reevaluate import Verdict
from hotline.server.replay.reevaluate import reevaluate as reevaluate_log
from hotline.testing.harness import AIR, expect, is_alert, running_server
from hotline.testing.recorded import Recordings
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, log_pb2, positions_pb2

BREACH = acknowledgments_pb2.ALERT_KIND_SEPARATION_BREACH
#: 4 km apart on the parallel of Deir Ezzor.
CLOSE_PAIR = (("VIPER-31", (35.336, 40.100)), ("FENCER-41", (35.336, 40.144)))
#: 7 km apart, 15 km south of the first pair.
WIDER_PAIR = (("EAGLE-11", (35.200, 40.100)), ("FLANKER-21", (35.200, 40.177)))


def aircraft(
    unit_id: str, at: tuple[float, float], altitude_m: float
) -> positions_pb2.UnitPosition:
    """An aircraft holding its position, observed now."""
    return positions_pb2.UnitPosition(
        unit_id=unit_id,
        callsign=unit_id,
        domain=common_pb2.DOMAIN_AIR,
        latitude=at[0],
        longitude=at[1],
        altitude_m=altitude_m,
        observed_at=timestamp(),
        accuracy_m=15.0,
    )


async def _exercise(data_dir: Path) -> None:
    async with (
        running_server(data_dir) as server,
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as red,
    ):
        (viper, fencer), (eagle, flanker) = CLOSE_PAIR, WIDER_PAIR
        await blue.send(
            positions_pb2.PositionReport(
                positions=[aircraft(*viper, 7000.0), aircraft(*eagle, 7000.0)]
            )
        )
        await red.send(
            positions_pb2.PositionReport(
                positions=[aircraft(*fencer, 7100.0), aircraft(*flanker, 7100.0)]
            )
        )
        await expect(blue, is_alert(BREACH))


@pytest.fixture
def log(recordings: Recordings, tmp_path: Path) -> Path:
    """A copy of the recorded log, with the server's verifier key beside it."""
    return recordings.of(_exercise).copy_log(tmp_path)


def exercise_file(tmp_path: Path, air_horizontal_m: float) -> Path:
    """The recorded (built-in) exercise with another horizontal air minimum."""
    path = tmp_path / f"exercise-{air_horizontal_m:g}.toml"
    path.write_text(
        '[exercise]\nid = "default"\n\n'
        '[[parties]]\nid = "BLUE"\n\n[[parties]]\nid = "RED"\n\n'
        f"[policy.separation]\nair_horizontal_m = {air_horizontal_m}\n",
        encoding="utf-8",
    )
    return path


def reevaluate(
    capsys: pytest.CaptureFixture[str], log: Path, *options: str
) -> tuple[int, list[str]]:
    """Runs ``hotline replay --reevaluate``; the exit status and the output lines."""
    args = ["replay", str(log), "--key", str(log.parent / "signing.pub"), "--reevaluate"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main([*args, *options])
    out, err = capsys.readouterr()
    assert isinstance(exited.value.code, int), err
    return exited.value.code, out.splitlines()


def documents(capsys: pytest.CaptureFixture[str], log: Path, *options: str) -> list[Any]:
    _, lines = reevaluate(capsys, log, "--json", *options)
    return [json.loads(line) for line in lines]


def test_the_recorded_configuration_reproduces_the_recorded_alerts(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    code, lines = reevaluate(capsys, log)
    assert code == 0, lines
    *alerts, summary = lines
    assert len(alerts) == 1
    assert alerts[0].startswith("same")
    assert "SEPARATION_BREACH units FENCER-41,VIPER-31" in alerts[0]
    assert "re-evaluated 2 recorded inputs with AIR 5556 m horizontal" in summary
    assert "(the recorded exercise)" in summary
    assert "1 same, 0 added, 0 missing, 0 changed, 0 refused; no divergence" in summary


def test_a_smaller_minimum_leaves_the_recorded_breach_missing(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    code, lines = reevaluate(capsys, log, "--exercise", str(exercise_file(tmp_path, 3000)))
    assert code == DIVERGED
    *alerts, summary = lines
    assert len(alerts) == 1
    assert alerts[0].startswith("missing")
    assert "SEPARATION_BREACH units FENCER-41,VIPER-31" in alerts[0]
    assert "AIR 3000 m horizontal" in summary
    assert "0 same, 0 added, 1 missing, 0 changed" in summary
    assert summary.endswith("diverges from the recording")


def test_a_larger_minimum_adds_a_breach_for_the_wider_pair(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    found = documents(capsys, log, "--exercise", str(exercise_file(tmp_path, 10_000)))
    *alerts, summary = found
    verdicts = {(a["verdict"], tuple(a["unit_ids"])) for a in alerts}
    assert verdicts == {
        ("same", ("FENCER-41", "VIPER-31")),
        ("added", ("EAGLE-11", "FLANKER-21")),
    }
    added = next(a for a in alerts if a["verdict"] == "added")
    assert added["kind"] == "SEPARATION_BREACH"
    assert added["recorded"] is None
    assert added["recomputed"]["hotline"] == "AIR_OPERATIONS"
    assert added["recomputed"]["audience"] == ["BLUE", "RED"]
    assert added["recomputed"]["distance_m"] == pytest.approx(7000, abs=100)
    assert "minimum 10000 m" in added["recomputed"]["summary"]
    # Caused by RED's report, the second message of the exercise.
    same = next(a for a in alerts if a["verdict"] == "same")
    assert added["caused_by"] == same["caused_by"]
    assert same["recorded"]["index"] > same["caused_by"]["index"] >= 0
    assert summary["summary"]["added"] == 1
    assert summary["summary"]["diverges"] is True


def test_the_same_log_and_options_give_the_same_bytes(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    smaller = str(exercise_file(tmp_path, 3000))
    for options in ((), ("--json",), ("--exercise", smaller)):
        assert reevaluate(capsys, log, *options) == reevaluate(capsys, log, *options)


def test_without_reevaluate_the_replay_shows_the_recorded_alert(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["replay", str(log), "--key", str(log.parent / "signing.pub"), "--speed", "0"])
    assert exited.value.code == 0
    breaches = [
        line for line in capsys.readouterr().out.splitlines() if "SEPARATION_BREACH" in line
    ]
    assert len(breaches) == 1


def test_reevaluation_reads_the_whole_log(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["replay", str(log), "--no-verify", "--reevaluate", "--party", "RED"])
    assert "reads the whole log" in str(exited.value.code)


# ---------------------------------------------------------------------- from records


def _record(
    index: int, at: float, *, exercise: Any = None, envelope: Any = None
) -> log_pb2.LogRecord:
    record = log_pb2.LogRecord(index=index, actor="server")
    record.recorded_at.CopyFrom(timestamp(at))
    if exercise is not None:
        record.kind = log_pb2.RECORD_KIND_EXERCISE_STARTED
        record.exercise.CopyFrom(exercise)
    else:
        record.kind = log_pb2.RECORD_KIND_ENVELOPE
        record.envelope.CopyFrom(envelope)
        record.envelope.recorded_at.CopyFrom(record.recorded_at)
    return record


def _report(message_id: str, party: str, unit_id: str, longitude: float, at: float) -> Any:
    position = aircraft(unit_id, (35.336, longitude), 7000.0 if party == "BLUE" else 7100.0)
    position.observed_at.CopyFrom(timestamp(at))
    return envelope_pb2.Envelope(
        message_id=message_id,
        sender=common_pb2.StationRef(party=party, hotline=AIR),
        hotline=AIR,
        position_report=positions_pb2.PositionReport(positions=[position]),
    )


def _breach(cause: str, distance_m: float, longitude: float) -> Any:
    """The breach alert as the server records it, halfway between the two aircraft."""
    return envelope_pb2.Envelope(
        message_id="srv:alert:9",
        sender=common_pb2.StationRef(hotline=AIR),
        hotline=AIR,
        audience=["BLUE", "RED"],
        alert=acknowledgments_pb2.Alert(
            kind=BREACH,
            message_id=cause,
            unit_ids=["FENCER-41", "VIPER-31"],
            parties=["RED", "BLUE"],
            distance_m=distance_m,
            location=common_pb2.LatLon(latitude=35.336, longitude=longitude),
        ),
    )


def _exercise_proto(air_horizontal_m: float) -> Any:
    return default_exercise(
        Policy(separation=Separation(air_horizontal_m=air_horizontal_m))
    ).to_proto()


T0 = 1_800_000_000.0


def test_an_alert_recorded_with_other_figures_is_reported_changed() -> None:
    records = [
        _record(0, T0, exercise=_exercise_proto(5556)),
        _record(1, T0 + 1, envelope=_report("blue-1", "BLUE", "VIPER-31", 40.100, T0 + 1)),
        _record(2, T0 + 2, envelope=_report("red-1", "RED", "FENCER-41", 40.144, T0 + 2)),
        _record(3, T0 + 2, envelope=_breach("red-1", 3000.0, 40.122)),
    ]
    outcome = reevaluate_log(enumerate(records))
    (comparison,) = outcome.comparisons
    assert comparison.verdict is Verdict.CHANGED
    assert comparison.cause_index == 2
    assert [(c.field, c.recorded, c.recomputed) for c in comparison.changes] == [
        ("distance_m", "3000 m", "4000 m")
    ]
    assert outcome.diverges


def test_a_restart_with_other_minima_rebuilds_the_picture_as_the_server_did() -> None:
    """After a restart with a 3 km minimum the server rebuilt its picture: the pair 4 km
    apart was no breach under it, so closing to 2.6 km raised a new one."""
    records = [
        _record(0, T0, exercise=_exercise_proto(5556)),
        _record(1, T0 + 1, envelope=_report("blue-1", "BLUE", "VIPER-31", 40.100, T0 + 1)),
        _record(2, T0 + 2, envelope=_report("red-1", "RED", "FENCER-41", 40.144, T0 + 2)),
        _record(3, T0 + 2, envelope=_breach("red-1", 4000.19, 40.122)),
        _record(4, T0 + 10, exercise=_exercise_proto(3000)),
        _record(5, T0 + 11, envelope=_report("red-2", "RED", "FENCER-41", 40.1286, T0 + 11)),
        _record(6, T0 + 11, envelope=_breach("red-2", 2600.0, 40.1143)),
    ]
    outcome = reevaluate_log(enumerate(records))
    assert [(c.verdict, c.cause_index) for c in outcome.comparisons] == [
        (Verdict.SAME, 2),
        (Verdict.SAME, 5),
    ]
    assert outcome.separation.air_horizontal_m == 3000
    assert not outcome.diverges
    # Under the first minima throughout, the pair never left its breach episode.
    first = default_exercise(Policy(separation=Separation(air_horizontal_m=5556)))
    outcome = reevaluate_log(enumerate(records), first)
    assert [(c.verdict, c.cause_index) for c in outcome.comparisons] == [
        (Verdict.SAME, 2),
        (Verdict.MISSING, 5),
    ]
