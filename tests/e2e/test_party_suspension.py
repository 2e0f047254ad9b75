"""A party suspends its own hotline where the exercise allows it (policy
``parties_may_suspend``): recorded as its act; only it or exercise control resumes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from hotline.client import HotlineClient, Refused
from hotline.server.exercise import default_exercise
from hotline.testing.harness import AIR, GROUND, RELAXED, running_server
from hotline.v1 import log_pb2


async def test_a_party_suspends_and_resumes_its_own_line(tmp_path: Path) -> None:
    exercise = default_exercise(replace(RELAXED, parties_may_suspend=True))
    async with running_server(tmp_path, exercise) as harness:
        red = HotlineClient(harness.address, harness.token("RED", AIR))
        blue = HotlineClient(harness.address, harness.token("BLUE", AIR))
        async with red, blue, harness.control() as control:
            await red.suspend(AIR, "political decision")
            with pytest.raises(Refused) as other_party:
                await blue.resume(AIR)
            with pytest.raises(Refused) as other_line:
                await red.suspend(GROUND, "not ours")
            await red.resume(AIR)
            await red.suspend(AIR, "again")
            await control.resume(AIR)
            records = [r async for r in _records(control)]
    assert other_party.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "suspended by RED" in other_party.value.detail
    assert other_line.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "hotline: RED/AIR_OPERATIONS may suspend or resume only its own hotline" in (
        other_line.value.detail
    )
    acts = [
        (r.kind, r.actor)
        for r in records
        if r.kind in (log_pb2.RECORD_KIND_HOTLINE_SUSPENDED, log_pb2.RECORD_KIND_HOTLINE_RESUMED)
    ]
    assert acts == [
        (log_pb2.RECORD_KIND_HOTLINE_SUSPENDED, "RED/AIR_OPERATIONS"),
        (log_pb2.RECORD_KIND_HOTLINE_RESUMED, "RED/AIR_OPERATIONS"),
        (log_pb2.RECORD_KIND_HOTLINE_SUSPENDED, "RED/AIR_OPERATIONS"),
        (log_pb2.RECORD_KIND_HOTLINE_RESUMED, "EXERCISE_CONTROL:trainer"),
    ]
    refusals = [r for r in records if r.kind == log_pb2.RECORD_KIND_REQUEST_REFUSED]
    assert len(refusals) == 2


async def test_without_the_policy_only_exercise_control_suspends(tmp_path: Path) -> None:
    async with running_server(tmp_path) as harness:
        red = HotlineClient(harness.address, harness.token("RED", AIR))
        async with red:
            with pytest.raises(Refused) as refused:
                await red.suspend(AIR, "political decision")
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "policy.parties_may_suspend" in refused.value.detail


async def _records(control: HotlineClient) -> AsyncIterator[log_pb2.LogRecord]:
    async for record in control.watch(resume_after_index=0):
        yield record
        if record.kind == log_pb2.RECORD_KIND_HOTLINE_RESUMED and record.actor.startswith(
            "EXERCISE_CONTROL"
        ):
            return
