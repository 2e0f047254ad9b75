"""The after-action report: one self-contained HTML page for a recorded exercise.

:func:`build_report` reads the records once (see
:class:`~hotline.server.review.review.ExerciseReview`) and returns the page: inline CSS,
an inline SVG map, no script and no external URL, so it opens offline and prints (or
renders to PNG or PDF in headless Chromium) as it shows. Every text from the log is
escaped. The page's size is bounded whatever the length of the log: tables are cut to
the most telling rows with a note of how many more there were, while every figure counts
every record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hotline.server.audit.checkpoint import Checkpoint
from hotline.server.audit.verify import VerificationReport
from hotline.server.review.markup import duration, number, text, utc
from hotline.server.review.review import ExerciseReview
from hotline.server.review.scenario_runs import scenario_section
from hotline.server.review.sections import (
    annotations_section,
    escalations_section,
    incidents_section,
    latency_section,
    summary_section,
    suspensions_section,
    time_lost_section,
    timeline_section,
    verification_section,
)
from hotline.server.review.svgmap import render_map
from hotline.server.scenario import RunCollector
from hotline.v1 import log_pb2

__all__ = ["build_report", "estimated_height"]

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 13px/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1b1b1b;
  margin: 0 auto; padding: 20px 28px 40px; max-width: 1280px; background: #fff; }
header { border-bottom: 3px solid #1b1b1b; margin-bottom: 12px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #bbb; padding-bottom: 3px; }
h3 { font-size: 14px; margin: 14px 0 6px; }
nav ul { list-style: none; padding: 0; margin: 6px 0 10px; display: flex; flex-wrap: wrap;
  gap: 4px 14px; }
a { color: #0b4f9c; text-decoration: none; }
code { font: 12px "DejaVu Sans Mono", monospace; word-break: break-all; }
table { border-collapse: collapse; width: 100%; margin: 4px 0; }
th, td { border: 1px solid #d0d0d0; padding: 2px 5px; text-align: left; vertical-align: top; }
th { background: #eceae4; font-weight: 600; }
table.timeline td:nth-child(-n+3), table.messages td:nth-child(2) { white-space: nowrap; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.facts { width: auto; } table.facts td:first-child { font-weight: 600; }
.meta { color: #444; margin: 2px 0 8px; }
.intro, .note, .more { color: #444; }
.more { font-style: italic; }
.empty { color: #2e7d32; }
.status { padding: 6px 10px; border-radius: 3px; display: inline-block; }
.status.verified { background: #e3f2e5; border: 1px solid #2e7d32; }
.status.partly-verified { background: #fff4e0; border: 1px solid #ef6c00; }
.status.failed, .status.unverified, .status.unsigned {
  background: #fde7e7; border: 1px solid #c62828; }
.tiles { display: flex; flex-wrap: wrap; gap: 8px; }
.tile { border: 1px solid #ccc; border-radius: 4px; padding: 6px 10px; min-width: 120px; }
.tile .value { display: block; font-size: 20px; font-weight: 700; }
.tile .label { color: #444; font-size: 12px; }
.map-figure { margin: 0; }
svg.map { max-width: 100%; height: auto; border: 1px solid #bbb; }
svg.map text { font: 10px "DejaVu Sans", sans-serif; }
svg.map .zone-label { fill: #333; font-weight: 600; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 2px 16px; }
ul.legend svg { vertical-align: middle; margin-right: 4px; }
svg.suspensions text { font: 11px "DejaVu Sans", sans-serif; }
svg.suspensions .line { fill: #e3efe3; }
svg.suspensions .suspended { fill: #c0392b; }
svg.incursions text { font: 10px "DejaVu Sans", sans-serif; }
svg.incursions .bar { fill: #d50000; }
tr.bad td, tr.deadline td { background: #fdecea; }
tr.late td, tr.escalation td { background: #fff4e0; }
tr.open td { background: #f3f3f3; }
tr.alert td { background: #fff8d6; }
tr.annotation td { background: #e8f0fe; }
tr.refusal td { color: #8a1c1c; }
.chain { border-left: 4px solid #ff9800; padding: 2px 10px; margin: 10px 0; }
.chain.escalated { border-color: #c62828; }
.chain.receipt-missed { border-color: #9e9e9e; }
.chain ol { margin: 4px 0; padding-left: 22px; }
.chain-head, .chain-end { margin: 2px 0; }
.badge { display: inline-block; background: #1b1b1b; color: #fff; border-radius: 3px;
  padding: 0 6px; font-size: 11px; text-transform: uppercase; }
.step.missed, .step.escalated { color: #8a1c1c; }
.step.answer { color: #1b5e20; font-weight: 600; }
.when { color: #555; font-variant-numeric: tabular-nums; }
.problems { color: #8a1c1c; }
footer { margin-top: 28px; color: #666; font-size: 11px; }
@media print {
  body { padding: 0; max-width: none; }
  section { break-inside: auto; } tr, .chain { break-inside: avoid; }
  a { color: inherit; }
}
"""

_SECTIONS = (
    ("verification", "Verification"),
    ("summary", "Summary"),
    ("map", "Map"),
    ("latency", "Latency"),
    ("time-lost", "Time lost"),
    ("escalations", "Escalations"),
    ("incidents", "Incursions and breaches"),
    ("scenarios", "Scenario runs"),
    ("annotations", "Annotations"),
    ("timeline", "Timeline"),
)


def _header(review: ExerciseReview, title: str) -> str:
    exercise = review.exercise
    name = (exercise.name or exercise.exercise_id) if exercise is not None else ""
    heading = title or (f"After-action report: {name}" if name else "After-action report")
    facts = []
    if exercise is not None:
        parties = ", ".join(f"{p.party_id} ({p.name})" if p.name else p.party_id
                            for p in exercise.parties)  # fmt: skip
        facts.append(f"Exercise {text(exercise.exercise_id)}: {text(exercise.name)}")
        if parties:
            facts.append(f"Parties: {text(parties)}")
    if review.first_at is not None and review.last_at is not None:
        facts.append(
            f"From {utc(review.first_at)} to {utc(review.last_at)} "
            f"({duration(review.last_at - review.first_at)}), {number(review.records)} records"
        )
    else:
        facts.append("The log holds no records.")
    if review.starts > 1:
        facts.append(f"The server started {review.starts} times")
    links = "".join(f'<li><a href="#{ident}">{text(label)}</a></li>' for ident, label in _SECTIONS)
    return (
        f"<header><h1>{text(heading)}</h1>"
        f'<p class="meta">{"<br>".join(facts)}</p><nav><ul>{links}</ul></nav></header>'
    )


def build_report(
    records: Iterable[tuple[int, log_pb2.LogRecord]],
    verification: VerificationReport | None,
    *,
    title: str = "",
    checkpoint: Checkpoint | None = None,
) -> str:
    """The report of a recorded exercise, as one HTML document.

    ``records`` are ``(index, record)`` in log order, read once. ``verification`` is the
    report of a log checked against the server's key, or ``None`` for one read without
    checking (``--no-verify``); ``checkpoint`` the signed checkpoint it was verified
    against (shown with its size and root hash). ``title`` replaces the default
    "After-action report: <exercise name>".
    """
    signed_size = checkpoint.size if checkpoint is not None else 0
    runs = RunCollector()
    review = ExerciseReview.of(runs.passing(records), signed_size=signed_size)
    heading = _header(review, title)
    page_title = re.sub(r"<[^>]+>", "", heading.split("</h1>", 1)[0])
    sections = [
        verification_section(verification, checkpoint, review),
        summary_section(review),
        f'<section id="map"><h2>Map of zones, tracks and alerts</h2>'
        f"{render_map(review.picture)}</section>",
        latency_section(review),
        time_lost_section(review),
        escalations_section(review),
        suspensions_section(review),
        incidents_section(review),
        scenario_section(runs.evaluations()),
        annotations_section(review),
        timeline_section(review),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{page_title}</title><style>{_CSS}</style></head><body>"
        f"{heading}{''.join(sections)}"
        "<footer>Generated by <code>hotline report</code> from the exercise's audit log. "
        "All times are UTC, as recorded by the server.</footer></body></html>\n"
    )


def estimated_height(page: str, width: int = 1280) -> int:
    """A generous estimate of the rendered page's height in CSS pixels at ``width``, for
    a screenshot that holds the whole report (a browser screenshot covers the window
    only). Counts rows, headings and the map; capped at 16,000 (Chromium's limit for
    one image is about 16,384)."""
    rows = page.count("<tr") + page.count("<li")
    chain_blocks = page.count('class="chain ')
    headings = page.count("<h2") + page.count("<h3") + page.count("<p")
    map_height = sum(int(h) for h in re.findall(r'<svg class="map"[^>]* height="(\d+)"', page))
    # Wide tables wrap more in a narrow window.
    wrap = max(1.0, 1280 / max(width, 640))
    estimate = 400 + rows * 34 * wrap + chain_blocks * 40 + headings * 40 + map_height * 1.1
    return int(min(max(estimate, 800), 16_000))
