"""The deconfliction engine: zones, last known units, and the alerts they give rise to.

Pure domain code: no clock, no I/O. Every call that depends on time takes ``now``
(epoch seconds), so replaying the same calls reproduces the same findings.

Episodes keep the hotlines quiet: an incursion raises ZONE_INCURSION once on entry and
ZONE_INCURSION_CLEARED once on exit (or when the zone goes), measured by depth and time
inside (:mod:`.incursions`); a pair of units raises
SEPARATION_BREACH and PREDICTED_CONFLICT once each per episode, and the episode ends
when the pair is clear of the minima again (by 5 %, so a pair hovering at the minimum
does not flap). A conflict first seen when the pair is already in breach is covered by
the breach alert and raises no prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely

from hotline.contract import seconds
from hotline.server.deconfliction import input_checks
from hotline.server.deconfliction.approach import (
    FLAT_ERROR_FLOOR_M,
    flat_error_coefficient,
    flat_error_m,
)
from hotline.server.deconfliction.findings import Finding, Picture, TrackedUnit, alert, parties_of
from hotline.server.deconfliction.geodesy import wrap_longitude
from hotline.server.deconfliction.incursions import Incursion
from hotline.server.deconfliction.lines import LineCrossing
from hotline.server.deconfliction.mismatch import nearest_unit
from hotline.server.deconfliction.separation import (
    REARM_MARGIN,
    PairAssessment,
    SeparationMinima,
    assess,
)
from hotline.server.deconfliction.tracks import AirPicture, SurfaceGrid, Track, UnitKey
from hotline.server.deconfliction.zone_index import (
    AIR,
    GROUND,
    SEA,
    KnownZone,
    ZoneIndex,
)
from hotline.server.errors import InvalidArgument
from hotline.v1 import acknowledgments_pb2, common_pb2, messages_pb2, positions_pb2, zones_pb2

_K = acknowledgments_pb2
_DOMAIN_NAMES: dict[common_pb2.Domain.ValueType, str] = {
    AIR: "aircraft",
    GROUND: "ground unit",
    SEA: "vessel",
}


def _hotline_domain(domain: common_pb2.Domain.ValueType) -> common_pb2.Domain.ValueType:
    """The domain whose hotline hears about ``domain`` (ships: the ground commanders)."""
    return common_pb2.DOMAIN_GROUND if domain == SEA else domain


_ACTIVITY_NAMES: dict[messages_pb2.ActivityType.ValueType, str] = {
    messages_pb2.ACTIVITY_TYPE_STRIKE: "STRIKE",
    messages_pb2.ACTIVITY_TYPE_FLIGHT: "FLIGHT",
    messages_pb2.ACTIVITY_TYPE_GROUND_MOVEMENT: "GROUND MOVEMENT",
}


_DEFAULT_MINIMA = SeparationMinima()
_NO_PARTNERS: frozenset[UnitKey] = frozenset()


@dataclass(slots=True)
class _PairEpisode:
    breach: acknowledgments_pb2.Alert | None = None
    predicted: bool = False
    prediction: acknowledgments_pb2.Alert | None = None


def _describe(track: Track) -> str:
    name = track.callsign or track.key[1]
    return f"{track.party} {_DOMAIN_NAMES.get(track.domain, 'unit')} {name}"


class DeconflictionEngine:
    """Checks zones, positions and activity notices against one another.

    Not thread-safe: one owner (the switchboard) calls it in the order events are
    recorded, which is also the order a replay calls it in.
    """

    def __init__(self, minima: SeparationMinima = _DEFAULT_MINIMA) -> None:
        self._minima = minima
        self._accepted = ZoneIndex()
        self._proposed = ZoneIndex()
        self._crossings: dict[str, LineCrossing] = {}
        self._line_domains: frozenset[common_pb2.Domain.ValueType] = frozenset()
        self._tracks: dict[UnitKey, Track] = {}
        self._parties: dict[str, None] = {}
        self._air = AirPicture()
        self._surface: dict[common_pb2.Domain.ValueType, SurfaceGrid] = {
            GROUND: SurfaceGrid(),
            SEA: SurfaceGrid(),
        }
        self._incursions: dict[UnitKey, dict[str, Incursion]] = {}
        self._incursions_by_zone: dict[str, set[UnitKey]] = {}
        self._across: set[tuple[UnitKey, str]] = set()
        self._pairs: dict[tuple[UnitKey, UnitKey], _PairEpisode] = {}
        self._pairs_by_unit: dict[UnitKey, set[UnitKey]] = {}

    @property
    def minima(self) -> SeparationMinima:
        return self._minima

    # -- validation -------------------------------------------------------------------

    def validate_zone(self, zone: zones_pb2.Zone, field: str = "zone") -> None:
        """Checks a zone's content (not its ids or state); raises InvalidArgument naming
        the field: missing kind or geometry, fewer than 3 distinct vertices, a
        self-intersecting polygon, a non-positive radius or half-width, floor >= ceiling,
        until <= from, coordinates out of range or not finite, a shape enclosing a pole
        or more than 1,000 km from its centre."""
        input_checks.validate_zone(zone, field)

    def validate_position(self, unit: positions_pb2.UnitPosition, field: str = "unit") -> None:
        """Checks one unit position; raises InvalidArgument naming the field."""
        input_checks.validate_position(unit, field)

    def validate_notice(self, notice: messages_pb2.ActivityNotice, field: str = "notice") -> None:
        """Checks an activity notice's activity, area, band and window; raises
        InvalidArgument naming the field."""
        input_checks.validate_notice(notice, field)

    # -- zones ------------------------------------------------------------------------

    def zone_changed(self, zone: zones_pb2.Zone, now: float) -> list[Finding]:
        """Takes a zone's new state.

        PROPOSED: held as the zone's pending proposal (an accepted earlier version stays
        in force) and checked for ZONE_OVERLAP with other parties' accepted and proposed
        zones. ACCEPTED or ACTIVE: replaces the version in force; units inside are
        re-evaluated at their next report. REJECTED: drops the proposal of that version.
        WITHDRAWN or EXPIRED: drops the zone, clearing the incursions open in it.
        Raises InvalidArgument for an invalid zone, a missing ``zone_id`` or state.
        """
        if not zone.zone_id:
            raise InvalidArgument("zone.zone_id: required")
        state = zone.state
        if state in (
            zones_pb2.ZONE_STATE_PROPOSED,
            zones_pb2.ZONE_STATE_ACCEPTED,
            zones_pb2.ZONE_STATE_ACTIVE,
        ):
            copy = zones_pb2.Zone()
            copy.CopyFrom(zone)
            known = KnownZone.build(copy, input_checks.validate_zone(copy))
            self._parties.setdefault(known.owner, None)
            if state == zones_pb2.ZONE_STATE_PROPOSED:
                self._proposed.put(known)
                return self._overlaps(known)
            pending = self._proposed.zones.get(zone.zone_id)
            if pending is not None and pending.zone.version <= zone.version:
                self._proposed.remove(zone.zone_id)
            self._accepted.put(known)
            if known.is_line:
                self._crossings[zone.zone_id] = LineCrossing(known.shape)
            else:
                self._crossings.pop(zone.zone_id, None)
            self._lines_changed()
            return []
        if state == zones_pb2.ZONE_STATE_REJECTED:
            pending = self._proposed.zones.get(zone.zone_id)
            if pending is not None and pending.zone.version == zone.version:
                self._proposed.remove(zone.zone_id)
            in_force = self._accepted.zones.get(zone.zone_id)
            if in_force is None or in_force.zone.version != zone.version:
                return []
            return self._drop(zone.zone_id, "rejected", now)
        if state in (zones_pb2.ZONE_STATE_WITHDRAWN, zones_pb2.ZONE_STATE_EXPIRED):
            self._proposed.remove(zone.zone_id)
            reason = "withdrawn" if state == zones_pb2.ZONE_STATE_WITHDRAWN else "expired"
            return self._drop(zone.zone_id, reason, now)
        raise InvalidArgument(f"zone.state: required, got {state}")

    def _drop(self, zone_id: str, reason: str, now: float) -> list[Finding]:
        known = self._accepted.remove(zone_id)
        self._crossings.pop(zone_id, None)
        self._lines_changed()
        self._across = {pair for pair in self._across if pair[1] != zone_id}
        findings: list[Finding] = []
        if known is None:
            return findings
        for key in sorted(self._incursions_by_zone.pop(zone_id, ())):
            incursion = self._incursions[key].pop(zone_id)
            track = self._tracks[key]
            findings.append(
                self._cleared(track, known, f"{known.label()} {reason}", incursion, now)
            )
        return findings

    def _lines_changed(self) -> None:
        self._line_domains = frozenset(
            domain
            for zone_id in self._crossings
            for domain in self._accepted.zones[zone_id].domains
        )

    def _overlaps(self, proposal: KnownZone) -> list[Finding]:
        findings: list[Finding] = []
        candidates = self._accepted.touching(proposal.shape) + self._proposed.touching(
            proposal.shape
        )
        seen: set[str] = set()
        for other in candidates:
            if (
                other.zone_id == proposal.zone_id
                or other.owner == proposal.owner
                or other.zone_id in seen
                or not other.windows_overlap(proposal.from_s, proposal.until_s)
                or not other.bands_overlap(proposal.floor_m, proposal.ceiling_m)
                or not proposal.shape.overlaps(other.shape)
            ):
                continue
            seen.add(other.zone_id)
            standing = "proposed" if other.zone_id in self._proposed.zones else "accepted"
            where = shapely.intersection(proposal.shape.outline, other.shape.outline)
            point = where.representative_point() if not where.is_empty else None
            summary = (
                f"Zone overlap: {proposal.owner} proposal {proposal.zone.name or proposal.zone_id} "
                f"overlaps {standing} {other.label()} in area, altitude and time"
            )
            findings.append(
                Finding(
                    alert=alert(
                        _K.ALERT_KIND_ZONE_OVERLAP,
                        summary,
                        zone_ids=(proposal.zone_id, other.zone_id),
                        parties=parties_of(proposal.owner, other.owner),
                        location=(point.y, ((point.x + 180.0) % 360.0) - 180.0) if point else None,
                    ),
                    domain=common_pb2.DOMAIN_UNSPECIFIED,
                    parties=parties_of(proposal.owner, other.owner),
                )
            )
        return findings

    # -- positions --------------------------------------------------------------------

    def position_reported(
        self,
        party: str,
        unit: positions_pb2.UnitPosition,
        now: float,
        *,
        validated: bool = False,
    ) -> list[Finding]:
        """Takes one unit's report and returns the alerts it raises or clears:
        ZONE_INCURSION / ZONE_INCURSION_CLEARED, SEPARATION_BREACH, PREDICTED_CONFLICT.

        A report observed before the unit's last one is ignored (it arrived out of
        order). The engine keeps ``unit`` by reference as the unit's last report: do not
        mutate it afterwards. Raises InvalidArgument for an invalid position, unless
        ``validated`` says :meth:`validate_position` has accepted this very report.
        """
        if not validated:
            input_checks.validate_position(unit)
        observed = seconds(unit.observed_at)
        key = (party, unit.unit_id)
        track = self._tracks.get(key)
        if track is None:
            track = Track(key=key, party=party, domain=unit.domain)
            self._tracks[key] = track
            self._parties.setdefault(party, None)
            track.update(unit, observed)
            track.prev_lat = track.prev_lon = math.nan
        elif observed < track.observed:
            return []
        else:
            if track.domain != unit.domain:
                self._neighbourhood_remove(track)
                self._close_pairs(track)
                track.domain = unit.domain
                track.zone_query = None
            track.update(unit, observed)
        if track.domain == AIR:
            self._air.place(track)
        else:
            self._surface[track.domain].place(track)
        findings: list[Finding] = []
        self._check_zones(track, now, findings)
        self._check_pairs(track, now, findings)
        return findings

    def _neighbourhood_remove(self, track: Track) -> None:
        if track.domain == AIR:
            self._air.remove(track)
        else:
            self._surface[track.domain].remove(track)

    def _check_zones(self, track: Track, now: float, findings: list[Finding]) -> None:
        lat, lon, alt, party, domain = track.lat, track.lon, track.alt, track.party, track.domain
        air = domain == AIR
        inside: dict[str, KnownZone] = {}
        contains_xy = shapely.lib.contains_xy  # the bare ufunc: half the call overhead
        index = self._accepted
        # The fine cell decides the coarse one too, so it alone keys the cached query.
        cells = (int((lat + 90.0) * 20.0), int((lon + 540.0) * 20.0))
        cached = track.zone_query
        if cached is not None and cached[0] == cells and cached[1] == index.generation:
            entries = cached[2]
        else:
            entries = index.restricting(lat, lon, domain, party)
            track.zone_query = (cells, index.generation, entries)
        for e in entries:
            if lon < e.minx or lon > e.maxx or lat < e.miny or lat > e.maxy:
                continue
            known = e.known
            if not known.from_s <= now < known.until_s:
                continue
            if air and not known.floor_m <= alt <= known.ceiling_m:
                continue
            # The entry's discs settle most points; the outline decides near its edge.
            dx = (lon - e.cx) * e.kx
            dy = (lat - e.cy) * e.ky
            d2 = dx * dx + dy * dy
            if d2 < e.inner2 or (d2 <= e.outer2 and contains_xy(e.polygon, lon, lat)):
                inside[known.zone_id] = known
        if self._crossings and domain in self._line_domains:
            self._check_crossings(track, now, inside)
        previous = self._incursions.get(track.key)
        if not previous:
            if not inside:
                return
        else:
            for zone_id, incursion in previous.items():
                known = inside.get(zone_id)
                if known is not None:
                    incursion.seen(lat, lon, now, known.shape)
            if inside.keys() == previous.keys():
                return  # still inside the same zones: nothing to say
        if previous is None:
            previous = self._incursions[track.key] = {}
        for zone_id, known in inside.items():
            if zone_id not in previous:
                previous[zone_id] = self._entered(track, known, now, findings)
                self._incursions_by_zone.setdefault(zone_id, set()).add(track.key)
        for zone_id in [z for z in previous if z not in inside]:
            incursion = previous.pop(zone_id)
            self._incursions_by_zone[zone_id].discard(track.key)
            left = self._accepted.zones.get(zone_id) or self._proposed.zones.get(zone_id)
            if left is not None:
                findings.append(self._cleared(track, left, f"left {left.label()}", incursion, now))

    def _check_crossings(self, track: Track, now: float, inside: dict[str, KnownZone]) -> None:
        lat0, lon0, lat1, lon1 = track.prev_lat, track.prev_lon, track.lat, track.lon
        moved = not math.isnan(lat0)
        for zone_id, crossing in self._crossings.items():
            known = self._accepted.zones[zone_id]
            if track.domain not in known.domains:
                continue
            state = (track.key, zone_id)
            minx, miny, maxx, maxy = crossing.bounds
            if (
                moved
                # Bounds first: most moves are nowhere near the line.
                and (miny <= lat0 <= maxy or miny <= lat1 <= maxy)
                and (minx <= lon0 <= maxx or minx <= lon1 <= maxx or abs(lon1 - lon0) > 180.0)
                and crossing.crossings(lat0, lon0, lat1, lon1) % 2
            ):
                self._across.symmetric_difference_update({state})
            if state in self._across and known.effective_at(now):
                inside[zone_id] = known

    def _entered(
        self, track: Track, known: KnownZone, now: float, findings: list[Finding]
    ) -> Incursion:
        parties = tuple(self._parties) if known.is_line else parties_of(track.party, known.owner)
        verb = "is across" if known.is_line else "entered"
        height = f" at {track.alt:.0f} m" if track.domain == AIR else ""
        # How deep: from the edge, or across a line it crossed from the line's centre.
        centre_line = known.is_line and (track.key, known.zone_id) in self._across
        depth = known.shape.edge_distance_m(track.lat, track.lon, centre_line=centre_line)
        message = alert(
            _K.ALERT_KIND_ZONE_INCURSION,
            f"Zone incursion: {_describe(track)} {verb} {known.label()}{height}, "
            f"{depth:.0f} m inside",
            unit_ids=(track.key[1],),
            zone_ids=(known.zone_id,),
            parties=parties,
            location=(track.lat, track.lon),
        )
        findings.append(Finding(alert=message, domain=track.domain, parties=parties))
        return Incursion.entered(message, now, depth, centre_line=centre_line)

    def _cleared(
        self, track: Track, known: KnownZone, what: str, incursion: Incursion, now: float
    ) -> Finding:
        parties = tuple(self._parties) if known.is_line else parties_of(track.party, known.owner)
        incursion.settle(known.shape)
        message = alert(
            _K.ALERT_KIND_ZONE_INCURSION_CLEARED,
            f"Incursion cleared: {_describe(track)} {what} after "
            f"{_elapsed(now - incursion.entered_at)}, at most {incursion.max_depth_m:.0f} m "
            "inside",
            unit_ids=(track.key[1],),
            zone_ids=(known.zone_id,),
            parties=parties,
            location=(track.lat, track.lon),
        )
        incursion.fill(message.incursion, now)
        return Finding(alert=message, domain=track.domain, parties=parties)

    def _check_pairs(self, track: Track, now: float, findings: list[Finding]) -> None:
        minima = self._minima
        h = minima.horizontal_m(track.domain)
        if track.domain == AIR:
            candidates = self._air.screen(
                track,
                now,
                horizontal_m=h,
                vertical_m=minima.air_vertical_m,
                look_ahead_s=minima.look_ahead_s,
                stale_after_s=minima.stale_after_s,
            )
            fastest = self._air.max_speed
        else:
            grid = self._surface[track.domain]
            fastest = grid.max_speed
            reach = h * 1.02 + 100.0 + (track.speed + fastest) * minima.look_ahead_s
            candidates = grid.near(track, reach + flat_error_m(track.lat, reach))
        open_partners = self._pairs_by_unit.get(track.key, _NO_PARTNERS)
        lat, lon, ky, kx = track.lat, track.lon, track.ky, track.kx
        # No pair can close faster than both units' speeds over the look-ahead plus the
        # time either may have been dead-reckoned: a box test rules most candidates out.
        horizon = minima.look_ahead_s + minima.stale_after_s
        base = h * 1.02 + 100.0 + track.speed * horizon
        # One flat-error coefficient for this report: good for every reach a pair has.
        flat_k = flat_error_coefficient(lat, 3.0 * (track.speed + fastest) * horizon + 2.0 * h)
        farthest = base + fastest * horizon
        base += flat_k * farthest * farthest + FLAT_ERROR_FLOOR_M
        for other in candidates:
            reach = base + other.speed * horizon
            near = not (
                abs(other.lat - lat) * ky > reach
                or abs(wrap_longitude(other.lon - lon)) * kx > reach
            )
            if not near and other.key not in open_partners:
                continue
            held = self._held_below(track, other) if other.key in open_partners else -math.inf
            # The coefficient holds for pairs within the box; a far one has its own.
            k = flat_k if near else None
            result = assess(track, other, now, minima, predicted_below=held, flat_k=k)
            # Almost every candidate is clear and has no episode to close: skip it early.
            if result is not None or other.key in open_partners:
                self._apply(track, other, result, findings)
        if open_partners:
            offered = {t.key for t in candidates}
            for key in sorted(open_partners - offered):
                other = self._tracks[key]
                same = other.domain == track.domain
                held = self._held_below(track, other)
                result = assess(track, other, now, minima, predicted_below=held) if same else None
                self._apply(track, other, result, findings)

    def _held_below(self, track: Track, other: Track) -> float:
        """The closest-approach distance below which the pair's open prediction stands."""
        pair = (track.key, other.key) if track.key < other.key else (other.key, track.key)
        episode = self._pairs.get(pair)
        if episode is None or not episode.predicted:
            return -math.inf
        return self._minima.horizontal_m(track.domain) * (1.0 + REARM_MARGIN)

    def _apply(
        self,
        track: Track,
        other: Track,
        result: PairAssessment | None,
        findings: list[Finding],
    ) -> None:
        """Opens or ends the pair's episodes according to its assessment."""
        pair = (track.key, other.key) if track.key < other.key else (other.key, track.key)
        episode = self._pairs.get(pair)
        if result is None:
            if episode is not None:
                self._end_episode(pair)
            return
        minima = self._minima
        h = minima.horizontal_m(track.domain)
        v = minima.air_vertical_m
        air = track.domain == AIR
        slack = 1.0 + REARM_MARGIN
        breached = result.distance_m < h and (not air or result.vertical_m < v)
        predicted = result.cpa_distance_m < h and (not air or result.vertical_m < v)
        if episode is None:
            if not breached and not predicted:
                return
            episode = self._pairs[pair] = _PairEpisode()
            self._pairs_by_unit.setdefault(track.key, set()).add(other.key)
            self._pairs_by_unit.setdefault(other.key, set()).add(track.key)
        if episode.breach is None and breached:
            episode.breach = self._breach_alert(result, h)
            findings.append(self._pair_finding(episode.breach, track, other))
        elif episode.breach is not None and not (
            result.distance_m < h * slack and (not air or result.vertical_m < v * slack)
        ):
            episode.breach = None
        if not episode.predicted and predicted:
            episode.predicted = True
            if episode.breach is None:
                episode.prediction = self._prediction_alert(result, h)
                findings.append(self._pair_finding(episode.prediction, track, other))
        elif episode.predicted and not (
            result.cpa_distance_m < h * slack and (not air or result.vertical_m < v * slack)
        ):
            episode.predicted = False
            episode.prediction = None
        if episode.breach is None and not episode.predicted:
            self._end_episode(pair)

    def _end_episode(self, pair: tuple[UnitKey, UnitKey]) -> None:
        del self._pairs[pair]
        for a, b in (pair, pair[::-1]):
            partners = self._pairs_by_unit.get(a)
            if partners is not None:
                partners.discard(b)
                if not partners:
                    del self._pairs_by_unit[a]

    def _close_pairs(self, track: Track) -> None:
        for other in sorted(self._pairs_by_unit.get(track.key, ())):
            pair = (track.key, other) if track.key < other else (other, track.key)
            self._end_episode(pair)

    def _pair_finding(self, message: acknowledgments_pb2.Alert, a: Track, b: Track) -> Finding:
        return Finding(alert=message, domain=a.domain, parties=parties_of(a.party, b.party))

    def _breach_alert(self, result: PairAssessment, h: float) -> acknowledgments_pb2.Alert:
        a, b = result.a, result.b
        vertical = f", {result.vertical_m:.0f} m vertically" if a.domain == AIR else ""
        return alert(
            _K.ALERT_KIND_SEPARATION_BREACH,
            f"Separation breach: {_describe(a)} and {_describe(b)} are "
            f"{result.distance_m:.0f} m apart{vertical} (minimum {h:.0f} m)",
            unit_ids=(a.key[1], b.key[1]),
            parties=parties_of(a.party, b.party),
            location=result.location,
            distance_m=result.distance_m,
        )

    def _prediction_alert(self, result: PairAssessment, h: float) -> acknowledgments_pb2.Alert:
        a, b = result.a, result.b
        return alert(
            _K.ALERT_KIND_PREDICTED_CONFLICT,
            f"Predicted conflict: {_describe(a)} and {_describe(b)} will pass "
            f"{result.cpa_distance_m:.0f} m apart in {result.time_to_cpa_s:.0f} s "
            f"(minimum {h:.0f} m)",
            unit_ids=(a.key[1], b.key[1]),
            parties=parties_of(a.party, b.party),
            location=result.cpa_location,
            distance_m=result.cpa_distance_m,
            time_to_cpa_s=result.time_to_cpa_s,
        )

    # -- activity notices -------------------------------------------------------------

    def notice_sent(
        self, sender_party: str, notice: messages_pb2.ActivityNotice, now: float
    ) -> list[Finding]:
        """Checks an activity notice against the other parties' zones and units.

        Finds each other party's accepted zones (in effect at some time in the window,
        overlapping in area and altitude) and last reported units (if the window has not
        ended) in the notice's area: for STRIKE every zone kind and every unit; for
        FLIGHT zones restricting AIR and aircraft; for GROUND MOVEMENT zones restricting
        GROUND and ground units. Aircraft count only inside the notice's altitude band.
        Returns one NOTICE_CONFLICT per party and hotline concerned: units go to their
        domain's hotline (a strike over ground units warns the ground commanders, whatever
        hotline the notice came on), zones to the hotline of the one domain they restrict,
        else the activity's (DOMAIN_UNSPECIFIED for a strike: the notice's own hotline).
        Also NOTICE_MISMATCH, for exercise control alone, when the area is far from every
        unit of the sender's the activity involves (:mod:`.mismatch`).
        Raises InvalidArgument for an invalid notice.
        """
        area = input_checks.validate_notice(notice)
        activity = notice.activity
        domains = {
            messages_pb2.ACTIVITY_TYPE_STRIKE: frozenset({AIR, GROUND, SEA}),
            messages_pb2.ACTIVITY_TYPE_FLIGHT: frozenset({AIR}),
            messages_pb2.ACTIVITY_TYPE_GROUND_MOVEMENT: frozenset({GROUND}),
        }[activity]
        strike = activity == messages_pb2.ACTIVITY_TYPE_STRIKE
        zones: dict[str, list[KnownZone]] = {}
        for known in sorted(self._accepted.touching(area.shape), key=lambda k: k.zone_id):
            # A strike is relevant to every measure (fire restrictions included); a flight
            # or a ground movement to the measures restricting its domain.
            relevant = strike or bool(known.domains & domains)
            if (
                known.owner != sender_party
                and relevant
                and known.windows_overlap(area.start_s, area.end_s)
                and known.bands_overlap(area.floor_m, area.ceiling_m)
                and area.shape.overlaps(known.shape)
            ):
                zones.setdefault(known.owner, []).append(known)
        units: dict[str, list[Track]] = {}
        if area.end_s > now:
            bounds = [copy.bounds for copy in area.shape.copies]
            for key in sorted(self._tracks):
                track = self._tracks[key]
                lat, lon = track.lat, track.lon
                if (
                    track.party != sender_party
                    and track.domain in domains
                    and (track.domain != AIR or area.floor_m <= track.alt <= area.ceiling_m)
                    and any(b[0] <= lon <= b[2] and b[1] <= lat <= b[3] for b in bounds)
                    and area.shape.contains(lat, lon)
                ):
                    units.setdefault(track.party, []).append(track)
        findings = []
        name = _ACTIVITY_NAMES[activity]
        fallback: common_pb2.Domain.ValueType = {
            messages_pb2.ACTIVITY_TYPE_FLIGHT: common_pb2.DOMAIN_AIR,
            messages_pb2.ACTIVITY_TYPE_GROUND_MOVEMENT: common_pb2.DOMAIN_GROUND,
        }.get(activity, common_pb2.DOMAIN_UNSPECIFIED)
        mismatch = self._notice_mismatch(name, sender_party, area, domains, now)
        if mismatch is not None:
            findings.append(mismatch)
        for party in sorted(set(zones) | set(units)):
            # One alert per hotline concerned: units by their domain's hotline, zones by
            # the hotline of the one domain they restrict (else the activity's).
            units_by: dict[common_pb2.Domain.ValueType, list[Track]] = {}
            for track in units.get(party, []):
                units_by.setdefault(_hotline_domain(track.domain), []).append(track)
            zones_by: dict[common_pb2.Domain.ValueType, list[KnownZone]] = {}
            for known in zones.get(party, []):
                hotlines = {_hotline_domain(d) for d in known.domains}
                heard_on = hotlines.pop() if len(hotlines) == 1 else fallback
                zones_by.setdefault(heard_on, []).append(known)
            for domain in sorted(set(units_by) | set(zones_by)):
                findings.append(
                    self._notice_conflict(
                        name,
                        sender_party,
                        party,
                        domain=domain,
                        held_units=units_by.get(domain, []),
                        held_zones=zones_by.get(domain, []),
                    )
                )
        return findings

    def _notice_mismatch(
        self,
        name: str,
        sender_party: str,
        area: input_checks.NoticeArea,
        domains: frozenset[common_pb2.Domain.ValueType],
        now: float,
    ) -> Finding | None:
        own = [
            self._tracks[key]
            for key in sorted(self._tracks)
            if key[0] == sender_party and self._tracks[key].domain in domains
        ]
        minima = self._minima
        found = nearest_unit(area, own, now, minima.stale_after_s)
        if found is None or found[1] <= minima.notice_mismatch_m:
            return None
        track, distance = found
        summary = (
            f"Notice mismatch: {name} notice from {sender_party} is {distance / 1000:.1f} km "
            f"from the nearest of its {len(own)} unit(s) concerned ({_describe(track)}); "
            "the area may be wrong"
        )
        message = alert(
            _K.ALERT_KIND_NOTICE_MISMATCH,
            summary,
            unit_ids=(track.key[1],),
            parties=(sender_party,),
            location=area.shape.representative_point(),
            distance_m=distance,
        )
        # No party: the alert goes to exercise control only.
        return Finding(alert=message, domain=common_pb2.DOMAIN_UNSPECIFIED, parties=())

    @staticmethod
    def _notice_conflict(
        name: str,
        sender_party: str,
        party: str,
        *,
        domain: common_pb2.Domain.ValueType,
        held_units: list[Track],
        held_zones: list[KnownZone],
    ) -> Finding:
        what = []
        if held_units:
            names = _listing([t.callsign or t.key[1] for t in held_units])
            what.append(f"{len(held_units)} {party} unit(s) ({names})")
        if held_zones:
            zone_names = _listing([z.zone.name or z.zone_id for z in held_zones])
            what.append(f"{party} zone(s) {zone_names}")
        location = (
            (held_units[0].lat, held_units[0].lon)
            if held_units
            else held_zones[0].shape.representative_point()
        )
        parties = parties_of(sender_party, party)
        message = alert(
            _K.ALERT_KIND_NOTICE_CONFLICT,
            f"Notice conflict: {name} notice from {sender_party} covers {' and '.join(what)}",
            unit_ids=tuple(t.key[1] for t in held_units),
            zone_ids=tuple(z.zone_id for z in held_zones),
            parties=parties,
            location=location,
        )
        return Finding(alert=message, domain=domain, parties=parties)

    # -- picture ----------------------------------------------------------------------

    def picture(self, now: float) -> Picture:
        """Zones, last known units by party, and the alerts of episodes still open."""
        accepted = sorted(self._accepted.zones.values(), key=lambda k: k.zone_id)
        units: dict[str, list[TrackedUnit]] = {}
        for key in sorted(self._tracks):
            track = self._tracks[key]
            stale = not track.is_fresh(now, self._minima.stale_after_s)
            units.setdefault(track.party, []).append(
                TrackedUnit(party=track.party, position=track.position(), stale=stale)
            )
        open_alerts: list[acknowledgments_pb2.Alert] = []
        for key in sorted(self._incursions):
            held = self._incursions[key]
            open_alerts.extend(held[z].alert for z in sorted(held))
        for pair in sorted(self._pairs):
            episode = self._pairs[pair]
            open_alerts.extend(a for a in (episode.breach, episode.prediction) if a is not None)
        return Picture(
            active_zones=tuple(k.zone for k in accepted if k.effective_at(now)),
            accepted_zones=tuple(k.zone for k in accepted),
            proposed_zones=tuple(
                k.zone for k in sorted(self._proposed.zones.values(), key=lambda k: k.zone_id)
            ),
            units={party: tuple(tracked) for party, tracked in units.items()},
            open_alerts=tuple(open_alerts),
        )


def _elapsed(seconds: float) -> str:
    """A duration as a duty officer says it: 45 s, 12 min 5 s, 2 h 3 min."""
    whole = max(round(seconds), 0)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def _listing(names: list[str], most: int = 5) -> str:
    return ", ".join(names[:most]) + (", ..." if len(names) > most else "")
