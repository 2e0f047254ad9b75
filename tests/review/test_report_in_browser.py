"""``hotline report`` on a log written by the real server, opened in headless Chromium:
what a trainer sees.

The figures are checked against values computed here, straight from the records, with
none of the report's code: latency from each message's record to the answers to it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from geographiclib.geodesic import Geodesic  # type: ignore[import-untyped]  # no stubs
from review.report_exercise import BOOKMARK, LATE_NOTE, LIVE_NOTE, ROZ, Recorded, record_exercise

from hotline.cli import main
from hotline.cli.report import CHROMIUM_FLAGS
from hotline.server.audit.checkpoint import parse_checkpoint
from hotline.server.audit.note import parse_note
from hotline.server.storage import open_backend
from hotline.testing.recorded import Recordings
from hotline.v1 import acknowledgments_pb2, log_pb2

A = acknowledgments_pb2
RESPONSES = (A.ACK_KIND_WILCO, A.ACK_KIND_UNABLE, A.ACK_KIND_ROGER)

playwright_sync = pytest.importorskip("playwright.sync_api")
G = Geodesic.WGS84


def seconds(stamp: object) -> float:
    return stamp.seconds + stamp.nanos / 1e9  # type: ignore[attr-defined, no-any-return]


@dataclass
class Expected:
    """What the records say, computed without the report's code."""

    records: list[log_pb2.LogRecord]
    index: dict[str, int] = field(default_factory=dict)
    sent_at: dict[str, float] = field(default_factory=dict)
    response_at: dict[str, float] = field(default_factory=dict)
    compliance_at: dict[str, float] = field(default_factory=dict)
    lateness: dict[str, float] = field(default_factory=dict)


def expected_from(log: Path) -> Expected:
    backend = open_backend(str(log), create=False)
    try:
        records = [log_pb2.LogRecord.FromString(s.data) for s in backend.read()]
    finally:
        backend.close()
    expected = Expected(records)
    for record in records:
        if record.WhichOneof("payload") != "envelope":
            continue
        envelope = record.envelope
        body = envelope.WhichOneof("body")
        if (
            body in ("text", "zone_proposal")
            and envelope.sender.party
            and not envelope.escalation_of
        ):
            expected.index[envelope.message_id] = record.index
            expected.sent_at[envelope.message_id] = seconds(record.recorded_at)
        if body == "acknowledgment" and envelope.acknowledgment.kind in RESPONSES:
            ack = envelope.acknowledgment
            at = seconds(record.recorded_at)
            expected.response_at.setdefault(ack.message_id, at)
            if ack.kind != A.ACK_KIND_UNABLE:
                expected.compliance_at.setdefault(ack.message_id, at)
            if ack.HasField("lateness"):
                expected.lateness.setdefault(ack.message_id, seconds(ack.lateness))
    return expected


@pytest.fixture(scope="module")
def report(recordings: Recordings, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The report of a copy of the recorded log, and the copy."""
    directory = tmp_path_factory.mktemp("report")
    log = recordings.of(record_exercise).copy_log(directory)
    output = directory / "report.html"
    key = directory / "signing.pub"
    with pytest.raises(SystemExit) as exited:
        main(["report", str(log), "--key", str(key), "-o", str(output)])
    assert exited.value.code == 0
    return output, log


@dataclass
class Opened:
    page: object
    console: list[str]
    errors: list[str]
    requests: list[str]

    def attribute(self, selector: str, name: str) -> str:
        value = self.page.get_attribute(selector, name)  # type: ignore[attr-defined]
        assert value is not None, f"{selector} has no {name}"
        return str(value)

    def seconds(self, selector: str) -> float:
        return float(self.attribute(selector, "data-seconds"))

    def text(self, selector: str) -> str:
        return str(self.page.inner_text(selector))  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def opened(report: tuple[Path, Path], chromium: str) -> Iterator[Opened]:
    """The report loaded in headless Chromium, with everything the page logged or asked
    for."""
    with playwright_sync.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=list(CHROMIUM_FLAGS))
        try:
            page = browser.new_page()
            seen = Opened(page, [], [], [])
            page.on("console", lambda m: seen.console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: seen.errors.append(str(e)))
            page.on("request", lambda r: seen.requests.append(r.url))
            page.goto(report[0].as_uri(), wait_until="load")
            yield seen
        finally:
            browser.close()


def test_the_page_renders_offline_without_errors(opened: Opened, report: tuple[Path, Path]) -> None:
    assert opened.errors == []
    assert opened.console == []
    # The only thing loaded is the report itself: no fonts, tiles, scripts or images.
    assert opened.requests == [report[0].as_uri()]
    headings = opened.page.locator("h2").all_inner_texts()  # type: ignore[attr-defined]
    assert headings == [
        "Log verification",
        "Summary",
        "Map of zones, tracks and alerts",
        "Acknowledgment latency and time lost",
        "Time lost per message",
        "Escalation chains",
        "Suspended hotlines",
        "Incursions and separation breaches",
        "Scenario runs",
        "Trainer annotations",
        "Timeline",
    ]


def test_the_log_is_shown_verified_against_its_last_checkpoint(
    opened: Opened, report: tuple[Path, Path]
) -> None:
    backend = open_backend(str(report[1]), create=False)
    try:
        latest = backend.latest_checkpoint()
        size = backend.size()
    finally:
        backend.close()
    assert latest is not None
    checkpoint = parse_checkpoint(parse_note(latest.note).text)
    # The server signs the whole log when it stops.
    assert checkpoint.size == size
    assert opened.attribute("[data-verification]", "data-verification") == "verified"
    assert opened.text("[data-field=checkpoint-root]") == checkpoint.root.hex()
    assert opened.text("[data-field=checkpoint-size]") == f"{size:,}"
    assert f"record {size - 1}" in opened.text("#verification")


def test_latency_per_hotline_and_party_matches_the_records(
    opened: Opened, report: tuple[Path, Path], recorded: Recorded
) -> None:
    expected = expected_from(report[1])
    station_messages = [
        *recorded.answered,
        recorded.zone_proposal,
        recorded.late,
        recorded.escalated,
    ]
    assert set(expected.index) == {*station_messages, recorded.last}
    latencies = [expected.response_at[m] - expected.sent_at[m] for m in station_messages]
    lost = [expected.compliance_at[m] - expected.sent_at[m] for m in station_messages]
    # Every message went from BLUE to RED on AIR_OPERATIONS.
    for row in ("#latency-hotline-AIR_OPERATIONS", "#latency-party-RED"):
        assert opened.seconds(f"{row} [data-stat=response-median]") == pytest.approx(
            statistics.median(latencies), abs=1e-5
        )
        assert opened.seconds(f"{row} [data-stat=response-worst]") == pytest.approx(
            max(latencies), abs=1e-5
        )
        assert opened.seconds(f"{row} [data-stat=time-lost-worst]") >= max(lost) - 1e-5
        assert opened.text(f"{row} [data-stat=late]") == "2"
    air = "#latency-hotline-AIR_OPERATIONS"
    # Six messages took a response; the last was still awaiting it when the log ended.
    assert opened.text(f"{air} [data-stat=messages]") == "6"
    assert opened.text(f"{air} [data-stat=answered]") == "5"
    assert opened.text(f"{air} [data-stat=unanswered]") == "1"
    assert opened.text("[data-fact=escalated] .value") == "1"
    # The escalated message lost the most time: it leads the table, with its lateness.
    first_row = opened.page.locator("table.messages tbody tr").first  # type: ignore[attr-defined]
    escalated_row = f"#message-{expected.index[recorded.escalated]}"
    assert first_row.get_attribute("id") == escalated_row.removeprefix("#")
    assert opened.seconds(f"{escalated_row} [data-stat=time-lost]") == pytest.approx(
        expected.compliance_at[recorded.escalated] - expected.sent_at[recorded.escalated], abs=1e-5
    )
    late_row = f"#message-{expected.index[recorded.late]}"
    assert opened.seconds(f"{late_row} [data-stat=past-deadline]") == pytest.approx(
        expected.lateness[recorded.late], abs=1e-5
    )
    assert "answered late" in opened.text(late_row)
    assert "awaiting an answer" in opened.text(f"#message-{expected.index[recorded.last]}")


def test_the_escalation_chain_is_told_step_by_step(
    opened: Opened, report: tuple[Path, Path], recorded: Recorded
) -> None:
    index = expected_from(report[1]).index[recorded.escalated]
    chain = f"#chain-{index}"
    assert "escalated" in opened.attribute(chain, "class")
    steps = opened.page.locator(f"{chain} li").all_inner_texts()  # type: ignore[attr-defined]
    joined = "\n".join(steps)
    order = [
        "RECEIPT from RED",
        "response deadline missed by RED",
        "ACK_OVERDUE for RED: standby paged",
        "escalation deadline missed by RED",
        "re-sent on GENERALS to RED",
        "WILCO from RED (primary) on GENERALS",
        "WILCO from RED (primary) (relayed from GENERALS)",
    ]
    positions = [next(i for i, s in enumerate(steps) if phrase in s) for phrase in order]
    assert positions == sorted(positions), joined
    assert "ESCALATED" in joined
    assert "answered by RED" in opened.text(f"{chain} .chain-end")
    # The late answer's chain stopped at ACK_OVERDUE.
    late = f"#chain-{expected_from(report[1]).index[recorded.late]}"
    assert "overdue" in opened.attribute(late, "class").split()
    assert "ROGER from RED" in opened.text(late)


def test_the_incursion_and_the_breach_are_in_the_table(opened: Opened) -> None:
    rows = opened.page.locator("table.incidents tbody tr").all_inner_texts()  # type: ignore[attr-defined]
    incursions = [r for r in rows if "zone incursion" in r]
    breaches = [r for r in rows if "separation breach" in r]
    assert len(incursions) == 1
    assert "FENCER-11" in incursions[0]
    assert ROZ in incursions[0]
    assert "35.3000, 40.2200" in incursions[0]
    assert "cleared" in incursions[0]
    assert len(breaches) == 1
    assert "FENCER-41" in breaches[0]
    assert "VIPER-31" in breaches[0]
    assert opened.text("[data-fact=incursions] .value") == "1"
    assert opened.text("[data-fact=breaches] .value") == "1"


def test_the_incursion_is_measured_by_depth_and_charted_by_hour(opened: Opened) -> None:
    page = opened.page
    # FENCER-11 entered at 40.22 E, 2 km inside the ROZ's western edge (the meridian of
    # 40.20 E), and went 9 km deep at 40.30 E (its nearest edge still the western one).
    cells = page.locator("table.incidents td[data-metres]").all()  # type: ignore[attr-defined]
    entry, deepest = (float(c.get_attribute("data-metres")) for c in cells)
    assert entry == pytest.approx(G.Inverse(35.30, 40.22, 35.30, 40.20)["s12"], abs=1.0)
    assert deepest == pytest.approx(G.Inverse(35.30, 40.30, 35.30, 40.20)["s12"], abs=1.0)
    row = page.locator("table.incidents tbody tr", has_text="zone incursion").inner_text()  # type: ignore[attr-defined]
    assert f"{entry:,.0f} m" in row
    assert f"{deepest:,.0f} m" in row
    # One incursion began in one hour: one bar, the deepest above it.
    bars = page.locator("svg.incursions rect.bar").all()  # type: ignore[attr-defined]
    assert [b.get_attribute("data-count") for b in bars] == ["1"]
    assert float(bars[0].get_attribute("data-deepest-metres")) == pytest.approx(deepest)


def test_the_map_draws_the_zone_the_tracks_and_the_alerts(opened: Opened) -> None:
    page = opened.page
    svg = "svg.map"
    assert page.locator(f"{svg} .zones polygon").count() == 1  # type: ignore[attr-defined]
    tracks = page.locator(f"{svg} .track polyline title").all_text_contents()  # type: ignore[attr-defined]
    assert sorted(t.split()[0] for t in tracks) == [
        "BLUE/VIPER-31",
        "RED/FENCER-11",
        "RED/FENCER-41",
    ]
    markers = page.locator(f"{svg} .alerts title").all_text_contents()  # type: ignore[attr-defined]
    assert any("zone incursion" in m and "FENCER-11" in m for m in markers)
    assert any("separation breach" in m for m in markers)
    legend = opened.text("ul.legend")
    assert "BLUE tracks and zones" in legend
    assert "zone incursion" in legend


def test_trainer_annotations_are_listed_with_what_they_are_about(
    opened: Opened, report: tuple[Path, Path], recorded: Recorded
) -> None:
    rows = opened.page.locator("table.notes tbody tr").all_inner_texts()  # type: ignore[attr-defined]
    assert len(rows) == 2
    assert LIVE_NOTE in rows[0]
    assert "at the time it was written" in rows[0]
    assert LATE_NOTE in rows[1]
    assert BOOKMARK in rows[1]
    assert f"record #{expected_from(report[1]).index[recorded.escalated]}" in rows[1]
    assert LIVE_NOTE in opened.text("table.timeline")


def test_the_timeline_lists_messages_answers_deadlines_and_alerts(opened: Opened) -> None:
    timeline = opened.text("table.timeline")
    for seen in (
        "Strike at grid 37S DV 1",
        "WILCO for",
        "RESPONSE deadline of",
        "ESCALATION deadline of",
        "ACK_OVERDUE",
        "ESCALATED",
        "ZONE_INCURSION",
        "SEPARATION_BREACH",
        f"zone {ROZ} v1 ACCEPTED",
    ):
        assert seen in timeline, seen
    assert "position reports (on the map)" in opened.text("#timeline .intro")
