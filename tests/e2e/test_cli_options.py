"""The command line's options as a user meets them: values in any case and in their short
forms, listed in ``--help``; what does not apply refused, not ignored; and a credential
issued where no server keeps its key."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from hotline.testing.commands import run_hotline
from hotline.testing.harness import AIR, GROUND, Harness
from hotline.v1 import zones_pb2

HOTLINE = [sys.executable, "-m", "hotline.cli"]


async def hotline(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """``hotline ARGS`` in a child process: exit status, output, errors."""
    process = await asyncio.create_subprocess_exec(
        *HOTLINE, *args, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode().strip(), err.decode().strip()


async def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await run_hotline(capsys, "--version")
    assert code == 0
    assert out.strip() == "hotline 0.1.0"


async def test_a_party_in_any_case(server: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(server.data_dir)
    code, out, err = await run_hotline(
        capsys, "token", "--data-dir", data, "--party", "blue", "--hotline", "air_operations"
    )
    assert code == 0, err
    claims = jwt.decode(out.strip(), options={"verify_signature": False})
    assert (claims["party"], claims["hotline"]) == ("BLUE", "AIR_OPERATIONS")


def test_a_token_where_no_server_keeps_its_key_is_refused(tmp_path: Path) -> None:
    refused = subprocess.run(
        [*HOTLINE, "token", "--party", "BLUE", "--hotline", "AIR_OPERATIONS"],
        cwd=tmp_path, check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr.strip() == (
        "hotline token: no token key at hotline-data/token.key: hotline-data is not the data "
        "directory of a server that has run; give the server's with --data-dir, or "
        "--new-key to create one there for a server yet to start"
    )
    assert list(tmp_path.iterdir()) == []


async def test_a_credential_signed_with_another_key_is_explained(
    server: Harness, tmp_path: Path
) -> None:
    code, token, err = await hotline(
        "token", "--new-key", "--data-dir", str(tmp_path / "elsewhere"), "--role", "control"
    )
    assert code == 0, err
    assert (tmp_path / "elsewhere" / "token.key").exists()
    code, _, err = await hotline("status", "--address", server.address, "--token", token)
    assert code == 1
    assert err == (
        "hotline: UNAUTHENTICATED: the credential was not signed with this server's key "
        "(token.key in its data directory): issue it with 'hotline token --data-dir DIR' "
        "where DIR is the server's data directory"
    )


async def test_zone_kinds_by_their_short_forms(server: Harness) -> None:
    token = server.token("BLUE", GROUND)
    at = ("--address", server.address, "--token", token, "--circle", "35.29,40.26,5000")
    for zone_id, kind in (("Z-ROZ", "roz"), ("Z-NFA", "NFA"), ("Z-AO", "area-of-operations")):
        code, out, err = await hotline("send", "zone-propose", *at, "--zone-id", zone_id,
                                       "--kind", kind)  # fmt: skip
        assert code == 0, err
        assert out.startswith("recorded on GROUND_COMMANDERS as #")
    async with server.control() as control:
        kinds = [(await control.zone(z)).zone.kind for z in ("Z-ROZ", "Z-NFA", "Z-AO")]
    assert kinds == [
        zones_pb2.ZONE_KIND_RESTRICTED_OPERATIONS_ZONE,
        zones_pb2.ZONE_KIND_NO_FIRE_AREA,
        zones_pb2.ZONE_KIND_AREA_OF_OPERATIONS,
    ]
    code, _, err = await hotline("send", "zone-propose", *at, "--zone-id", "Z-X", "--kind", "ZOR")
    assert code == 2
    assert (
        "argument --kind: 'ZOR': choose one of ROZ (RESTRICTED_OPERATIONS_ZONE), "
        "NFA (NO_FIRE_AREA), RFA (RESTRICTED_FIRE_AREA), KILL_BOX, "
        "SCA (SPECIAL_CAUTION_AREA), AO (AREA_OF_OPERATIONS), DECONFLICTION_LINE"
    ) in err


async def test_help_lists_values_and_units(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = await run_hotline(capsys, "send", "zone-propose", "--help")
    flat = " ".join(out.split())
    assert "ROZ (restricted operations zone), NFA (no-fire area)" in flat
    assert "--floor FLOOR lowest altitude, metres MSL" in flat
    assert "--ceiling CEILING highest altitude, metres MSL" in flat
    _, out, _ = await run_hotline(capsys, "send", "position", "--help")
    flat = " ".join(out.split())
    assert "--unit UNIT the unit's id" in flat
    assert "--lat LAT latitude, WGS-84 degrees" in flat


async def test_options_a_decision_does_not_take_are_refused(server: Harness) -> None:
    token = server.token("RED", AIR)
    code, out, err = await hotline(
        "send", "zone-decide", "accept", "--address", server.address, "--token", token,
        "--zone-id", "ROZ-1", "--version", "1", "--circle", "35.29,40.26,5000",
    )  # fmt: skip
    assert (code, out) == (1, "")
    assert err == (
        "hotline: --circle: only a counter proposal has a zone; "
        "'accept' takes --zone-id, --version and --reason"
    )
    code, out, err = await hotline(
        "send", "zone-decide", "accept", "--address", server.address, "--token", token,
        "--zone-id", "ROZ-1", "--version", "1", "--reason", "fine",
    )  # fmt: skip
    assert (code, err) == (1, "hotline: --reason: an acceptance gives none")


async def test_an_answers_reason_only_with_unable(server: Harness) -> None:
    token = server.token("RED", AIR)
    at = ("--address", server.address, "--token", token)
    code, out, err = await hotline("send", "ack", "0123abcd", "wilco", *at, "--reason", "why")
    assert (code, out, err) == (1, "", "hotline: --reason: only UNABLE gives one, not wilco")
    code, out, err = await hotline("send", "ack", "0123abcd", "unable", *at)
    assert (code, out, err) == (1, "", "hotline: unable: give the reason with --reason")
