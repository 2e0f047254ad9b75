"""Following the log during a run, for the live view: the alerts as they come and the
objectives judged from what is recorded so far."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hotline.cli.scenario.clock import ScenarioClock
from hotline.cli.scenario.progress import Progress, clock_text
from hotline.client import HotlineClient, HotlineClientError, TransportError
from hotline.server.scenario import RunCollector, Scenario, Verdict
from hotline.v1 import acknowledgments_pb2, log_pb2


class LogFollower:
    """Reads the log from a run's start note and updates ``progress``."""

    def __init__(
        self,
        scenario: Scenario,
        progress: Progress,
        on_progress: Callable[[Progress], None],
        on_problem: Callable[[str], None],
    ) -> None:
        self.scenario = scenario
        self.progress = progress
        self.on_progress = on_progress
        self.on_problem = on_problem

    async def follow(self, control: HotlineClient, first: int, clock: ScenarioClock) -> None:
        """Follows the log from record ``first`` until cancelled: the alerts as they come,
        and the objectives judged again (on every record that may decide one, else at
        most twice a wall second). A server restart is waited out."""
        collector = RunCollector(self.scenario)
        judged_at = 0.0
        last = first - 1
        loop = asyncio.get_running_loop()
        while True:
            try:
                async for record in control.watch(resume_after_index=last):
                    last = record.index
                    collector.add(record.index, record)
                    if record.envelope.WhichOneof("body") == "alert":
                        alert = record.envelope.alert
                        kind = acknowledgments_pb2.AlertKind.Name(alert.kind)
                        self.progress.alerts.append(
                            f"T+{clock_text(clock.now())} {kind.removeprefix('ALERT_KIND_')}: "
                            f"{alert.summary}"
                        )
                    if loop.time() - judged_at >= 0.5 or _decisive(record):
                        judged_at = loop.time()
                        self._judged(collector)
            except TransportError:
                pass
            except HotlineClientError as error:
                self.on_problem(f"following the log: {error}")
                return
            # The server went away (a restart): go on after the last record seen.
            await asyncio.sleep(0.5)

    def _judged(self, collector: RunCollector) -> None:
        evaluations = collector.evaluations()
        if not evaluations:
            return
        results = evaluations[-1].objectives
        self.progress.met = sum(r.verdict is Verdict.MET for r in results)
        self.progress.objectives = [
            f"[{r.verdict.value.upper()}] {r.objective.objective_id} "
            f"{r.objective.description or r.objective.kind.value}: {r.reason}"
            for r in results
        ]
        self.on_progress(self.progress)


def _decisive(record: log_pb2.LogRecord) -> bool:
    """Whether a record may change a verdict: an operator's answer, an alert, a hotline
    suspended or resumed."""
    if record.kind in (log_pb2.RECORD_KIND_HOTLINE_SUSPENDED, log_pb2.RECORD_KIND_HOTLINE_RESUMED):
        return True
    body = record.envelope.WhichOneof("body")
    return body == "alert" or (
        body == "acknowledgment"
        and record.envelope.acknowledgment.kind != acknowledgments_pb2.ACK_KIND_RECEIPT
    )
