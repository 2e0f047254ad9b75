"""The contract: generated code matches the .proto files; health and reflection are served."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from hotline.testing.harness import Harness

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "proto" / "hotline" / "v1"


def test_generated_code_matches_the_proto_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "proto" / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    fresh = tmp_path / "hotline" / "v1"
    generated = sorted(p.name for p in fresh.iterdir())
    committed = sorted(p.name for p in GENERATED.iterdir() if p.name.endswith((".py", ".pyi")))
    assert generated == sorted(n for n in committed if n != "__init__.py"), (
        "generated modules differ: run python proto/generate.py"
    )
    _, mismatch, errors = filecmp.cmpfiles(fresh, GENERATED, generated, shallow=False)
    assert mismatch == [], f"stale generated code, run python proto/generate.py: {mismatch}"
    assert errors == []


async def test_health_and_reflection_are_served(server: Harness) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        # The stubs are typed for the synchronous channel; the calls are the same.
        health: Any = health_pb2_grpc.HealthStub(channel)
        for service in ("", "hotline.v1.StationService"):
            response = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert response.status == health_pb2.HealthCheckResponse.SERVING

        reflection: Any = reflection_pb2_grpc.ServerReflectionStub(channel)  # type: ignore[arg-type]
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        call = reflection.ServerReflectionInfo(iter([request]))
        names = set()
        async for response in call:
            names |= {s.name for s in response.list_services_response.service}
        assert {
            "hotline.v1.StationService",
            "hotline.v1.ExerciseService",
            "hotline.v1.ZoneService",
            "grpc.health.v1.Health",
        } <= names
