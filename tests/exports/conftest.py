"""The exercise every export test reads: recorded once, copied for each test."""

from __future__ import annotations

from pathlib import Path

import pytest
from exports.recording import Recording, record_exercise

from hotline.testing.recorded import Recordings


@pytest.fixture
def recording(recordings: Recordings) -> Recording:
    return recordings.of(record_exercise).sent


@pytest.fixture
def log(recordings: Recordings, tmp_path: Path) -> Path:
    """A copy of the recorded log, with the server's verifier key beside it."""
    return recordings.of(record_exercise).copy_log(tmp_path)
