"""How the console shows a message: one line, message ids shortened, answers named by
the ``#N`` of the message they answer, and the words that answer it."""

from __future__ import annotations

from dataclasses import dataclass

from hotline.cli import render
from hotline.cli.console.book import Book, is_zone_change, short_id
from hotline.server.describe import envelope_body, name
from hotline.v1 import acknowledgments_pb2, envelope_pb2

Envelope = envelope_pb2.Envelope
_LOUD_ALERTS = (
    acknowledgments_pb2.ALERT_KIND_ACK_OVERDUE,
    acknowledgments_pb2.ALERT_KIND_ESCALATED,
)


def describe(envelope: Envelope, book: Book) -> str:
    """``#3 IMMEDIATE BLUE [3f0c12ab] text: ...``; an answer reads ``WILCO for #3 from
    RED``."""
    sender = envelope.sender.party or "SERVER"
    head = f"#{envelope.sequence} {render.priority(envelope.priority)} {sender}"
    if envelope.escalation_of:
        head += f" (escalated from {book.reference(envelope.escalation_of)})"
    body = envelope.WhichOneof("body") or ""
    if body == "acknowledgment":
        ack = envelope.acknowledgment
        kind = name(acknowledgments_pb2.AckKind, ack.kind, "ACK_KIND_")
        reason = f": {ack.reason}" if ack.reason else ""
        said = f"{kind} for {book.reference(ack.message_id)} from {ack.responder.party}{reason}"
    else:
        said = envelope_body(envelope, body)
    return f"{head} [{short_id(envelope.message_id)}] {said}"


def answer_hint(envelope: Envelope) -> str:
    """The words that answer ``envelope``: ``answer: wilco #3 | roger #3 | unable #3
    REASON``, or accept / reject / counter for a zone proposal."""
    ref = f"#{envelope.sequence}"
    if is_zone_change(envelope):
        return f"answer: accept {ref} | reject {ref} REASON | counter {ref} --circle …"
    return f"answer: wilco {ref} | roger {ref} | unable {ref} REASON"


@dataclass(frozen=True)
class Shown:
    """A delivery as the console prints it; ``loud`` for a page or an escalation,
    which ring the terminal's bell and stand out."""

    text: str
    loud: bool


def delivery(envelope: Envelope, book: Book) -> Shown:
    """The line for a delivery: ``<- …`` for traffic, ``!! …`` for an alert, ``!!! PAGE``
    or ``!!! ESCALATED`` when this station is paged or a message is escalated."""
    loud = bool(envelope.escalation_of)
    marker = "<-"
    if envelope.WhichOneof("body") == "alert":
        alert = envelope.alert
        marker = "!!"
        if alert.kind in _LOUD_ALERTS and (
            alert.kind == acknowledgments_pb2.ALERT_KIND_ESCALATED
            or alert.station.party == book.party
        ):
            loud = True
    text = describe(envelope, book)
    if loud:
        kind = "PAGE" if marker == "!!" and not envelope.escalation_of else "ESCALATED"
        if envelope.alert.kind == acknowledgments_pb2.ALERT_KIND_ESCALATED:
            kind = "ESCALATED"
        marker = f"!!! {kind}"
    if book.owes_answer(envelope):
        text += f"   ({answer_hint(envelope)})"
    return Shown(f"{marker} {text}", loud)
