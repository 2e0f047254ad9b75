"""A retried send takes effect once however long ago the first one was: ids no longer
held in memory are looked up in the log (:mod:`hotline.testing.drill`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.server import message_ids
from hotline.testing.drill import AIR, Drill
from hotline.v1 import log_pb2


async def test_a_retry_of_a_message_sent_long_ago_is_recognised_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(message_ids, "RECENT", 50)
    async with Drill(tmp_path) as drill:
        await drill.connect("RED", AIR)
        first = await drill.text("BLUE", AIR, "Strike package over Deir Ezzor at 0600Z")
        for n in range(300):
            await drill.text("BLUE", AIR, f"position report {n}")
        await drill.restart()
        retry = drill.envelope("BLUE", AIR, message_id=first.message_id)
        retry.text.text = "Strike package over Deir Ezzor at 0600Z"
        again = await drill.submit(retry)
        assert (again.code, again.duplicate, again.sequence) == (0, True, first.sequence)
        changed = drill.envelope("BLUE", AIR, message_id=first.message_id)
        changed.text.text = "Strike package over Deir Ezzor at 0700Z"
        refused = await drill.submit(changed)
        assert refused.code == 6, refused.error  # ALREADY_EXISTS
        assert f"#{first.sequence}" in refused.error
        records = await drill.records()
    texts = [
        r
        for r in records
        if r.kind == log_pb2.RECORD_KIND_ENVELOPE and r.envelope.message_id == first.message_id
    ]
    assert len(texts) == 1
