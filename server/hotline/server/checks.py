"""The seam between the switchboard and the deconfliction checks.

Before recording an envelope the switchboard calls :func:`validate_envelope` (it
refuses geometry the engine cannot handle with ``InvalidArgument``), and hands every
recorded envelope to :meth:`Checks.observe` — live and when the log is read back at
start-up, in log order and with the recorded time, so the engine's picture survives a
restart. What the engine finds comes back, with the station message that caused it, to
the sink the switchboard gave; findings of live records are raised as alerts, those of
records read back only serve to find alerts a crash lost
(:mod:`hotline.server.missed_alerts`). :class:`LocalChecks` runs the engine
in the caller's thread; the server runs it in a child process
(:mod:`hotline.server.checks_process`). :func:`raised_alert` is the one rule for turning
a finding into the alert the server records, shared with the re-evaluation of a log.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from hotline.server.deconfliction import DeconflictionEngine, Finding, SeparationMinima
from hotline.server.deconfliction.input_checks import (
    validate_notice,
    validate_position,
    validate_zone,
)
from hotline.server.exercise import EXERCISE_CONTROL, Hotline, Separation
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, zones_pb2

__all__ = [
    "DECONFLICTION_ALERTS",
    "OBSERVED",
    "AlertKey",
    "Cause",
    "Checks",
    "DeconflictionChecks",
    "Finding",
    "FoundSink",
    "LocalChecks",
    "RaisedAlert",
    "raised_alert",
    "validate_envelope",
]

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


_A = acknowledgments_pb2
#: The alerts the deconfliction engine raises (not those of acknowledgments or lines).
DECONFLICTION_ALERTS = frozenset(
    {
        _A.ALERT_KIND_ZONE_INCURSION,
        _A.ALERT_KIND_ZONE_INCURSION_CLEARED,
        _A.ALERT_KIND_SEPARATION_BREACH,
        _A.ALERT_KIND_PREDICTED_CONFLICT,
        _A.ALERT_KIND_ZONE_OVERLAP,
        _A.ALERT_KIND_NOTICE_CONFLICT,
        _A.ALERT_KIND_NOTICE_MISMATCH,
    }
)
#: Bodies the deconfliction checks take in.
OBSERVED = frozenset({"position_report", "activity_notice", "zone_status"})


@dataclass(frozen=True, slots=True, order=True)
class AlertKey:
    """What identifies a deconfliction alert across a recording and a new evaluation of
    the same inputs."""

    kind: int
    unit_ids: tuple[str, ...]
    zone_ids: tuple[str, ...]
    cause: str
    """The message id of the message that gave rise to the alert."""

    @classmethod
    def of(cls, alert: acknowledgments_pb2.Alert) -> AlertKey:
        return cls(
            alert.kind,
            tuple(sorted(alert.unit_ids)),
            tuple(sorted(alert.zone_ids)),
            alert.message_id,
        )


# Not frozen: one is made for every station message, and a frozen dataclass's __init__ costs
# several times a plain one's.
@dataclass(slots=True)
class Cause:
    """The station message a finding is about: the one whose recording led to it."""

    hotline: Hotline
    message_id: str
    at: float
    """When it was recorded."""
    recovered: bool = False
    """Read back from the log at start-up (its alerts were raised then, or lost)."""


#: Takes the findings about one cause, to raise them as alerts.
FoundSink = Callable[[Cause, list[Finding]], None]


class Checks(Protocol):
    """What the switchboard asks of the deconfliction checks.

    ``observe`` takes a recorded envelope, and what it gives rise to reaches the
    ``found`` sink given to ``bind`` — at once, or later from another process — always
    in the order the envelopes were observed. (What to refuse before recording needs no
    engine state: :func:`validate_envelope`, the same for every implementation.)
    """

    def bind(self, found: FoundSink, failed: Callable[[BaseException], None]) -> None:
        """Gives the sink of findings and what to call if the checks can no longer run."""

    def observe(
        self,
        envelope: envelope_pb2.Envelope,
        payload: bytes,
        body: str,
        at: float,
        *,
        validated: bool,
        cause: Cause | None,
    ) -> None:
        """Takes in a recorded envelope (``payload`` is its bytes as recorded). Its
        findings go to the sink with ``cause``; with no cause they are dropped."""

    async def settle(self) -> None:
        """Returns once every finding of what was observed so far has reached the sink."""

    async def snapshot(self) -> bytes:
        """The engine's state after everything observed before this call (pickled),
        returned once every finding of that has reached the sink. The request is made
        before the coroutine first waits: what is observed after the call is not in it."""

    def restore(self, state: bytes) -> None:
        """Starts from a state :meth:`snapshot` gave, before anything is observed."""

    async def close(self) -> None:
        """Settles, and stops the checks."""


def validate_envelope(
    envelope: envelope_pb2.Envelope, body: str, zones: Sequence[zones_pb2.Zone]
) -> None:
    """Refuses geometry the engine cannot handle with ``InvalidArgument`` naming the
    field: unit positions, a notice's area, band and window, proposed zones."""
    if body == "position_report":
        for i, unit in enumerate(envelope.position_report.positions):
            validate_position(unit, f"position_report.positions[{i}]")
    elif body == "activity_notice":
        validate_notice(envelope.activity_notice, "activity_notice")
    elif body in ("zone_proposal", "zone_update", "zone_decision"):
        # A decision proposes a zone only as a COUNTER: name the field it came in.
        field = "zone_decision.counter_proposal" if body == "zone_decision" else f"{body}.zone"
        for zone in zones:
            if zone.state == zones_pb2.ZONE_STATE_PROPOSED:
                validate_zone(zone, field)


class DeconflictionChecks:
    """Zone incursions, separation, predicted conflicts, overlaps and notice conflicts:
    the engine fed with recorded envelopes, returning its findings."""

    def __init__(self, separation: Separation) -> None:
        self.engine = DeconflictionEngine(
            SeparationMinima(
                air_horizontal_m=separation.air_horizontal_m,
                air_vertical_m=separation.air_vertical_m,
                ground_m=separation.ground_m,
                look_ahead_s=separation.look_ahead_s,
                stale_after_s=separation.stale_after_s,
                notice_mismatch_m=separation.notice_mismatch_m,
            )
        )

    def observe(
        self, envelope: envelope_pb2.Envelope, body: str, at: float, *, validated: bool = False
    ) -> list[Finding]:
        """The findings a recorded envelope gives rise to. ``validated``: its positions
        passed :func:`validate_envelope` already and need not be checked again."""
        engine = self.engine
        if body == "position_report":
            party = envelope.sender.party
            findings: list[Finding] = []
            for unit in envelope.position_report.positions:
                findings += engine.position_reported(party, unit, at, validated=validated)
            return findings
        if body == "activity_notice":
            return engine.notice_sent(envelope.sender.party, envelope.activity_notice, at)
        if body == "zone_status":
            return engine.zone_changed(envelope.zone_status.zone, at)
        return []


class LocalChecks:
    """The checks run in the caller's thread: findings reach the sink during
    :meth:`observe`."""

    def __init__(self, separation: Separation) -> None:
        self._checks = DeconflictionChecks(separation)
        self._found: FoundSink | None = None

    def bind(self, found: FoundSink, failed: Callable[[BaseException], None]) -> None:
        self._found = found

    def observe(
        self,
        envelope: envelope_pb2.Envelope,
        payload: bytes,
        body: str,
        at: float,
        *,
        validated: bool,
        cause: Cause | None,
    ) -> None:
        findings = self._checks.observe(envelope, body, at, validated=validated)
        if findings and cause is not None and self._found is not None:
            self._found(cause, findings)

    async def settle(self) -> None:
        return None

    async def snapshot(self) -> bytes:
        return pickle.dumps(self._checks, protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, state: bytes) -> None:
        checks = pickle.loads(state)
        assert isinstance(checks, DeconflictionChecks)
        self._checks = checks

    async def close(self) -> None:
        return None
