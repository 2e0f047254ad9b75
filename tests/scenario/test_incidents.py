"""DOMAIN.md §1's incidents, scripted as scenarios and run end to end with no person:
a real server, simulated stations on their own credentials, and the evaluation read
from the log the run left."""

from __future__ import annotations

from pathlib import Path

from hotline.cli.scenario.progress import Progress
from hotline.server.review import build_report
from hotline.server.scenario import Verdict, evaluate_runs, load_scenario
from hotline.testing.scenarios import run_scenario
from hotline.v1 import acknowledgments_pb2, common_pb2, log_pb2, zones_pb2

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


async def test_deir_ezzor_2016_the_standby_answers_the_stop_request_in_time(
    tmp_path: Path,
) -> None:
    scenario = load_scenario(SCENARIOS / "deir-ezzor-2016.toml").with_time_scale(30)
    shown: list[Progress] = []

    run = await run_scenario(scenario, tmp_path, shown.append)

    [evaluation] = evaluate_runs(run.records)
    assert evaluation.run_id == run.result.run_id
    assert evaluation.time_scale == 30
    [objective] = evaluation.objectives
    assert objective.verdict is Verdict.MET, objective.reason
    [stop, _note] = evaluation.injects
    assert stop.inject.inject_id == "S1"
    # The primary was away: the server paged the standby, who answered.
    assert stop.answered_by == "BLUE/AIR_OPERATIONS standby"
    assert stop.answer == "WILCO"
    assert stop.time_lost is not None
    assert 60 <= stop.time_lost < 180
    assert "ACK_OVERDUE" in [alert.kind for alert in stop.alerts]
    # The log holds the page and the standby's answer, in that order.
    kinds = [
        (
            r.envelope.WhichOneof("body") or "",
            int(r.envelope.alert.kind),
            int(r.envelope.acknowledgment.operator),
        )
        for _, r in run.records
        if r.kind == log_pb2.RECORD_KIND_ENVELOPE
        and r.envelope.WhichOneof("body") in ("alert", "acknowledgment")
        and (r.envelope.alert.kind or r.envelope.acknowledgment.kind
             != acknowledgments_pb2.ACK_KIND_RECEIPT)
    ]  # fmt: skip
    page = kinds.index(("alert", acknowledgments_pb2.ALERT_KIND_ACK_OVERDUE, 0))
    answer = kinds.index(("acknowledgment", 0, common_pb2.OPERATOR_STANDBY))
    assert page < answer
    # The live view showed the objective met and the page to the standby.
    assert shown[-1].met == 1
    assert shown[-1].objectives[0].startswith("[MET] O1")
    assert any("ACK_OVERDUE" in alert for alert in shown[-1].alerts)
    # The after-action report judges the run from the log alone.
    section = _section(build_report(run.records, None), "scenarios")
    assert 'data-verdict="MET"' in section
    assert "WILCO from BLUE/AIR_OPERATIONS standby" in section
    assert "ACK_OVERDUE" in section


def _section(page: str, ident: str) -> str:
    start = page.index(f'<section id="{ident}">')
    return page[start : page.index("</section>", start)]


async def test_deir_ezzor_2017_a_notice_off_by_9_km_falls_on_partnered_forces(
    tmp_path: Path,
) -> None:
    scenario = load_scenario(SCENARIOS / "deir-ezzor-2017.toml").with_time_scale(30)

    run = await run_scenario(scenario, tmp_path)

    [evaluation] = evaluate_runs(run.records)
    verdicts = {r.objective.objective_id: r for r in evaluation.objectives}
    conflict = verdicts["O1"]
    assert conflict.verdict is Verdict.NOT_MET
    assert conflict.evidence
    assert "PARTNER 1" in conflict.evidence[0].what
    answered = verdicts["O2"]
    assert answered.verdict is Verdict.MET, answered.reason
    assert answered.reason.startswith("UNABLE from BLUE/AIR_OPERATIONS primary")
    notice = next(o for o in evaluation.injects if o.inject.inject_id == "A1")
    assert "NOTICE_CONFLICT" in [alert.kind for alert in notice.alerts]


async def test_2017_a_party_suspends_the_air_line_and_its_traffic_goes_to_generals(
    tmp_path: Path,
) -> None:
    scenario = load_scenario(SCENARIOS / "line-suspension-2017.toml").with_time_scale(60)

    run = await run_scenario(scenario, tmp_path)

    [evaluation] = evaluate_runs(run.records)
    verdicts = {r.objective.objective_id: r for r in evaluation.objectives}
    assert verdicts["O1"].verdict is Verdict.MET, verdicts["O1"].reason
    assert verdicts["O1"].reason.startswith("ROGER from RED/GENERALS")
    assert verdicts["O2"].verdict is Verdict.MET, verdicts["O2"].reason
    # The suspension and the resumption are RED's own acts.
    actors = [
        (r.kind, r.actor)
        for _, r in run.records
        if r.kind in (log_pb2.RECORD_KIND_HOTLINE_SUSPENDED, log_pb2.RECORD_KIND_HOTLINE_RESUMED)
    ]
    assert actors == [
        (log_pb2.RECORD_KIND_HOTLINE_SUSPENDED, "RED/AIR_OPERATIONS"),
        (log_pb2.RECORD_KIND_HOTLINE_RESUMED, "RED/AIR_OPERATIONS"),
    ]
    section = _section(build_report(run.records, None), "suspensions")
    assert "RED/AIR_OPERATIONS" in section


async def test_2020_patrols_inside_the_agreed_area_are_counted_and_timed(
    tmp_path: Path,
) -> None:
    scenario = load_scenario(SCENARIOS / "incursions-2020.toml").with_time_scale(60)

    run = await run_scenario(scenario, tmp_path)

    assert run.result.problems == ()
    [evaluation] = evaluate_runs(run.records)
    # The agreed area was proposed by BLUE and accepted by RED at the start.
    states = [
        r.envelope.zone_status.zone.state
        for _, r in run.records
        if r.envelope.WhichOneof("body") == "zone_status"
    ]
    assert states[:2] == [zones_pb2.ZONE_STATE_PROPOSED, zones_pb2.ZONE_STATE_ACCEPTED]
    incursions = {i.unit_id: i for i in evaluation.incursions}
    assert sorted(incursions) == ["RED-PATROL-1", "RED-PATROL-2", "RED-PATROL-3"]
    assert {i.zone_id for i in evaluation.incursions} == {"BLUE-AO-CONOCO"}
    first, second = incursions["RED-PATROL-1"], incursions["RED-PATROL-2"]
    assert first.lasted is not None
    assert first.lasted < 10 * 60
    assert second.lasted is not None
    assert second.lasted > 10 * 60
    verdicts = {r.objective.objective_id: r for r in evaluation.objectives}
    cleared = verdicts["O1"]
    assert cleared.verdict is Verdict.NOT_MET
    assert cleared.reason == "2 of 3 incursion(s) cleared within 10 min 00 s"
    assert [e.what.split(":")[0] for e in cleared.evidence] == ["RED-PATROL-2 into BLUE-AO-CONOCO"]
    assert verdicts["O2"].verdict is Verdict.MET
    section = _section(build_report(run.records, None), "scenarios")
    assert "Incursions: <strong>3</strong>" in section


async def test_khasham_2018_the_line_is_used_throughout_and_the_force_is_disowned(
    tmp_path: Path,
) -> None:
    scenario = load_scenario(SCENARIOS / "khasham-2018.toml").with_time_scale(60)

    run = await run_scenario(scenario, tmp_path)

    [evaluation] = evaluate_runs(run.records)
    assert [r.verdict for r in evaluation.objectives] == [Verdict.MET] * 4
    answers = {o.inject.inject_id: o for o in evaluation.injects if o.answered_by}
    assert answers["T1"].answer == "ROGER"
    assert answers["I1"].answer == "UNABLE"
    assert answers["S1"].answer == "UNABLE"
    # The disowning is on the record, in RED's own words.
    reasons = {
        r.envelope.acknowledgment.reason
        for _, r in run.records
        if r.envelope.WhichOneof("body") == "acknowledgment"
        and r.envelope.acknowledgment.kind == acknowledgments_pb2.ACK_KIND_UNABLE
    }
    assert "not our forces" in reasons
