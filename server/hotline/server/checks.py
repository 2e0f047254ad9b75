"""The seam between the switchboard and the deconfliction engine.

The switchboard asks :meth:`Checks.validate` about an envelope before recording it (the
engine refuses geometry it cannot handle with ``InvalidArgument``), and hands every
recorded envelope to :meth:`Checks.observe` — live and when the log is replayed at
start-up, in log order and with the recorded time, so the engine's picture survives a
restart. Findings of live records are raised as alerts; those of replayed records were
raised already and are dropped. :func:`raised_alert` is the one rule for turning a
finding into the alert the server records, shared with the re-evaluation of a log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from hotline.server.deconfliction import DeconflictionEngine, Finding, SeparationMinima
from hotline.server.exercise import EXERCISE_CONTROL, Hotline, Separation
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, zones_pb2

__all__ = ["Checks", "DeconflictionChecks", "Finding", "RaisedAlert", "raised_alert"]

#: Where a deconfliction alert goes: the hotline of the unit's domain.
_DOMAIN_HOTLINE = {
    common_pb2.DOMAIN_AIR: common_pb2.HOTLINE_AIR_OPERATIONS,
    common_pb2.DOMAIN_GROUND: common_pb2.HOTLINE_GROUND_COMMANDERS,
    common_pb2.DOMAIN_SEA: common_pb2.HOTLINE_GROUND_COMMANDERS,
}


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    """A finding as the server raises it: the alert, its hotline and its audience."""

    hotline: Hotline
    alert: acknowledgments_pb2.Alert
    audience: frozenset[str]


def raised_alert(
    finding: Finding, hotline: Hotline, cause: str, parties_on: Mapping[Hotline, frozenset[str]]
) -> RaisedAlert:
    """The alert a finding raises: on the hotline of the finding's domain (else
    ``hotline``, the one the causing message came on), about the message ``cause``
    unless the finding names one, to the parties concerned that are on that hotline
    (exercise control when none is)."""
    domain_hotline = _DOMAIN_HOTLINE.get(finding.domain, hotline)
    alert = acknowledgments_pb2.Alert()
    alert.CopyFrom(finding.alert)
    if not alert.message_id:
        alert.message_id = cause
    audience = frozenset(finding.parties) & parties_on.get(domain_hotline, frozenset())
    return RaisedAlert(domain_hotline, alert, audience or frozenset({EXERCISE_CONTROL}))


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
