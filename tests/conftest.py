"""Fixtures shared by every test module; those of the throwaway servers and recorded
exercises come from :mod:`hotline.testing.fixtures`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hotline.server.exercise import default_exercise
from hotline.testing.harness import SHORT, Harness, running_server

pytest_plugins = ("hotline.testing.fixtures",)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Harness]:
    """The built-in two-party exercise with relaxed deadlines, served on loopback."""
    async with running_server(tmp_path / "data") as harness:
        yield harness


@pytest.fixture
async def short_server(tmp_path: Path) -> AsyncIterator[Harness]:
    """The two-party exercise with deadlines of a second or so (see harness.SHORT)."""
    async with running_server(tmp_path / "data", default_exercise(SHORT)) as harness:
        yield harness
