"""The report's section on scenario runs: per run, the expected player actions met or
not with the records and exercise times that decided them, and each inject with what
followed it (who answered, after how long, the alerts it caused)."""

from __future__ import annotations

from collections.abc import Sequence

from hotline.server.review.markup import Cell, table, text
from hotline.server.scenario import RunEvaluation, Verdict

__all__ = ["scenario_section"]

#: Rows of one run's inject table at the most.
MAX_INJECT_ROWS = 200


def scenario_section(evaluations: Sequence[RunEvaluation]) -> str:
    """One ``<section>`` for every scenario run of the log (a note when there is none)."""
    if not evaluations:
        body = '<p class="note">No scenario was run in this exercise.</p>'
    else:
        body = "".join(_run(e) for e in evaluations)
    intro = (
        "Times are exercise time after the run's start (T+), the wall time of the log "
        "multiplied by the run's time scale."
        if evaluations
        else ""
    )
    lead = f'<p class="intro">{intro}</p>' if intro else ""
    return f'<section id="scenarios"><h2>Scenario runs</h2>{lead}{body}</section>'


def _run(evaluation: RunEvaluation) -> str:
    scenario = evaluation.scenario
    ended = (
        f"to record {_link(evaluation.end_index)}"
        if evaluation.end_index is not None
        else "the log ends before the run did"
    )
    facts = (
        f"Run <code>{text(evaluation.run_id)}</code>, time scale "
        f"{evaluation.time_scale:g}, from record {_link(evaluation.start_index)} {ended}. "
        f"Objectives met: <strong>{evaluation.met} of {len(evaluation.objectives)}</strong>."
    )
    problems = "".join(f'<p class="problems">{text(p)}</p>' for p in evaluation.problems)
    objectives: list[list[Cell]] = []
    classes: list[str] = []
    for result in evaluation.objectives:
        objective = result.objective
        evidence = "<br>".join(
            f"{_link(e.index)} T+{_clock(e.at)}: {text(e.what)}" for e in result.evidence
        )
        objectives.append(
            [
                text(objective.objective_id),
                text(objective.description or objective.kind.value),
                (text(result.verdict.value), f'data-verdict="{result.verdict.name}"'),
                text(result.reason),
                evidence,
            ]
        )
        classes.append("" if result.verdict is Verdict.MET else "bad")
    injects: list[list[Cell]] = []
    for outcome in evaluation.injects[:MAX_INJECT_ROWS]:
        inject = outcome.inject
        followed = ""
        if outcome.answered_by:
            followed = (
                f"{text(outcome.answer)} from {text(outcome.answered_by)} after "
                f"{_clock(outcome.time_lost or 0.0)}"
            )
        elif inject.envelope is not None and outcome.index is not None:
            followed = "never answered"
        alerts = "<br>".join(
            f"{text(a.kind)} {_link(a.index)} T+{_clock(a.at)}" for a in outcome.alerts
        )
        injects.append(
            [
                text(inject.inject_id),
                f"T+{_clock(inject.at)}",
                _link(outcome.index) if outcome.index is not None else "not in the log",
                text(inject.description or inject.kind.value),
                followed,
                alerts,
            ]
        )
    incursions: list[list[Cell]] = [
        [
            text(i.party),
            text(i.unit_id),
            text(i.zone_id),
            f"{_link(i.index)} T+{_clock(i.start)}",
            (
                f"{_link(i.end_index)} T+{_clock(i.end)}"
                if i.end is not None
                else "still inside when the run ended"
            ),
            (_clock(i.lasted) if i.lasted is not None else "", 'class="num"'),
        ]
        for i in evaluation.incursions
    ]
    incursion_table = (
        f"<p>Incursions: <strong>{len(incursions)}</strong></p>"
        + table(
            ["party", "unit", "zone", "alert", "cleared", "lasted"],
            incursions,
            css="incursions",
        )
        if incursions
        else ""
    )
    outages: list[list[Cell]] = [
        [
            text(o.inject_id),
            text(o.what),
            f"{_link(o.index)} T+{_clock(o.start)}",
            (
                f"{_link(o.end_index)} T+{_clock(o.end)}"
                if o.end is not None
                else "not back when the run ended"
            ),
            (_clock(o.lasted) if o.lasted is not None else "", 'class="num"'),
            (str(o.traffic), 'class="num"'),
        ]
        for o in evaluation.outages
    ]
    outage_table = (
        table(
            ["line cut", "station", "cut", "back", "lasted", "messages meanwhile"],
            outages,
            css="outages",
        )
        if outages
        else ""
    )
    alerts = ", ".join(f"{text(kind)} {count}" for kind, count in evaluation.alerts.items())
    alert_line = f"<p>Alerts during the run: {alerts}.</p>" if alerts else ""
    return (
        f"<h3>{text(scenario.name)}</h3><p>{facts}</p>{problems}{alert_line}"
        + table(
            ["objective", "expected player action", "verdict", "why", "evidence"],
            objectives,
            css="objectives",
            row_classes=classes,
        )
        + table(
            ["inject", "planned", "record", "what", "what followed", "alerts"],
            injects,
            css="injects",
        )
        + incursion_table
        + outage_table
    )


def _link(index: int | None) -> str:
    return f'<a href="#r{index}">#{index}</a>' if index is not None else ""


def _clock(at: float) -> str:
    minutes, secs = divmod(round(at), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
