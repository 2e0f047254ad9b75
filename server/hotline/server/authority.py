"""Who may put an envelope on a hotline: a station speaks for its own party on its own
hotline; exercise control may re-inject recorded traffic as a station of the exercise.
Pure checks of a credential against an envelope, raising the refusal."""

from __future__ import annotations

from hotline.server.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from hotline.server.exercise import Exercise, hotline_name
from hotline.server.identity import Credential
from hotline.v1 import envelope_pb2

__all__ = ["authorize", "authorize_replay"]


def authorize(credential: Credential, envelope: envelope_pb2.Envelope) -> None:
    """Raises PermissionDenied unless ``credential`` is the station ``envelope`` comes
    from, on the hotline it travels on."""
    if not credential.is_participant:
        raise PermissionDenied(
            f"{credential.station_label} may not send on a hotline; only stations do"
        )
    sender = envelope.sender
    if sender.party != credential.party:
        raise PermissionDenied(
            f"sender.party: this station is {credential.party}'s; it cannot send as {sender.party}"
        )
    if sender.hotline != credential.hotline or envelope.hotline != credential.hotline:
        raise PermissionDenied(
            f"hotline: this station is on {hotline_name(credential.hotline)}; it cannot "
            f"send on {hotline_name(envelope.hotline or sender.hotline)}"
        )


def authorize_replay(exercise: Exercise, envelope: envelope_pb2.Envelope) -> None:
    """A re-injected envelope (exercise control, ``replay_of`` set) speaks for a station
    of this exercise, on that station's hotline; it is recorded with exercise control as
    the actor. Stations never set ``replay_of`` (see ``check_envelope``). Raises
    InvalidArgument or FailedPrecondition otherwise."""
    sender = envelope.sender
    if sender.hotline != envelope.hotline:
        raise InvalidArgument(
            f"hotline: a re-injected message travels on its sender's hotline "
            f"({hotline_name(sender.hotline)}), not {hotline_name(envelope.hotline)}"
        )
    if exercise.station(sender.party, envelope.hotline) is None:
        raise FailedPrecondition(
            f"sender: this exercise has no {sender.party} station on "
            f"{hotline_name(envelope.hotline)} to re-inject {envelope.replay_of!r} as; "
            "run the sandbox with the recorded exercise's stations"
        )
