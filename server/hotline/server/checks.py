"""The seam between the switchboard and the deconfliction checks.

The switchboard asks its :class:`Checks` about every accepted envelope before recording
it: a check may refuse the envelope (``InvalidArgument`` for geometry it cannot handle)
or return findings, which the switchboard raises as alerts on the hotline of the
finding's domain, to the parties concerned and to exercise control.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, zones_pb2


@dataclass(frozen=True)
class Finding:
    """An alert the checks want raised."""

    alert: acknowledgments_pb2.Alert
    # AIR -> AIR_OPERATIONS, GROUND -> GROUND_COMMANDERS; UNSPECIFIED: the hotline of
    # the envelope that caused it.
    domain: common_pb2.Domain.ValueType
    parties: tuple[str, ...]


class Checks(Protocol):
    def envelope(
        self,
        envelope: envelope_pb2.Envelope,
        body: str,
        zone_changes: Sequence[zones_pb2.Zone],
        now: float,
    ) -> list[Finding]:
        """Checks an envelope about to be recorded; raises to refuse it."""
        ...
