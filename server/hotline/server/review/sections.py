"""The sections of the after-action report, each rendered from an
:class:`~hotline.server.review.review.ExerciseReview` as an HTML fragment.

Figures carry their exact value in a ``data-seconds`` attribute beside the rounded text
a trainer reads, and rows an ``id`` (``latency-party-RED``, ``r123`` for record 123), so
that a figure can be traced, linked to and checked.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from hotline.server.audit.checkpoint import Checkpoint
from hotline.server.audit.verify import VerificationReport
from hotline.server.review.answers import MessageOutcome, Obligation
from hotline.server.review.escalations import EscalationChain
from hotline.server.review.incidents import IncursionHour
from hotline.server.review.latency import LatencyRow, Summary
from hotline.server.review.markup import (
    Cell,
    duration,
    hotline_name,
    more_note,
    number,
    table,
    text,
    utc,
    utc_time,
)
from hotline.server.review.review import ExerciseReview
from hotline.server.review.suspensions import Suspension
from hotline.server.review.timeline import describe_envelope
from hotline.v1 import acknowledgments_pb2, common_pb2, log_pb2

__all__ = [
    "annotations_section",
    "escalations_section",
    "incidents_section",
    "latency_section",
    "summary_section",
    "suspensions_section",
    "time_lost_section",
    "timeline_section",
    "verification_section",
]

A = acknowledgments_pb2


def _seconds_cell(seconds: float | None, stat: str = "") -> Cell:
    attributes = f'class="num" data-stat="{stat}"' if stat else 'class="num"'
    if seconds is not None:
        attributes += f' data-seconds="{seconds:.6f}"'
    return duration(seconds), attributes


def _record_link(index: int) -> str:
    return f'<a href="#r{index}">#{index}</a>'


def _section(ident: str, title: str, body: str, intro: str = "") -> str:
    lead = f'<p class="intro">{intro}</p>' if intro else ""
    return f'<section id="{ident}"><h2>{text(title)}</h2>{lead}{body}</section>'


# ---------------------------------------------------------------------- verification


def verification_section(
    verification: VerificationReport | None,
    checkpoint: Checkpoint | None,
    review: ExerciseReview,
) -> str:
    """Whether the log verified, against which signed checkpoint."""
    if verification is None:
        body = (
            '<p class="status unverified" data-verification="not-verified"><strong>Not '
            "verified.</strong> The log was read without checking it against the server's "
            "key (<code>--no-verify</code>): nothing shows that these records are the ones "
            "the server wrote.</p>"
        )
        return _section("verification", "Log verification", body)
    verdict, lead = _verdict(verification, checkpoint)
    proven = verification.verified_size
    rows: list[Sequence[Cell]] = [
        ("Records checked", number(verification.records_checked)),
        ("Checkpoints checked", number(verification.checkpoints_checked)),
        ("Records proven", f"0 to {proven - 1}" if proven else "none"),
    ]
    unsigned = verification.unsigned
    if unsigned is not None:
        first, end = unsigned
        rows.append(
            (
                "Records no checkpoint covers",
                (f"{first} to {end - 1} ({number(end - first)})", 'data-field="unsigned"'),
            )
        )
    if verification.origin:
        rows.append(("Log origin", f"<code>{text(verification.origin)}</code>"))
    if checkpoint is not None:
        rows += [
            ("Checkpoint size", (number(checkpoint.size), 'data-field="checkpoint-size"')),
            (
                "Checkpoint root hash",
                (f"<code>{checkpoint.root.hex()}</code>", 'data-field="checkpoint-root"'),
            ),
            ("Root hash (base64)", f"<code>{base64.b64encode(checkpoint.root).decode()}</code>"),
        ]
        if review.signed_at is not None:
            rows.append(
                (
                    "Checkpoint time",
                    f"{utc(review.signed_at)} (the server time of record "
                    f"{checkpoint.size - 1}, the last one it signs)",
                )
            )
    problems = "".join(
        f"<li>{text(p.severity.value)}: {text(p.kind.value)}: {text(p.message)}</li>"
        for p in verification.problems
    )
    body = (
        f'<p class="status {verdict}" data-verification="{verdict}">{lead}</p>'
        f"{table(('', ''), rows, css='facts')}"
        + (f'<ul class="problems">{problems}</ul>' if problems else "")
    )
    return _section("verification", "Log verification", body)


def _verdict(verification: VerificationReport, checkpoint: Checkpoint | None) -> tuple[str, str]:
    """The status (a CSS class and ``data-verification``) and the sentence that heads the
    section: exactly which records the signed checkpoints prove."""
    if not verification.ok:
        return "failed", (
            "<strong>Verification failed.</strong> The log does not match what was signed."
        )
    proven = verification.verified_size
    against = f"the signed checkpoint of size {number(proven)}"
    if checkpoint is not None and checkpoint.size == proven:
        against += f" (root hash <code>{checkpoint.root.hex()[:16]}\u2026</code>)"
    unsigned = verification.unsigned
    if unsigned is None:
        if not proven:
            return "verified", "<strong>Verified.</strong> The log is empty."
        return "verified", (
            f"<strong>Verified.</strong> Every record (0\u2013{proven - 1}) was checked "
            f"against {against} with the server's verifier key."
        )
    first, end = unsigned
    tail = (
        f"records {first}\u2013{end - 1} ({number(end - first)}) are covered by no signed "
        "checkpoint: nothing shows that they are the records the server wrote"
    )
    if not proven:
        return "unsigned", f"<strong>Not verified.</strong> {tail[0].upper()}{tail[1:]}."
    return "partly-verified", (
        f"<strong>Partly verified.</strong> Records 0\u2013{proven - 1} verified against "
        f"{against} with the server's verifier key; {tail}."
    )


# ---------------------------------------------------------------------- summary


def summary_section(review: ExerciseReview) -> str:
    """The figures of the whole exercise at a glance."""
    statistics = review.statistics.overall
    missed = review.answers.missed
    facts = [
        ("messages", statistics.messages, "messages that took an operator response"),
        ("answered", statistics.answered, "answered with WILCO or ROGER"),
        ("late", statistics.late, "answered after the deadline"),
        ("unanswered", statistics.unanswered, "still unanswered when the log ended"),
        (
            "deadlines-missed",
            sum(missed.values()),
            f"deadlines missed ({missed[log_pb2.DEADLINE_KIND_RECEIPT]} receipt, "
            f"{missed[log_pb2.DEADLINE_KIND_RESPONSE]} response, "
            f"{missed[log_pb2.DEADLINE_KIND_ESCALATION]} escalation)",
        ),
        ("overdue", review.answers.overdue_alerts, "ACK_OVERDUE alerts (standby paged)"),
        ("escalated", review.answers.escalated_alerts, "ESCALATED alerts"),
        ("incursions", review.incidents.incursions, "zone incursions"),
        ("breaches", review.incidents.breaches, "separation breaches"),
        (
            "predicted",
            review.incidents.counts[A.ALERT_KIND_PREDICTED_CONFLICT],
            "predicted conflicts",
        ),
        ("annotations", review.notes.count, "trainer annotations"),
    ]
    tiles = "".join(
        f'<div class="tile" data-fact="{key}"><span class="value">{number(value)}</span>'
        f'<span class="label">{text(label)}</span></div>'
        for key, value, label in facts
    )
    worst = statistics.time_lost.worst
    lost = f"Worst time lost on one message: {duration(worst)}. " if worst is not None else ""
    return _section(
        "summary",
        "Summary",
        f'<div class="tiles">{tiles}</div><p class="intro">{text(lost)}'
        f"{number(review.timeline.position_reports)} position reports are drawn on the map.</p>",
    )


# ---------------------------------------------------------------------- latency


def _summary_cells(summary: Summary, stat: str, worst_only: bool = False) -> list[Cell]:
    if worst_only:
        return [_seconds_cell(summary.worst, f"{stat}-worst")]
    return [
        _seconds_cell(summary.median, f"{stat}-median"),
        _seconds_cell(summary.p90, f"{stat}-p90"),
        _seconds_cell(summary.worst, f"{stat}-worst"),
    ]


def _latency_table(rows: Sequence[LatencyRow], kind: str, first: str) -> str:
    headers = [
        first, "messages", "answered", "late", "unanswered",
        "RECEIPT median", "p90", "worst",
        "response median", "p90", "worst",
        "time lost median", "p90", "worst",
        "worst past deadline",
    ]  # fmt: skip
    cells = [
        [
            text(row.group),
            (number(row.messages), 'class="num" data-stat="messages"'),
            (number(row.answered), 'class="num" data-stat="answered"'),
            (number(row.late), 'class="num" data-stat="late"'),
            (number(row.unanswered), 'class="num" data-stat="unanswered"'),
            *_summary_cells(row.receipt, "receipt"),
            *_summary_cells(row.response, "response"),
            *_summary_cells(row.time_lost, "time-lost"),
            *_summary_cells(row.past_deadline, "past-deadline", worst_only=True),
        ]
        for row in rows
    ]
    ids = [f"latency-{kind}-{row.group.replace(' ', '-')}" for row in rows]
    return table(headers, cells, css="figures", row_ids=ids)


def latency_section(review: ExerciseReview) -> str:
    """Acknowledgment latency and time lost per hotline and per party."""
    statistics = review.statistics
    hotlines = [*statistics.by_hotline(), statistics.overall]
    intro = (
        "Latency runs from the record of a message to each recipient's RECEIPT and to its "
        "first operator response (WILCO, UNABLE or ROGER). Time lost runs from the message "
        "to its first WILCO or ROGER; an unanswered message counts to the end of the log. "
        "Past deadline is how long after its response deadline an answer came, or the log "
        "ran on without one. Median of an even count is the mean of the two middle values; "
        "p90 is the nearest-rank 90th percentile (a value that occurred). Per hotline a "
        "message counts once; per party, each recipient counts for its own answers."
    )
    body = (
        "<h3>Per hotline</h3>"
        + _latency_table(hotlines, "hotline", "hotline")
        + "<h3>Per party (recipient)</h3>"
        + _latency_table(statistics.by_party(), "party", "party")
    )
    return _section("latency", "Acknowledgment latency and time lost", body, text(intro))


def _first_response(outcome: MessageOutcome) -> str:
    answered = [o for o in outcome.obligations.values() if o.response_at is not None]
    if not answered:
        return "none"
    first = min(answered, key=lambda o: o.response_at or 0.0)
    kind = A.AckKind.Name(first.response).removeprefix("ACK_KIND_")
    via = " via GENERALS" if first.via_generals else ""
    return f"{kind} by {first.party}{via} after {duration((first.response_at or 0) - outcome.at)}"


def _status(outcome: MessageOutcome) -> tuple[str, str]:
    """``(css class, words)`` for a message's state at the end of the log."""
    obligations: list[Obligation] = list(outcome.obligations.values())
    if any(o.response_at is None for o in obligations):
        if outcome.past_deadline() > 0:
            return "bad", "unanswered past its deadline when the log ended"
        return "open", "awaiting an answer when the log ended (deadline not reached)"
    if any(o.lateness > 0 for o in obligations):
        return "late", "answered late"
    if not outcome.answered:
        return "unable", "answered UNABLE"
    return "ok", "answered in time"


def _message_cells(outcome: MessageOutcome) -> list[Cell]:
    priority = common_pb2.Priority.Name(outcome.priority).removeprefix("PRIORITY_")  # type: ignore[arg-type]
    recipients = ", ".join(outcome.obligations)
    return [
        _record_link(outcome.index),
        utc_time(outcome.at),
        hotline_name(outcome.hotline),
        f"{text(outcome.sender)} \u2192 {text(recipients)}",
        text(priority),
        text(describe_envelope(outcome.envelope, outcome.body)),
    ]


def time_lost_section(review: ExerciseReview) -> str:
    """The messages that lost the most time, worst first."""
    worst = review.statistics.worst_messages()
    if not worst:
        body = '<p class="empty">No message took an operator response.</p>'
        return _section("time-lost", "Time lost per message", body)
    headers = [
        "record", "sent (UTC)", "hotline", "from \u2192 to", "priority", "message",
        "first response", "time lost", "past deadline", "status",
    ]  # fmt: skip
    rows: list[list[Cell]] = []
    classes = []
    for outcome in worst:
        css, words = _status(outcome)
        classes.append(css)
        rows.append(
            [
                *_message_cells(outcome),
                text(_first_response(outcome)),
                _seconds_cell(outcome.time_lost(), "time-lost"),
                _seconds_cell(outcome.past_deadline(), "past-deadline"),
                text(words),
            ]
        )
    ids = [f"message-{o.index}" for o in worst]
    hidden = review.statistics.messages - len(worst)
    body = table(headers, rows, css="messages", row_ids=ids, row_classes=classes) + more_note(
        hidden, "messages", "those that lost the least time"
    )
    return _section("time-lost", "Time lost per message", body, "Worst first.")


# ---------------------------------------------------------------------- escalations


def _chain(chain: EscalationChain) -> str:
    outcome = chain.outcome
    head = " ".join(
        [
            f"{_record_link(outcome.index)} {utc_time(outcome.at)}",
            text(hotline_name(outcome.hotline)),
            f"{text(outcome.sender)} \u2192 {text(', '.join(outcome.obligations))}:",
            text(describe_envelope(outcome.envelope, outcome.body)),
        ]
    )
    steps = "".join(
        f'<li class="step {step.kind}" data-step="{step.kind}">'
        f'<span class="when">{utc_time(step.at)} (+{duration(step.at - outcome.at)})</span> '
        f"{_record_link(step.index)} {text(hotline_name(step.hotline))}: {text(step.text)}</li>"
        for step in outcome.steps
    )
    return (
        f'<div class="chain {chain.label.replace(" ", "-")}" id="chain-{outcome.index}" '
        f'data-message="{text(outcome.message_id)}"><p class="chain-head">'
        f'<span class="badge">{text(chain.label)}</span> {head}</p>'
        f"<ol>{steps}</ol>"
        f'<p class="chain-end">Ended: {text(chain.ended)}.</p></div>'
    )


def escalations_section(review: ExerciseReview) -> str:
    """The escalation chains, most serious first in the count, shown in log order."""
    register = review.escalations
    chains = register.chains()
    if not chains:
        body = '<p class="empty">Every message was received and answered in time.</p>'
        return _section("escalations", "Escalation chains", body)
    counts = register.counts
    intro = (
        f"{number(counts[3])} escalated, {number(counts[2])} overdue without escalation, "
        f"{number(counts[1])} with a missed RECEIPT only."
    )
    body = "".join(_chain(c) for c in chains) + more_note(
        register.total - len(chains), "chains", "the least serious, latest in the log"
    )
    return _section("escalations", "Escalation chains", body, text(intro))


# ---------------------------------------------------------------------- suspensions

_STRIP_WIDTH = 760
_STRIP_LABEL = 150
_STRIP_ROW = 22


def _suspension_strip(windows: Sequence[Suspension], start: float, end: float) -> str:
    """One bar per hotline across the exercise, its suspended windows filled in."""
    span = max(end - start, 1e-9)
    lines = sorted({w.hotline for w in windows})
    scale = (_STRIP_WIDTH - _STRIP_LABEL - 10) / span
    parts: list[str] = []
    for row, line in enumerate(lines):
        y = row * _STRIP_ROW + 4
        parts.append(
            f'<text x="0" y="{y + 13}">{text(hotline_name(line))}</text>'
            f'<rect class="line" x="{_STRIP_LABEL}" y="{y}" '
            f'width="{span * scale:.1f}" height="16"/>'
        )
        for w in windows:
            if w.hotline != line:
                continue
            x = _STRIP_LABEL + (w.start - start) * scale
            width = max(((w.end if w.end is not None else end) - w.start) * scale, 2.0)
            parts.append(
                f'<rect class="suspended" data-record="{w.index}" x="{x:.1f}" y="{y}" '
                f'width="{width:.1f}" height="16"><title>{text(hotline_name(line))} '
                f"suspended {utc_time(w.start)}: {text(w.reason)}</title></rect>"
            )
    height = len(lines) * _STRIP_ROW + 20
    axis = (
        f'<text x="{_STRIP_LABEL}" y="{height - 4}">{utc_time(start)}</text>'
        f'<text x="{_STRIP_WIDTH - 10}" y="{height - 4}" text-anchor="end">'
        f"{utc_time(end)}</text>"
    )
    return (
        f'<svg class="suspensions" width="{_STRIP_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_STRIP_WIDTH} {height}" role="img" '
        f'aria-label="suspension windows">{"".join(parts)}{axis}</svg>'
    )


def suspensions_section(review: ExerciseReview) -> str:
    """When exercise control suspended a hotline, why, for how long, and what went to
    GENERALS because of it."""
    register = review.suspensions
    if not register.windows:
        body = '<p class="empty">No hotline was suspended.</p>'
        return _section("suspensions", "Suspended hotlines", body)
    end = review.last_at or 0.0
    rows: list[list[Cell]] = []
    for w in register.windows:
        until = (
            f"{utc_time(w.end)} ({_record_link(w.end_index)})"
            if w.end is not None and w.end_index is not None
            else "still suspended when the log ended"
        )
        seconds = (w.end if w.end is not None else end) - w.start
        lasted = duration(seconds) if w.end is not None else f"at least {duration(seconds)}"
        attributes = f'class="num" data-stat="suspended" data-seconds="{seconds:.6f}"'
        rows.append(
            [
                text(hotline_name(w.hotline)),
                f"{utc_time(w.start)} ({_record_link(w.index)})",
                until,
                (lasted, attributes),
                text(w.by),
                (text(w.reason), 'class="note-text"'),
                (number(w.rerouted), 'class="num"'),
            ]
        )
    headers = ["hotline", "suspended (UTC)", "resumed", "for", "by", "reason", "re-routed"]
    intro = (
        "While a hotline is suspended its deadlines are paused: nobody on it is counted "
        "late. Its pending FLASH and IMMEDIATE messages went to GENERALS at once "
        "(re-routed); the rest went on with the time they had left when it resumed."
    )
    strip = _suspension_strip(register.windows, review.first_at or 0.0, end)
    ids = [f"suspension-{w.index}" for w in register.windows]
    body = (
        strip
        + table(headers, rows, css="suspensions", row_ids=ids)
        + more_note(register.hidden, "suspensions")
    )
    return _section("suspensions", "Suspended hotlines", body, text(intro))


# ---------------------------------------------------------------------- incidents


def incidents_section(review: ExerciseReview) -> str:
    """Every zone incursion and separation breach (up to the table's size)."""
    incidents = review.incidents
    if not incidents.incidents:
        body = '<p class="empty">No zone incursion or separation breach was raised.</p>'
        return _section("incidents", "Incursions and separation breaches", body)
    headers = [
        "record", "time (UTC)", "kind", "hotline", "units", "zones", "parties",
        "distance", "location", "depth at entry", "deepest", "inside for", "summary",
    ]  # fmt: skip
    rows: list[list[Cell]] = []
    for incident in incidents.incidents:
        alert = incident.alert
        kind = "zone incursion" if incident.is_incursion else "separation breach"
        location = incident.location
        where = f"{location[0]:.4f}, {location[1]:.4f}" if location else "\u2014"
        entry: Cell = "\u2014"
        deepest: Cell = "\u2014"
        if not incident.is_incursion:
            inside = "\u2014"
        else:
            entry = _metres_cell(alert.incursion.entry_depth_m)
            deepest = _metres_cell(incident.deepest_m)
            if incident.cleared is None or incident.cleared_at is None:
                inside = "still inside when the log ended"
            else:
                cleared = _record_link(incident.cleared_index or 0)
                held = incident.cleared.incursion.duration.ToNanoseconds() / 1e9
                inside = f"{duration(held)} (cleared {cleared})"
        distance = f"{alert.distance_m:,.0f} m" if alert.distance_m else "\u2014"
        rows.append(
            [
                _record_link(incident.index),
                utc_time(incident.at),
                (text(kind), f'data-kind="{"incursion" if incident.is_incursion else "breach"}"'),
                text(hotline_name(incident.hotline)),
                text(", ".join(alert.unit_ids)),
                text(", ".join(alert.zone_ids)) or "\u2014",
                text(", ".join(alert.parties)),
                distance,
                where,
                entry,
                deepest,
                inside,
                text(alert.summary),
            ]
        )
    intro = (
        f"Zone incursions: {number(incidents.incursions)}; separation breaches: "
        f"{number(incidents.breaches)}. Depth is the distance inside the zone's nearest "
        "edge (across a line: from the line)."
    )
    body = (
        _incursion_chart(list(incidents.hours.values()))
        + table(headers, rows, css="incidents")
        + more_note(incidents.hidden, "alerts")
    )
    return _section("incidents", "Incursions and separation breaches", body, text(intro))


def _metres_cell(metres: float) -> Cell:
    return (f"{metres:,.0f} m", f'data-metres="{metres:.3f}"')


_CHART_HEIGHT = 150
_MOST_BARS = 72
#: The widest bar: a few hours of incursions are not drawn as one block across the page.
_WIDEST_BAR = 56
#: Room above the bars (the caption) and below them (the times).
_CHART_TOP = 34
_CHART_BOTTOM = 18


def _incursion_chart(hours: Sequence[IncursionHour]) -> str:
    """Incursions begun per hour (per day over more than three days): a bar each, its
    height the count; above it the count and the deepest of them, below it its time."""
    if not hours:
        return ""
    step = 3600.0
    first = min(h.start for h in hours)
    last = max(h.start for h in hours)
    if (last - first) / step + 1 > _MOST_BARS:
        step = 86_400.0
        first = first // step * step
    bars: dict[float, IncursionHour] = {}
    for hour in hours:
        start = first + (hour.start - first) // step * step
        bar = bars.setdefault(start, IncursionHour(start))
        bar.count += hour.count
        bar.deepest_m = max(bar.deepest_m, hour.deepest_m)
    count = round((max(bars) - first) / step) + 1
    width = min(max(_STRIP_WIDTH // count, 6), _WIDEST_BAR)
    base = _CHART_HEIGHT - _CHART_BOTTOM
    scale = (base - _CHART_TOP - 26) / max(b.count for b in bars.values())
    unit = "hour" if step == 3600.0 else "day"
    # Every bar's time below it when there is room, else every few.
    every = max(1, -(-44 // width))
    parts: list[str] = []
    for i in range(count):
        start = first + i * step
        x = i * width
        label = utc(start)[11:16] if unit == "hour" else utc(start)[5:10]
        if i % every == 0:
            middle = max(x + width / 2, 16.0)
            parts.append(
                f'<text class="when" x="{middle:.1f}" y="{_CHART_HEIGHT - 4}" '
                f'text-anchor="middle">{label}</text>'
            )
        shown = bars.get(start)
        if shown is None:
            continue
        height = shown.count * scale
        top = base - height
        parts.append(
            f'<rect class="bar" data-start="{start:.0f}" data-count="{shown.count}" '
            f'data-deepest-metres="{shown.deepest_m:.3f}" x="{x + 1}" '
            f'y="{top:.1f}" width="{width - 2}" height="{height:.1f}">'
            f"<title>{label} UTC: {shown.count} incursion(s), deepest "
            f"{shown.deepest_m:,.0f} m</title></rect>"
        )
        if width >= 16:
            parts.append(
                f'<text x="{x + width / 2:.1f}" y="{top - 16:.1f}" text-anchor="middle" '
                f'font-weight="bold">{shown.count}</text>'
            )
        if width >= 44:
            parts.append(
                f'<text x="{x + width / 2:.1f}" y="{top - 4:.1f}" text-anchor="middle" '
                f'font-size="10">{shown.deepest_m / 1000:.1f} km</text>'
            )
    total = max(count * width, 480)
    day = utc(first)[:10]
    caption = (
        f'<text x="0" y="14" font-weight="bold">Incursions begun per {unit} (UTC'
        f"{', from ' + day if unit == 'hour' else ''})</text>"
        f'<text x="0" y="28" font-size="11">above each bar: how many, '
        f"{'and the deepest inside the zone' if width >= 44 else '(hover for the deepest)'}"
        "</text>"
    )
    return (
        f'<svg class="incursions" width="{total}" height="{_CHART_HEIGHT}" '
        f'viewBox="0 0 {total} {_CHART_HEIGHT}" role="img" '
        f'aria-label="incursions per {unit}, with the deepest of each">'
        f"{caption}{''.join(parts)}"
        f'<line x1="0" x2="{count * width}" y1="{base}" y2="{base}" stroke="#555"/></svg>'
    )


# ---------------------------------------------------------------------- annotations


def annotations_section(review: ExerciseReview) -> str:
    """The trainers' notes and bookmarks."""
    notes = review.notes
    if not notes.notes:
        body = '<p class="empty">Exercise control left no annotation.</p>'
        return _section("annotations", "Trainer annotations", body)
    rows: list[list[Cell]] = []
    for note in notes.notes:
        about = ["at the time it was written"]
        if note.about_index is not None:
            about = [f"record {_record_link(note.about_index)}"]
        if note.about_time is not None:
            about.append(text(utc(note.about_time)))
        rows.append(
            [
                _record_link(note.index),
                utc_time(note.at),
                text(note.author),
                text(note.bookmark) or "\u2014",
                (text(note.text), 'class="note-text"'),
                ", ".join(about),
            ]
        )
    headers = ["record", "written (UTC)", "author", "bookmark", "note", "about"]
    body = table(headers, rows, css="notes") + more_note(notes.hidden, "annotations")
    return _section("annotations", "Trainer annotations", body)


# ---------------------------------------------------------------------- timeline


def timeline_section(review: ExerciseReview) -> str:
    """Messages, acknowledgments, deadlines, escalations and alerts in log order."""
    timeline = review.timeline
    start = review.first_at or 0.0
    rows = [
        [
            f"#{entry.index}",
            utc_time(entry.at),
            f"+{duration(entry.at - start)}",
            text(hotline_name(entry.hotline)),
            text(entry.category),
            text(entry.actor),
            text(entry.text),
        ]
        for entry in timeline.entries
    ]
    headers = ["record", "time (UTC)", "since start", "hotline", "what", "actor", "detail"]
    ids = [f"r{entry.index}" for entry in timeline.entries]
    classes = [entry.category for entry in timeline.entries]
    hidden = sum(timeline.hidden.values())
    detail = ", ".join(f"{number(n)} {c}" for c, n in sorted(timeline.hidden.items()))
    intro = (
        f"{number(timeline.position_reports)} position reports (on the map) and "
        f"{number(timeline.routine_receipts)} RECEIPTs of messages that take no response "
        "(in the latency figures) are not listed."
    )
    body = table(headers, rows, css="timeline", row_ids=ids, row_classes=classes) + more_note(
        hidden, "entries", detail
    )
    return _section("timeline", "Timeline", body, text(intro))
