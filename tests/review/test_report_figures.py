"""The report's figures and limits, from logs built record by record: the statistics'
definitions, a message never answered, text that must not become markup, and a log
far longer than the tables."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from hotline.server.review.latency import percentile, summarize
from hotline.server.review.report import build_report, estimated_height
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    exercise_pb2,
    log_pb2,
    messages_pb2,
    positions_pb2,
)

A = acknowledgments_pb2
AIR = common_pb2.HOTLINE_AIR_OPERATIONS
T0 = 1_800_000_000.0


# ---------------------------------------------------------------------- statistics


def test_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    summary = summarize([4.0, 1.0, 3.0, 2.0])
    assert summary.count == 4
    assert summary.median == 2.5
    assert summary.worst == 4.0


def test_p90_is_the_nearest_rank_value_that_occurred() -> None:
    values = [float(n) for n in range(1, 11)]
    assert percentile(values, 0.9) == 9.0
    assert summarize(values).p90 == 9.0
    # 11 values: rank ceil(9.9) = 10.
    assert percentile([float(n) for n in range(1, 12)], 0.9) == 10.0
    assert summarize([7.5]) == summarize([7.5])
    one = summarize([7.5])
    assert (one.median, one.p90, one.worst) == (7.5, 7.5, 7.5)


def test_no_values_give_no_figures() -> None:
    empty = summarize([])
    assert (empty.count, empty.median, empty.p90, empty.worst) == (0, None, None, None)
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.9)
    with pytest.raises(ValueError, match="not in"):
        percentile([1.0], 0.0)


# ---------------------------------------------------------------------- records


def stamp(seconds: float) -> Timestamp:
    whole, nanos = divmod(round(seconds * 1e9), 1_000_000_000)
    return Timestamp(seconds=whole, nanos=nanos)


class Log:
    """Builds a log record by record, as the server would write it."""

    def __init__(self) -> None:
        self.records: list[log_pb2.LogRecord] = []
        exercise = exercise_pb2.Exercise(exercise_id="drill", name="Drill")
        for party in ("BLUE", "RED"):
            exercise.parties.add(party_id=party)
            exercise.stations.add(ref=common_pb2.StationRef(party=party, hotline=AIR))
        self.add(0.0, log_pb2.RECORD_KIND_EXERCISE_STARTED, exercise=exercise)

    def add(self, at: float, kind: int, **fields: object) -> log_pb2.LogRecord:
        record = log_pb2.LogRecord(index=len(self.records), kind=kind, **fields)  # type: ignore[arg-type]
        record.recorded_at.CopyFrom(stamp(T0 + at))
        self.records.append(record)
        return record

    def envelope(self, at: float, sender: str, message_id: str, **body: object) -> None:
        envelope = envelope_pb2.Envelope(
            message_id=message_id,
            sender=common_pb2.StationRef(party=sender, hotline=AIR),
            hotline=AIR,
            priority=common_pb2.PRIORITY_IMMEDIATE,
            **body,  # type: ignore[arg-type]
        )
        self.add(
            at,
            log_pb2.RECORD_KIND_ENVELOPE,
            hotline=AIR,
            actor=f"{sender}/AIR_OPERATIONS" if sender else "server",
            correlation_id=message_id,
            envelope=envelope,
        )

    def ack(self, at: float, party: str, message_id: str, kind: int, late: float = 0.0) -> None:
        ack = A.Acknowledgment(
            message_id=message_id,
            kind=kind,  # type: ignore[arg-type]
            responder=common_pb2.StationRef(party=party, hotline=AIR),
        )
        if late:
            ack.lateness.CopyFrom(Duration(seconds=int(late), nanos=round(late % 1 * 1e9)))
        self.envelope(at, party, f"ack-{len(self.records)}", acknowledgment=ack)

    def missed(self, at: float, message_id: str, deadline: int, due: float) -> None:
        missed = log_pb2.DeadlineMissed(
            message_id=message_id,
            station=common_pb2.StationRef(party="RED", hotline=AIR),
            deadline=deadline,  # type: ignore[arg-type]
            station_online=True,
        )
        missed.due_at.CopyFrom(stamp(T0 + due))
        self.add(at, log_pb2.RECORD_KIND_DEADLINE_MISSED, hotline=AIR, deadline_missed=missed)

    def pairs(self) -> Iterator[tuple[int, log_pb2.LogRecord]]:
        return ((r.index, r) for r in self.records)


def seconds_of(page: str, row: str, stat: str) -> float:
    found = re.search(
        rf'<tr id="{row}"[^>]*>.*?data-stat="{stat}" data-seconds="([0-9.]+)"', page, re.DOTALL
    )
    assert found is not None, (row, stat)
    return float(found.group(1))


def test_latency_and_time_lost_of_answered_and_unanswered_messages() -> None:
    log = Log()
    text = messages_pb2.TextMessage
    for n, answer_after in enumerate((2.0, 4.0, 9.0)):
        sent = 10.0 * (n + 1)
        log.envelope(sent, "BLUE", f"m{n}", text=text(text=f"message {n}"))
        log.ack(sent + 0.5, "RED", f"m{n}", A.ACK_KIND_RECEIPT)
        late = max(0.0, answer_after - 5.0)
        log.ack(sent + answer_after, "RED", f"m{n}", A.ACK_KIND_WILCO, late)
    # Never answered: its response deadline (5 s) passed at 105, the log ends at 120.
    log.envelope(100.0, "BLUE", "silent", text=text(text="anyone?"))
    log.missed(105.0, "silent", log_pb2.DEADLINE_KIND_RESPONSE, due=105.0)
    log.add(120.0, log_pb2.RECORD_KIND_SERVER_STOPPED)

    page = build_report(log.pairs(), None, title="Drill")
    row = "latency-hotline-AIR_OPERATIONS"
    assert seconds_of(page, row, "receipt-median") == pytest.approx(0.5)
    assert seconds_of(page, row, "response-median") == pytest.approx(4.0)
    assert seconds_of(page, row, "response-worst") == pytest.approx(9.0)
    # Time lost: 2, 4, 9 and 20 (the silent message, to the end of the log).
    assert seconds_of(page, row, "time-lost-median") == pytest.approx(6.5)
    assert seconds_of(page, row, "time-lost-worst") == pytest.approx(20.0)
    assert seconds_of(page, row, "past-deadline-worst") == pytest.approx(15.0)
    assert seconds_of(page, "message-10", "past-deadline") == pytest.approx(15.0)
    assert "unanswered past its deadline when the log ended" in page
    assert 'data-verification="not-verified"' in page
    assert "<title>Drill</title>" in page


def test_text_from_the_log_never_becomes_markup() -> None:
    log = Log()
    hostile = '<script>alert("x")</script><img src="http://example.com/x.png">'
    log.envelope(1.0, "BLUE", "m<1>", text=messages_pb2.TextMessage(text=hostile))
    note = log_pb2.Annotation(author="<b>trainer</b>", text=hostile, bookmark='"quoted"')
    log.add(2.0, log_pb2.RECORD_KIND_ANNOTATION, actor="trainer", annotation=note)
    page = build_report(log.pairs(), None, title="<i>Drill</i>")
    assert "<script" not in page
    assert "<img" not in page
    assert "<i>Drill" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;b&gt;trainer&lt;/b&gt;" in page


def test_an_empty_log_still_gives_a_report() -> None:
    page = build_report(iter(()), None, title="")
    assert "The log holds no records." in page
    assert "No positions, zones or located alerts were recorded." in page
    assert "No message took an operator response." in page


def test_a_long_log_gives_a_bounded_report_whose_figures_count_everything() -> None:
    log = Log()
    messages = 3_000
    for n in range(messages):
        at = 1.0 + n
        log.envelope(at, "BLUE", f"m{n}", text=messages_pb2.TextMessage(text=f"call {n}"))
        log.ack(at + 0.1, "RED", f"m{n}", A.ACK_KIND_RECEIPT)
        log.ack(at + 0.2, "RED", f"m{n}", A.ACK_KIND_ROGER)
        positions = positions_pb2.PositionReport(
            positions=[
                positions_pb2.UnitPosition(
                    unit_id="FENCER-11",
                    domain=common_pb2.DOMAIN_AIR,
                    latitude=35.0 + n * 1e-4,
                    longitude=40.0 + n * 1e-4,
                )
            ]
        )
        log.envelope(at + 0.3, "RED", f"p{n}", position_report=positions)
    page = build_report(log.pairs(), None, title="Long")
    assert 'data-fact="messages"><span class="value">3,000<' in page
    assert seconds_of(page, "latency-party-RED", "response-worst") == pytest.approx(0.2)
    assert page.count('<tr id="r') == 400
    assert "more entries not shown" in page
    assert "2,950 more messages not shown" in page
    # One track, thinned: far fewer points than fixes.
    (points,) = re.findall(r'<polyline points="([^"]+)" fill="none" stroke="#c62828"', page)
    assert len(points.split()) <= 20_000
    assert len(page) < 600_000
    assert estimated_height(page) <= 16_000
