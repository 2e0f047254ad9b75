"""Runs a scenario unattended against a live server, through the same contract as any
client: exercise control's credential for suspensions and notes, and each simulated
station's own credentials (primary and standby seats) for its messages and answers.

The run is recorded in the exercise's log: a note at the start (bookmark
``scenario:<run id>``) holding the time scale, the seed and the scenario's text, one
note per inject (bookmark ``<run id>/<inject id>``, tied to the message it sent), and a
note at the end (``scenario-end:<run id>``). The after-action report judges the
objectives from these alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from hotline.cli.scenario.clock import ScenarioClock
from hotline.cli.scenario.following import LogFollower
from hotline.cli.scenario.messages import inject_envelope
from hotline.cli.scenario.operators import SeatOperator, Spawn, StationAnswers
from hotline.cli.scenario.patience import patiently
from hotline.cli.scenario.progress import Progress, clock_text
from hotline.cli.scenario.units import UnitReporter
from hotline.client import (
    HotlineClient,
    HotlineClientError,
    Refused,
    StationClient,
    Tls,
    envelope,
)
from hotline.contract import seconds, timestamp
from hotline.server.exercise import hotline_name
from hotline.server.scenario import (
    Inject,
    InjectKind,
    Scenario,
    ScenarioError,
    Seat,
    SimulatedUnit,
    StationName,
    Window,
    scaled_exercise,
    start_note,
)
from hotline.v1 import common_pb2, envelope_pb2, zones_pb2

log = logging.getLogger(__name__)


class Credentials(Protocol):
    """Where the runner gets its tokens."""

    def control(self) -> str:
        """An exercise-control token."""
        ...

    def station(self, station: StationName, seat: Seat) -> str:
        """A token for ``station``'s ``seat``."""
        ...


@dataclass(frozen=True)
class RunResult:
    run_id: str
    first_index: int
    last_index: int
    problems: tuple[str, ...]


class ScenarioRunner:
    """One unattended run of ``scenario`` against the server at ``address``."""

    def __init__(
        self,
        scenario: Scenario,
        address: str,
        credentials: Credentials,
        *,
        tls: Tls | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        run_id: str | None = None,
        on_delivery: Callable[[envelope_pb2.Envelope], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.address = address
        self.credentials = credentials
        self.tls = tls
        self.on_progress = on_progress or (lambda progress: None)
        words = re.sub(r"[^a-z0-9]+", "-", scenario.name.lower())
        slug = words[:24].strip("-") or "scenario"
        self.run_id = run_id or f"{slug}-{secrets.token_hex(3)}"
        self.progress = Progress(run_id=self.run_id)
        #: How late each inject went out, in wall seconds (the schedule's slack).
        self.lateness: list[float] = []
        self.on_delivery = on_delivery
        # The run's state, set by run().
        self._stations: dict[tuple[StationName, Seat], SeatOperator] = {}
        self._readers: dict[tuple[StationName, Seat], asyncio.Task[None]] = {}
        self._spawn: Spawn | None = None
        self._stack: AsyncExitStack | None = None

    async def run(self) -> RunResult:
        """Plays every inject at its time and the simulated operators until the
        scenario's duration has passed; returns the log indexes of its first and last
        notes. Raises :class:`ScenarioError` when the server does not run the scenario's
        exercise at its time scale, and :class:`~hotline.client.HotlineClientError` when
        exercise control's calls are refused or do not get through. Cancelling it (Ctrl-C)
        ends the sessions cleanly and records the end."""
        scenario = self.scenario
        async with AsyncExitStack() as stack:
            control = await stack.enter_async_context(
                HotlineClient(self.address, self.credentials.control(), tls=self.tls)
            )
            await self._check_server(control)
            first = await self._note(
                control, start_note(scenario, self.run_id), bookmark=f"scenario:{self.run_id}"
            )
            clock = ScenarioClock(scenario.time_scale)
            self._stack = stack
            self._stations = await self._open_stations(stack, clock)
            reporters = await self._unit_reporters(stack, clock)
            self.progress.upcoming = [_label(i) for i in scenario.injects]
            clock.start()
            await self._preload_zones(stack, clock)
            self.on_progress(self.progress)
            try:
                async with asyncio.TaskGroup() as tasks:
                    background: list[asyncio.Task[None]] = []

                    def spawn(work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
                        task = tasks.create_task(work)
                        background.append(task)
                        return task

                    self._spawn = spawn
                    for key, seat in self._stations.items():
                        self._readers[key] = spawn(seat.run(spawn))
                    for reporter in reporters:
                        spawn(reporter.run())
                    follower = LogFollower(scenario, self.progress, self.on_progress, self._problem)
                    spawn(follower.follow(control, first, clock))
                    await self._play_injects(control, self._sender, clock)
                    await clock.until(scenario.duration)
                    for task in background:
                        task.cancel()
            finally:
                last = await _shielded_note(
                    control,
                    f"scenario {scenario.name!r} ended (run {self.run_id})",
                    f"scenario-end:{self.run_id}",
                )
        return RunResult(self.run_id, first, last or first, tuple(self.progress.problems))

    async def play_now(self, inject_id: str) -> None:
        """Plays one inject of the scenario now, by hand (``hotline control inject``):
        its times (an activity notice's window) count from now. Raises
        :class:`ScenarioError` for an inject the scenario does not have, and
        :class:`~hotline.client.HotlineClientError` when the server refuses it."""
        inject = self.scenario.inject(inject_id)
        if inject is None:
            known = ", ".join(i.inject_id for i in self.scenario.injects) or "none"
            raise ScenarioError(f"the scenario has no inject {inject_id!r} (it has {known})")
        async with AsyncExitStack() as stack:
            control = await stack.enter_async_context(
                HotlineClient(self.address, self.credentials.control(), tls=self.tls)
            )
            senders: dict[StationName, StationClient] = {}
            if inject.kind is InjectKind.MESSAGE and inject.station is not None:
                token = self.credentials.station(inject.station, Seat.PRIMARY)
                client = StationClient(self.address, token, tls=self.tls, max_backoff=1.0)
                senders[inject.station] = await stack.enter_async_context(client)
            clock = ScenarioClock(self.scenario.time_scale)
            clock.start()
            await self._play(inject, control, senders.__getitem__, clock)

    async def _check_server(self, control: HotlineClient) -> None:
        exercise = self.scenario.exercise
        if exercise is None:
            raise ScenarioError("the scenario was read without its exercise")
        served = (await control.exercise()).exercise
        wanted = scaled_exercise(exercise, self.scenario.time_scale)
        if served.exercise_id != exercise.exercise_id:
            raise ScenarioError(
                f"the server runs exercise {served.exercise_id!r}, the scenario "
                f"{exercise.exercise_id!r}: start it with 'hotline serve --scenario FILE'"
            )
        flash = common_pb2.PRIORITY_FLASH
        served_response = next(
            (seconds(d.response) for d in served.policy.deadlines if d.priority == flash), None
        )
        wanted_response = wanted.policy.deadlines[flash].response
        if served_response is None or abs(served_response - wanted_response) > 1e-3:
            raise ScenarioError(
                f"the server's FLASH response deadline is {served_response} s, the scenario "
                f"at time scale {self.scenario.time_scale:g} needs {wanted_response:g} s: "
                "start the server with 'hotline serve --scenario FILE' and the same "
                "--time-scale"
            )

    async def _open_stations(
        self, stack: AsyncExitStack, clock: ScenarioClock
    ) -> dict[tuple[StationName, Seat], SeatOperator]:
        scenario = self.scenario
        away: dict[tuple[StationName, Seat], list[Window]] = {}
        for inject in scenario.injects:
            if inject.kind is InjectKind.UNAVAILABLE and inject.station is not None:
                away.setdefault((inject.station, inject.seat), []).append(
                    Window(inject.at, inject.until)
                )
        seats: dict[tuple[StationName, Seat], SeatOperator] = {}
        for name, simulated in sorted(scenario.simulated.items()):
            shared = StationAnswers()
            for seat in Seat:
                client = StationClient(
                    self.address, self.credentials.station(name, seat), tls=self.tls,
                    max_backoff=1.0,
                )  # fmt: skip
                await stack.enter_async_context(client)
                seats[(name, seat)] = SeatOperator(
                    simulated, seat, client, clock,
                    seed=scenario.seed, ends_at=scenario.duration, shared=shared,
                    away=tuple(away.get((name, seat), ())), on_answer=self._answered,
                    on_delivery=self.on_delivery,
                )  # fmt: skip
        return seats

    async def _station_client(self, stack: AsyncExitStack, station: StationName) -> HotlineClient:
        """A one-shot client on ``station``'s primary credential (setup and unit
        reports, which are the station's acts but no operator's)."""
        client = HotlineClient(
            self.address, self.credentials.station(station, Seat.PRIMARY), tls=self.tls
        )
        return await stack.enter_async_context(client)

    async def _unit_reporters(
        self, stack: AsyncExitStack, clock: ScenarioClock
    ) -> list[UnitReporter]:
        by_station: dict[StationName, list[SimulatedUnit]] = {}
        for unit in self.scenario.units:
            by_station.setdefault(unit.reported_by, []).append(unit)
        return [
            UnitReporter(
                station,
                units,
                await self._station_client(stack, station),
                clock,
                ends_at=self.scenario.duration,
                on_problem=self._problem,
            )
            for station, units in sorted(by_station.items())
        ]

    async def _preload_zones(self, stack: AsyncExitStack, clock: ScenarioClock) -> None:
        """Proposes every preloaded zone as its owner and accepts it as the others."""
        clients: dict[StationName, HotlineClient] = {}
        for preloaded in self.scenario.zones:
            for station in (preloaded.owner, *preloaded.accepted_by):
                if station not in clients:
                    clients[station] = await self._station_client(stack, station)
            zone = zones_pb2.Zone()
            zone.CopyFrom(preloaded.zone)
            zone.owner_party = preloaded.owner.party
            zone.effective_from.CopyFrom(timestamp(clock.wall(preloaded.effective_from)))
            zone.effective_until.CopyFrom(timestamp(clock.wall(preloaded.effective_until)))
            owner = preloaded.owner
            sender = common_pb2.StationRef(party=owner.party, hotline=owner.hotline)
            proposal = envelope(sender, zones_pb2.ZoneProposal(zone=zone))
            if not await self._sent(clients[owner], proposal, f"zone {zone.zone_id}"):
                continue
            for station in preloaded.accepted_by:
                decision = zones_pb2.ZoneDecision(
                    zone_id=zone.zone_id, version=1, decision=zones_pb2.ZONE_DECISION_KIND_ACCEPT
                )
                accepter = common_pb2.StationRef(party=station.party, hotline=station.hotline)
                await self._sent(
                    clients[station], envelope(accepter, decision), f"zone {zone.zone_id}"
                )

    async def _sent(self, client: HotlineClient, message: envelope_pb2.Envelope, what: str) -> bool:
        try:
            result = await patiently(client.send, message)
        except HotlineClientError as error:
            self._problem(f"{what}: {error}")
            return False
        if result.code:
            self._problem(f"{what}: refused: {result.error}")
            return False
        return True

    def _problem(self, problem: str) -> None:
        log.warning("%s", problem)
        self.progress.problems.append(problem)
        self.on_progress(self.progress)

    def _answered(self, who: str, kind: str, at: float) -> None:
        self.progress.answers.append(f"T+{clock_text(at)} {who}: {kind}")
        self.on_progress(self.progress)

    async def _note(
        self,
        control: HotlineClient,
        text: str,
        bookmark: str = "",
        hotline: common_pb2.Hotline.ValueType = common_pb2.HOTLINE_UNSPECIFIED,
        *,
        about_sequence: int | None = None,
    ) -> int:
        """Annotates, waiting out a server restart. A note tried again after its first
        try went through finds its bookmark taken (run ids make the bookmarks the run's
        own): it is recorded, and 0 stands for its index."""
        try:
            return await patiently(
                control.annotate, text, bookmark, hotline, about_sequence=about_sequence
            )
        except Refused as refused:
            if refused.code == grpc.StatusCode.ALREADY_EXISTS and bookmark:
                return 0
            raise

    def _sender(self, station: StationName) -> StationClient:
        """The client a simulated station's messages go out on (its primary seat's)."""
        return self._stations[(station, Seat.PRIMARY)].client

    async def _play_injects(
        self,
        control: HotlineClient,
        senders: Callable[[StationName], StationClient],
        clock: ScenarioClock,
    ) -> None:
        for inject in self.scenario.injects:
            await clock.until(inject.at)
            self.lateness.append((clock.now() - inject.at) / clock.time_scale)
            try:
                await self._play(inject, control, senders, clock)
            except (HotlineClientError, ScenarioError) as error:
                self._problem(f"{inject.inject_id}: {error}")
            self.progress.now = clock.now()
            self.progress.upcoming.pop(0)
            self.progress.done.append(_label(inject))
            self.on_progress(self.progress)

    async def _play(
        self,
        inject: Inject,
        control: HotlineClient,
        senders: Callable[[StationName], StationClient],
        clock: ScenarioClock,
    ) -> None:
        bookmark = f"{self.run_id}/{inject.inject_id}"
        note = f"inject {inject.inject_id}: {inject.description or inject.kind.value}"
        if inject.kind is InjectKind.MESSAGE:
            message = inject_envelope(inject, self.run_id, clock)
            if inject.delivery_delay and self._spawn is not None:
                # Written now, delivered later: the schedule goes on meanwhile.
                self._spawn(self._deliver_late(inject, message, control, senders, clock))
            else:
                await self._deliver(inject, message, control, senders, clock)
        elif inject.kind is InjectKind.LINE_CUT:
            await self._cut(inject, control, clock, note, bookmark)
        elif inject.kind in (InjectKind.SUSPEND, InjectKind.RESUME):
            await self._suspend_or_resume(inject, control, note)
            await self._note(control, note, bookmark, inject.hotline)
        elif inject.kind is InjectKind.UNAVAILABLE:
            # The operator model already keeps the seat away; the note says so in the log.
            assert inject.station is not None
            until = clock_text(inject.until)
            await self._note(
                control,
                f"{note} ({inject.station} {inject.seat.value} away until T+{until})",
                bookmark,
                inject.station.hotline,
            )
        else:
            text = inject.text or note
            await self._note(
                control, f"inject {inject.inject_id}: {text}", bookmark, inject.hotline
            )
            if inject.bookmark:
                await self._note(control, text, f"{self.run_id}/{inject.bookmark}", inject.hotline)

    async def _deliver(
        self,
        inject: Inject,
        message: envelope_pb2.Envelope,
        control: HotlineClient,
        senders: Callable[[StationName], StationClient],
        clock: ScenarioClock,
    ) -> None:
        assert inject.station is not None
        # Delivered that long after it was written (its sent-at time), however late
        # the schedule wrote it.
        await clock.until(clock.at_wall(seconds(message.sent_at)) + inject.delivery_delay)
        result = await senders(inject.station).send_envelope(message)
        if result.code:
            raise ScenarioError(f"the server refused the message: {result.error}")
        note = f"inject {inject.inject_id}: {inject.description or 'message'}"
        if inject.delivery_delay:
            late = _span(inject.delivery_delay)
            note += f" (written at T+{clock_text(inject.at)}, delivered {late} late)"
        await self._note(
            control,
            note,
            f"{self.run_id}/{inject.inject_id}",
            inject.station.hotline,
            about_sequence=result.sequence,
        )

    async def _deliver_late(
        self,
        inject: Inject,
        message: envelope_pb2.Envelope,
        control: HotlineClient,
        senders: Callable[[StationName], StationClient],
        clock: ScenarioClock,
    ) -> None:
        try:
            await self._deliver(inject, message, control, senders, clock)
        except (HotlineClientError, ScenarioError) as error:
            self._problem(f"{inject.inject_id}: {error}")

    async def _cut(
        self, inject: Inject, control: HotlineClient, clock: ScenarioClock, note: str, bookmark: str
    ) -> None:
        """Closes the sessions of the station (or of every simulated station on the
        hotline) now; they open again at ``inject.until``, resuming with no gap."""
        assert self._spawn is not None
        cut = [
            key
            for key in self._stations
            if key[0] == inject.station
            or (inject.station is None and key[0].hotline == inject.hotline)
        ]
        if not cut:
            raise ScenarioError("no simulated station to cut")
        names = sorted({str(name) for name, _ in cut})
        until = f"T+{clock_text(inject.until)}"
        hotline = inject.station.hotline if inject.station else inject.hotline
        await self._note(
            control, f"{note} ({', '.join(names)} cut until {until})", bookmark, hotline
        )
        for key in cut:
            seat = self._stations[key]
            seat.connected.clear()
            self._readers[key].cancel()
            resume = seat.client.last_sequence
            await seat.client.close()
            self._spawn(self._restore(key, resume, inject, control, clock))

    async def _restore(
        self,
        key: tuple[StationName, Seat],
        resume: int,
        inject: Inject,
        control: HotlineClient,
        clock: ScenarioClock,
    ) -> None:
        assert self._stack is not None
        assert self._spawn is not None
        await clock.until(inject.until)
        name, position = key
        client = StationClient(
            self.address, self.credentials.station(name, position), tls=self.tls,
            resume_after=resume, max_backoff=1.0,
        )  # fmt: skip
        try:
            await self._stack.enter_async_context(client)
        except (HotlineClientError, TimeoutError) as error:
            self._problem(
                f"{inject.inject_id}: {name} {position.value} could not reconnect: {error}"
            )
            return
        seat = self._stations[key]
        seat.client = client
        seat.connected.set()
        self._readers[key] = self._spawn(seat.run(self._spawn))
        if position is Seat.PRIMARY:
            await self._note(
                control,
                f"inject {inject.inject_id}: {name}'s line restored",
                hotline=name.hotline,
            )

    async def _suspend_or_resume(self, inject: Inject, control: HotlineClient, note: str) -> None:
        """By exercise control, or by the party's station ``inject.by`` (its own act,
        on its own credential)."""
        async with AsyncExitStack() as stack:
            client = control
            if inject.by is not None:
                token = self.credentials.station(inject.by, Seat.PRIMARY)
                client = await stack.enter_async_context(
                    HotlineClient(self.address, token, tls=self.tls)
                )
            if inject.kind is InjectKind.SUSPEND:
                await patiently(client.suspend, inject.hotline, inject.reason or note)
            else:
                await patiently(client.resume, inject.hotline)


async def _shielded_note(control: HotlineClient, text: str, bookmark: str) -> int | None:
    """Records the end of the run, even while the run is being cancelled."""
    with contextlib.suppress(HotlineClientError, asyncio.CancelledError):
        return await asyncio.shield(patiently(control.annotate, text, bookmark))
    return None


def _label(inject: Inject) -> str:
    what = inject.description or inject.kind.value
    if inject.station is not None:
        what = f"{inject.station}: {what}"
    elif inject.hotline:
        what = f"{hotline_name(inject.hotline)}: {what}"
    return f"T+{clock_text(inject.at)} {inject.inject_id} {what}"


def _span(length: float) -> str:
    minutes, secs = divmod(round(length), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"
