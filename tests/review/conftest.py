"""Fixtures of the after-action report tests: one exercise recorded through a real
server for the whole module, a copy of its log per test, and the system Chromium.

Without Chromium (Debian package ``chromium``) or the ``playwright`` package, the
browser tests are skipped, except under CI (``$CI`` set), where that is a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from review.report_exercise import Recorded, record_exercise

DEBIAN_CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return asyncio.run(record_exercise(tmp_path_factory.mktemp("server")))


@pytest.fixture
def log(recorded: Recorded, tmp_path: Path) -> Path:
    """A copy of the recorded log, with the server's verifier key beside it."""
    shutil.copy(recorded.data_dir / "hotline.sqlite", tmp_path / "log.sqlite")
    shutil.copy(recorded.data_dir / "signing.pub", tmp_path / "signing.pub")
    return tmp_path / "log.sqlite"


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required under CI")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system Chromium's path."""
    found = shutil.which("chromium") or (
        DEBIAN_CHROMIUM if Path(DEBIAN_CHROMIUM).is_file() else None
    )
    if found is None:
        _missing("Chromium (Debian package chromium)")
    assert found is not None
    return found
