"""The time lost on a hotline's answered messages, summed up in bounded memory: the
count and the worst exactly, the median within 1 %."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hotline.server.acknowledgments import TimeLost

seconds = st.floats(min_value=0.0, max_value=30 * 86_400.0, allow_nan=False)


@given(st.lists(seconds, min_size=1, max_size=500))
def test_the_median_is_within_one_percent_and_the_worst_exact(lost: list[float]) -> None:
    summary = TimeLost()
    for value in lost:
        summary.add(value)
    ordered = sorted(lost)
    lower_middle = ordered[(len(ordered) + 1) // 2 - 1]
    assert summary.count == len(lost)
    assert summary.worst == max(lost)
    if lower_middle < 0.001:
        assert summary.median() < 0.001
    else:
        assert abs(summary.median() - lower_middle) <= 0.01 * lower_middle


def test_a_week_of_answers_takes_a_few_thousand_buckets_at_most() -> None:
    summary = TimeLost()
    for n in range(200_000):
        summary.add(0.0005 * 1.0001**n)  # from half a millisecond to hours
    assert summary.count == 200_000
    assert len(summary.buckets) < 3_000
