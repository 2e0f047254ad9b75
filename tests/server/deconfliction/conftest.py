"""Fixtures of the deconfliction engine tests; builders are in ``scenario``."""

from __future__ import annotations

import pytest

from hotline.server.deconfliction import DeconflictionEngine


@pytest.fixture
def engine() -> DeconflictionEngine:
    """An engine with the default minima."""
    return DeconflictionEngine()
