"""Who answered, in the after-action report: the seat of the duty officer, from a log
recorded by the switchboard itself (:mod:`hotline.testing.drill`)."""

from __future__ import annotations

from pathlib import Path

from hotline.server.review.report import build_report
from hotline.testing.drill import AIR, A, Drill


async def test_an_answer_from_the_paged_standby_is_shown_as_the_standbys(tmp_path: Path) -> None:
    async with Drill(tmp_path) as drill:
        await drill.connect("BLUE", AIR)
        await drill.connect("RED", AIR, standby=True)
        late = await drill.text("BLUE", AIR, "Strike package over Deir Ezzor at 0600Z")
        prompt = await drill.text("BLUE", AIR, "Tanker track moves north at 0700Z")
        assert (await drill.answer("RED", AIR, prompt.message_id, A.ACK_KIND_ROGER)).code == 0
        await drill.advance(2.5)  # ACK_OVERDUE: the standby is paged
        result = await drill.answer("RED", AIR, late.message_id, A.ACK_KIND_WILCO, standby=True)
        assert result.code == 0, result.error
        records = await drill.records()
    page = build_report(enumerate(records), None, title="Drill")
    assert "WILCO from RED (standby)" in page
