"""A line cut and a delayed delivery, scripted: the simulated station really loses its
connection and resumes with no gap; a message written at one time reaches the server
later."""

from __future__ import annotations

from pathlib import Path

from hotline.contract import seconds
from hotline.server.scenario import Verdict, evaluate_runs, parse_scenario
from hotline.testing.scenarios import run_scenario
from hotline.v1 import acknowledgments_pb2, log_pb2

SCENARIO = """
[scenario]
name = "Line cut drill"
time_scale = 60
seed = 1
duration = "6m"

[exercise]
id = "line-cut-drill"

[[parties]]
id = "BLUE"

[[parties]]
id = "RED"

[[simulated]]
station = "RED/AIR_OPERATIONS"
primary = { delay = "20s", answer = "ROGER" }

[[injects]]
id = "C1"
at = "1m"
kind = "line_cut"
station = "RED/AIR_OPERATIONS"
until = "3m"
description = "RED's air operations line is cut"

[[injects]]
id = "M1"
at = "1m30s"
from = "BLUE/AIR_OPERATIONS"
priority = "PRIORITY"
message = { text = { text = "Confirm your patrol leaves the corridor by 0600Z", language = "en" } }

[[injects]]
id = "D1"
at = "30s"
delivery_delay = "1m"
from = "BLUE/AIR_OPERATIONS"
message = { text = { text = "Written at T+30s, delivered at T+1m30s" } }

[[objectives]]
id = "O1"
kind = "answered_within"
party = "RED"
inject = "M1"
within = "3m"
"""


async def test_a_cut_station_goes_offline_and_answers_once_its_line_is_back(
    tmp_path: Path,
) -> None:
    scenario = parse_scenario(SCENARIO, name="line-cut.toml")

    run = await run_scenario(scenario, tmp_path)

    assert run.result.problems == ()
    [evaluation] = evaluate_runs(run.records)
    red_air = [
        (index, r)
        for index, r in run.records
        if r.kind
        in (log_pb2.RECORD_KIND_STATION_CONNECTED, log_pb2.RECORD_KIND_STATION_DISCONNECTED)
        and r.station_session.station.party == "RED"
        and r.hotline == 1
    ]
    kinds = [r.kind for _, r in red_air]
    # Both seats connect, go when the line is cut, and come back.
    assert kinds.count(log_pb2.RECORD_KIND_STATION_DISCONNECTED) >= 2
    assert kinds.count(log_pb2.RECORD_KIND_STATION_CONNECTED) >= 4
    message = next(o for o in evaluation.injects if o.inject.inject_id == "M1")
    cut = next(o for o in evaluation.injects if o.inject.inject_id == "C1")
    assert cut.index is not None
    reconnected = next(
        i for i, r in red_air if r.kind == log_pb2.RECORD_KIND_STATION_CONNECTED and i > cut.index
    )
    assert message.index is not None
    assert message.index < reconnected
    # The message sent while the line was down reached RED once it was back.
    answer = next(
        index
        for index, r in run.records
        if r.envelope.acknowledgment.kind == acknowledgments_pb2.ACK_KIND_ROGER
        and r.envelope.acknowledgment.message_id.endswith(".M1")
    )
    assert answer > reconnected
    assert message.answered_by == "RED/AIR_OPERATIONS primary"
    assert message.time_lost is not None
    assert message.time_lost > 60  # the line came back 90 s after it was sent
    offline = [
        r
        for _, r in run.records
        if r.envelope.alert.kind == acknowledgments_pb2.ALERT_KIND_RECEIPT_MISSED
        and r.envelope.alert.message_id.endswith(".M1")
    ]
    assert offline, "the sender is told at once that the station is offline"
    went_offline = [
        index
        for index, r in run.records
        if r.envelope.alert.kind == acknowledgments_pb2.ALERT_KIND_STATION_OFFLINE
        and r.envelope.alert.station.party == "RED"
        and r.envelope.alert.station.hotline == 1
    ]
    # Offline once during the cut (and once more when the run ends).
    assert len([i for i in went_offline if i < reconnected]) == 1
    assert evaluation.objectives[0].verdict is Verdict.MET
    [outage] = evaluation.outages
    assert outage.what == "RED/AIR_OPERATIONS"
    assert outage.end_index == reconnected
    assert outage.lasted is not None
    assert outage.lasted >= 110  # cut from T+1m to T+3m, in exercise time
    assert outage.traffic == 2  # M1, and D1 delivered late, at T+1m30s
    assert evaluation.alerts["STATION_OFFLINE"] >= 1
    # The delayed message: written at T+30s, recorded a minute (of exercise time) later.
    delayed = next(
        r for _, r in run.records if r.envelope.message_id.endswith(".D1") and r.envelope.text.text
    )
    late = (seconds(delayed.recorded_at) - seconds(delayed.envelope.sent_at)) * 60
    assert late >= 60


async def test_a_whole_hotline_is_cut_and_every_station_on_it_comes_back(
    tmp_path: Path,
) -> None:
    scenario = parse_scenario(
        SCENARIO.replace(
            'station = "RED/AIR_OPERATIONS"\nuntil = "3m"',
            'hotline = "GROUND_COMMANDERS"\nuntil = "3m"',
        ),
        name="hotline-cut.toml",
    )

    run = await run_scenario(scenario, tmp_path)

    assert run.result.problems == ()
    [evaluation] = evaluate_runs(run.records)
    [outage] = evaluation.outages
    assert outage.what == "every simulated station on GROUND_COMMANDERS"
    assert outage.end is not None
    cut_at = outage.index
    back = {
        r.station_session.station.party
        for index, r in run.records
        if index > cut_at and r.kind == log_pb2.RECORD_KIND_STATION_CONNECTED and r.hotline == 2
    }
    gone = {
        r.station_session.station.party
        for index, r in run.records
        if cut_at < index < (outage.end_index or 0)
        and r.kind == log_pb2.RECORD_KIND_STATION_DISCONNECTED
    }
    assert gone == {"BLUE", "RED"}
    assert back == {"BLUE", "RED"}
    # The air line was not touched: M1 is answered at once.
    message = next(o for o in evaluation.injects if o.inject.inject_id == "M1")
    assert message.time_lost is not None
    assert message.time_lost < 60
