"""Suspension windows in the after-action report, from a log recorded by the switchboard
itself (:mod:`hotline.testing.drill`)."""

from __future__ import annotations

import re
from pathlib import Path

from hotline.server.review.report import build_report
from hotline.testing.drill import AIR, GENERALS, Drill
from hotline.v1 import common_pb2, log_pb2


def row(page: str, index: int) -> list[str]:
    """The cells of the suspension table's row for the window opened by record ``index``,
    as text."""
    found = re.search(rf'<tr id="suspension-{index}">(.*?)</tr>', page)
    assert found, f"no row for the suspension at record {index}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", found.group(1))
    return [re.sub(r"<[^>]+>", "", cell) for cell in cells]


async def test_the_report_shows_each_suspension_window_and_what_it_re_routed(
    tmp_path: Path,
) -> None:
    async with Drill(tmp_path) as drill:
        await drill.connect("BLUE", AIR)
        await drill.connect("RED", AIR)
        await drill.connect("RED", GENERALS)
        await drill.text("BLUE", AIR, "Cease fire at grid 37S DV 123 456")
        await drill.text("BLUE", AIR, priority=common_pb2.PRIORITY_IMMEDIATE)
        await drill.text("BLUE", AIR, priority=common_pb2.PRIORITY_ROUTINE)
        control = drill.control_credential()
        drill.switchboard.set_suspended(control, AIR, "political reasons", True)
        await drill.advance(600)
        drill.switchboard.set_suspended(control, AIR, "", False)
        await drill.advance(60)
        drill.switchboard.set_suspended(control, GENERALS, "generals at lunch", True)
        await drill.advance(30)
        drill.switchboard.annotate(control, common_pb2.HOTLINE_UNSPECIFIED, "end of drill", "")
        await drill.switchboard.flush()
        records = await drill.records()
    suspended = [
        i for i, r in enumerate(records) if r.kind == log_pb2.RECORD_KIND_HOTLINE_SUSPENDED
    ]
    page = build_report(enumerate(records), None, title="Drill")
    assert 'id="suspensions"' in page
    hotline, _, resumed, lasted, by, reason, rerouted = row(page, suspended[0])
    assert hotline == "AIR_OPERATIONS"
    assert lasted == "10 min 00 s"
    assert (by, reason) == ("trainer", "political reasons")
    # The FLASH and the IMMEDIATE went to GENERALS; the ROUTINE message waited.
    assert rerouted == "2"
    assert "still" not in resumed
    hotline, _, resumed, lasted, _, reason, rerouted = row(page, suspended[1])
    assert hotline == "GENERALS"
    assert resumed == "still suspended when the log ended"
    assert (lasted, reason, rerouted) == ("at least 30.0 s", "generals at lunch", "0")
    # The strip chart has one bar per suspended line and one window per suspension.
    assert page.count('class="suspended" data-record=') == 2


async def test_a_report_without_suspensions_says_so(tmp_path: Path) -> None:
    async with Drill(tmp_path) as drill:
        await drill.text("BLUE", AIR)
        records = await drill.records()
    assert "No hotline was suspended." in build_report(enumerate(records), None, title="Drill")
