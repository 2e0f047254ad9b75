"""The seam between the switchboard and the deconfliction engine.

The switchboard asks :meth:`Checks.validate` about an envelope before recording it (the
engine refuses geometry it cannot handle with ``InvalidArgument``), and hands every
recorded envelope to :meth:`Checks.observe` — live and when the log is replayed at
start-up, in log order and with the recorded time, so the engine's picture survives a
restart. Findings of live records are raised as alerts; those of replayed records were
raised already and are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hotline.server.deconfliction import DeconflictionEngine, Finding, SeparationMinima
from hotline.server.exercise import Separation
from hotline.v1 import envelope_pb2, zones_pb2

__all__ = ["Checks", "DeconflictionChecks", "Finding"]


class Checks(Protocol):
    def validate(
        self, envelope: envelope_pb2.Envelope, body: str, zones: Sequence[zones_pb2.Zone]
    ) -> None:
        """Raises to refuse an envelope about to be recorded."""

    def observe(self, envelope: envelope_pb2.Envelope, body: str, at: float) -> list[Finding]:
        """Takes in a recorded envelope; returns the alerts it gives rise to."""
        ...


class DeconflictionChecks:
    """Zone incursions, separation, predicted conflicts, overlaps and notice conflicts."""

    def __init__(self, separation: Separation) -> None:
        self.engine = DeconflictionEngine(
            SeparationMinima(
                air_horizontal_m=separation.air_horizontal_m,
                air_vertical_m=separation.air_vertical_m,
                ground_m=separation.ground_m,
                look_ahead_s=separation.look_ahead_s,
                stale_after_s=separation.stale_after_s,
            )
        )
        # The position report validate() last accepted: observe() need not check its
        # positions again. Replayed records (and anything else) are checked in full.
        self._validated: envelope_pb2.Envelope | None = None

    def validate(
        self, envelope: envelope_pb2.Envelope, body: str, zones: Sequence[zones_pb2.Zone]
    ) -> None:
        engine = self.engine
        self._validated = None
        if body == "position_report":
            for i, unit in enumerate(envelope.position_report.positions):
                engine.validate_position(unit, f"position_report.positions[{i}]")
            self._validated = envelope
        elif body == "activity_notice":
            engine.validate_notice(envelope.activity_notice, "activity_notice")
        elif body in ("zone_proposal", "zone_update", "zone_decision"):
            # A decision proposes a zone only as a COUNTER: name the field it came in.
            field = "zone_decision.counter_proposal" if body == "zone_decision" else f"{body}.zone"
            for zone in zones:
                if zone.state == zones_pb2.ZONE_STATE_PROPOSED:
                    engine.validate_zone(zone, field)

    def observe(self, envelope: envelope_pb2.Envelope, body: str, at: float) -> list[Finding]:
        engine = self.engine
        if body == "position_report":
            party = envelope.sender.party
            validated = envelope is self._validated
            self._validated = None
            findings: list[Finding] = []
            for unit in envelope.position_report.positions:
                findings += engine.position_reported(party, unit, at, validated=validated)
            return findings
        if body == "activity_notice":
            return engine.notice_sent(envelope.sender.party, envelope.activity_notice, at)
        if body == "zone_status":
            return engine.zone_changed(envelope.zone_status.zone, at)
        return []
