"""The retry budget of a job that cannot run now, for any delivery and any Retry-After.

With the queues' maxReceiveCount of 3, the waits between tries add up to the bound the
README states: a verdict about 40 s after the first try, never more than 2 x 60 s, whatever
a provider asks for; and a provider's Retry-After is never cut short below that cap.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sketchbridge.domain.redelivery import (
    MAX_RETRY_DELAY_S,
    RETRY_DELAYS_S,
    redelivery_delay_s,
)

MAX_RECEIVE_COUNT = 3  # template.yaml's RedrivePolicy on both job queues

retry_afters = st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(st.lists(retry_afters, min_size=MAX_RECEIVE_COUNT - 1, max_size=MAX_RECEIVE_COUNT - 1))
def test_the_verdict_never_waits_longer_than_the_stated_bound(asked: list[float | None]) -> None:
    waits = [redelivery_delay_s(count, after) for count, after in enumerate(asked, start=1)]
    assert sum(waits) <= (MAX_RECEIVE_COUNT - 1) * MAX_RETRY_DELAY_S
    if all(after is None for after in asked):
        assert sum(waits) == sum(RETRY_DELAYS_S) == 40


@given(st.integers(min_value=1, max_value=50), retry_afters)
def test_a_retry_after_is_honoured_up_to_the_cap(receive_count: int, after: float | None) -> None:
    wait = redelivery_delay_s(receive_count, after)
    assert 1 <= wait <= MAX_RETRY_DELAY_S
    if after is not None:
        assert wait >= min(after, MAX_RETRY_DELAY_S)
