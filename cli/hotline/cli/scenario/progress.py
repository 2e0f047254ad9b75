"""What a run shows as it goes: injects done and next, answers, objectives, alerts and
problems; and exercise time as a clock."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Progress:
    """What the live view shows: injects done and next, answers, failures."""

    run_id: str = ""
    done: list[str] = field(default_factory=list)
    upcoming: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: The objectives as judged from the log so far: ``[MET] O1 ...``.
    objectives: list[str] = field(default_factory=list)
    met: int = 0
    #: The alerts of the run so far, oldest first: ``T+0:02:00 ACK_OVERDUE: ...``.
    alerts: list[str] = field(default_factory=list)
    now: float = 0.0


def clock_text(at: float) -> str:
    """Exercise seconds as ``H:MM:SS``."""
    minutes, secs = divmod(round(at), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
