"""Deconfliction measures: their versions and lifecycle.

A proposal is version 1 in state PROPOSED. The other side decides on the pending
version: ACCEPT makes it ACCEPTED, REJECT makes it REJECTED, COUNTER rejects it and
proposes the counter proposal as the next version. The owner may propose a new version
(an update, to be decided again) or withdraw the measure. ACTIVE and EXPIRED follow from
the effective window. Versions count changes of content; a change of state alone keeps
the version and is announced with a ``ZoneStatus`` notice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

from hotline.contract import seconds
from hotline.server.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from hotline.v1 import envelope_pb2, zones_pb2

ZoneState: TypeAlias = zones_pb2.ZoneState.ValueType

_DECIDABLE = (zones_pb2.ZONE_STATE_PROPOSED,)
_STANDING = (zones_pb2.ZONE_STATE_ACCEPTED, zones_pb2.ZONE_STATE_ACTIVE)
_LIVE = (zones_pb2.ZONE_STATE_PROPOSED, *_STANDING)


def state_name(state: ZoneState) -> str:
    return zones_pb2.ZoneState.Name(state).removeprefix("ZONE_STATE_")


def effective_state(zone: zones_pb2.Zone, now: float) -> ZoneState:
    """ACCEPTED becomes ACTIVE inside the effective window and EXPIRED after it."""
    if zone.state not in _STANDING:
        return zone.state
    until = seconds(zone.effective_until) if zone.HasField("effective_until") else None
    if until is not None and now >= until:
        return zones_pb2.ZONE_STATE_EXPIRED
    start = seconds(zone.effective_from) if zone.HasField("effective_from") else None
    if start is None or now >= start:
        return zones_pb2.ZONE_STATE_ACTIVE
    return zones_pb2.ZONE_STATE_ACCEPTED


class ZoneBook:
    """Every measure of the exercise with its history of versions and states."""

    def __init__(self) -> None:
        self._history: dict[str, list[zones_pb2.Zone]] = {}

    def current(self, zone_id: str) -> zones_pb2.Zone | None:
        versions = self._history.get(zone_id)
        return versions[-1] if versions else None

    def history(self, zone_id: str) -> list[zones_pb2.Zone]:
        if zone_id not in self._history:
            raise NotFound(f"zone_id: no zone {zone_id!r}")
        return list(self._history[zone_id])

    def all_current(self) -> Iterable[zones_pb2.Zone]:
        return (versions[-1] for versions in self._history.values())

    def shown(
        self, now: float, states: Iterable[int] = (), owner: str = ""
    ) -> list[zones_pb2.Zone]:
        """Current versions, with ACTIVE/EXPIRED as of ``now``; only those in ``states``
        and of ``owner`` when given."""
        wanted = set(states)
        out = []
        for zone in self.all_current():
            shown = zones_pb2.Zone()
            shown.CopyFrom(zone)
            shown.state = effective_state(zone, now)
            if (not wanted or shown.state in wanted) and (not owner or zone.owner_party == owner):
                out.append(shown)
        return out

    def changes(
        self, party: str, envelope: envelope_pb2.Envelope, body: str
    ) -> list[zones_pb2.Zone]:
        """What ``party``'s zone message (``body``: a proposal, an update, a withdrawal
        or a decision) makes of the measures, checked against the book but not applied
        (the records apply them); raises the refusal if the lifecycle forbids it."""
        if body == "zone_proposal":
            return [self.propose(party, envelope.zone_proposal.zone)]
        if body == "zone_update":
            return [self.update(party, envelope.zone_update.zone)]
        if body == "zone_withdrawal":
            return [self.withdraw(party, envelope.zone_withdrawal.zone_id)]
        return self.decide(party, envelope.zone_decision)

    def apply(self, zone: zones_pb2.Zone) -> None:
        """Records the zone as it now stands (from a ``ZoneStatus`` record)."""
        stored = zones_pb2.Zone()
        stored.CopyFrom(zone)
        self._history.setdefault(zone.zone_id, []).append(stored)

    def propose(self, party: str, zone: zones_pb2.Zone) -> zones_pb2.Zone:
        """The zone a proposal creates, or why it cannot."""
        if not zone.zone_id:
            raise InvalidArgument("zone_proposal.zone.zone_id: required")
        if zone.zone_id in self._history:
            raise AlreadyExists(
                f"zone_proposal.zone.zone_id: zone {zone.zone_id!r} exists; "
                "send a zone_update to change it"
            )
        if zone.owner_party and zone.owner_party != party:
            raise InvalidArgument(
                f"zone_proposal.zone.owner_party: {party} may only propose its own zones, "
                f"not {zone.owner_party}'s"
            )
        return _as_proposed(zone, version=1, owner=party, proposed_by=party)

    def update(self, party: str, zone: zones_pb2.Zone) -> zones_pb2.Zone:
        current = self._require(zone.zone_id, "zone_update.zone.zone_id")
        if current.owner_party != party:
            raise FailedPrecondition(
                f"zone_update: zone {zone.zone_id!r} belongs to {current.owner_party}; "
                "propose a counter instead"
            )
        if current.state not in _LIVE:
            raise FailedPrecondition(
                f"zone_update: zone {zone.zone_id!r} is {state_name(current.state)}; "
                "propose a new zone instead"
            )
        return _as_proposed(zone, current.version + 1, current.owner_party, party)

    def withdraw(self, party: str, zone_id: str) -> zones_pb2.Zone:
        current = self._require(zone_id, "zone_withdrawal.zone_id")
        if current.owner_party != party:
            raise FailedPrecondition(
                f"zone_withdrawal: zone {zone_id!r} belongs to {current.owner_party}"
            )
        if current.state not in _LIVE:
            raise FailedPrecondition(
                f"zone_withdrawal: zone {zone_id!r} is already {state_name(current.state)}"
            )
        return _with_state(current, zones_pb2.ZONE_STATE_WITHDRAWN)

    def decide(self, party: str, decision: zones_pb2.ZoneDecision) -> list[zones_pb2.Zone]:
        """The zone states a decision leads to, or why it cannot be taken."""
        current = self._require(decision.zone_id, "zone_decision.zone_id", FailedPrecondition)
        if current.state not in _DECIDABLE:
            raise FailedPrecondition(
                f"zone_decision: zone {decision.zone_id!r} version {current.version} was "
                f"already decided ({state_name(current.state)})"
            )
        if decision.version != current.version:
            raise FailedPrecondition(
                f"zone_decision.version: zone {decision.zone_id!r} has version "
                f"{current.version} pending, not {decision.version}"
            )
        if current.proposed_by == party:
            raise FailedPrecondition(
                f"zone_decision: {party} proposed version {current.version} of "
                f"{decision.zone_id!r}; the other side decides"
            )
        kind = decision.decision
        if kind == zones_pb2.ZONE_DECISION_KIND_ACCEPT:
            return [_with_state(current, zones_pb2.ZONE_STATE_ACCEPTED)]
        if kind == zones_pb2.ZONE_DECISION_KIND_REJECT:
            return [_with_state(current, zones_pb2.ZONE_STATE_REJECTED)]
        if kind == zones_pb2.ZONE_DECISION_KIND_COUNTER:
            if not decision.HasField("counter_proposal"):
                raise InvalidArgument("zone_decision.counter_proposal: required for COUNTER")
            counter = zones_pb2.Zone()
            counter.CopyFrom(decision.counter_proposal)
            counter.zone_id = current.zone_id
            return [
                _with_state(current, zones_pb2.ZONE_STATE_REJECTED),
                _as_proposed(counter, current.version + 1, current.owner_party, party),
            ]
        raise InvalidArgument("zone_decision.decision: ACCEPT, REJECT or COUNTER required")

    def _require(
        self,
        zone_id: str,
        field: str,
        missing: type[NotFound] | type[FailedPrecondition] = NotFound,
    ) -> zones_pb2.Zone:
        if not zone_id:
            raise InvalidArgument(f"{field}: required")
        current = self.current(zone_id)
        if current is None:
            raise missing(f"{field}: no zone {zone_id!r}")
        return current


def _as_proposed(
    zone: zones_pb2.Zone, version: int, owner: str, proposed_by: str
) -> zones_pb2.Zone:
    proposed = zones_pb2.Zone()
    proposed.CopyFrom(zone)
    proposed.version = version
    proposed.owner_party = owner
    proposed.proposed_by = proposed_by
    proposed.state = zones_pb2.ZONE_STATE_PROPOSED
    return proposed


def _with_state(zone: zones_pb2.Zone, state: ZoneState) -> zones_pb2.Zone:
    changed = zones_pb2.Zone()
    changed.CopyFrom(zone)
    changed.state = state
    return changed
