"""Fixtures of the after-action report tests: one exercise recorded through a real
server once, a copy of its log per test, and the system Chromium.

Without Chromium (Debian package ``chromium``) or the ``playwright`` package, the
browser tests are skipped, except under CI (``$CI`` set), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from review.report_exercise import Recorded, record_exercise

from hotline.testing.recorded import Recordings

DEBIAN_CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def recorded(recordings: Recordings) -> Recorded:
    return recordings.of(record_exercise).sent


@pytest.fixture
def log(recordings: Recordings, tmp_path: Path) -> Path:
    """A copy of the recorded log, with the server's verifier key beside it."""
    return recordings.of(record_exercise).copy_log(tmp_path)


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
