"""The token bucket: bursts up to its capacity, then calls at its refill rate, never more."""

from __future__ import annotations

import pytest

from sketchbridge.domain.rate_limit import BucketState, TokenBucket, available, take

BUCKET = TokenBucket(capacity=3, refill_per_s=0.5)  # a burst of 3, then one call every 2 s
T0 = 1_795_608_000.0


def burst(count: int, state: BucketState | None = None, *, at: float = T0) -> list[bool]:
    taken: list[bool] = []
    for _ in range(count):
        outcome = take(BUCKET, state, at)
        taken.append(outcome.acquired)
        state = outcome.state or state
    return taken


def test_a_new_bucket_allows_a_burst_of_its_capacity_and_no_more() -> None:
    assert burst(5) == [True, True, True, False, False]


def test_a_refused_call_is_told_how_long_until_a_token_is_back() -> None:
    state = None
    for _ in range(3):
        state = take(BUCKET, state, T0).state
    refused = take(BUCKET, state, T0 + 0.5)

    assert not refused.acquired
    assert refused.wait_s == pytest.approx(1.5)
    assert not take(BUCKET, state, T0 + 0.5 + refused.wait_s - 0.01).acquired
    assert take(BUCKET, state, T0 + 0.5 + refused.wait_s).acquired


def test_an_idle_bucket_refills_only_up_to_its_capacity() -> None:
    state = take(BUCKET, None, T0).state

    assert available(BUCKET, state, T0) == pytest.approx(2)
    assert available(BUCKET, state, T0 + 3600) == pytest.approx(3)
    assert burst(5, state, at=T0 + 3600) == [True, True, True, False, False]


def test_sustained_calls_go_at_the_refill_rate() -> None:
    state = None
    acquired = 0
    for tick in range(41):  # 20 s in steps of 0.5 s, trying every time
        outcome = take(BUCKET, state, T0 + tick * 0.5)
        if outcome.acquired:
            acquired += 1
            state = outcome.state

    assert acquired == 3 + 10  # the burst, then one per 2 s


def test_taking_more_than_the_bucket_holds_is_refused_as_a_mistake() -> None:
    with pytest.raises(ValueError):
        take(BUCKET, None, T0, tokens=4)
    with pytest.raises(ValueError):
        TokenBucket(capacity=0, refill_per_s=1)
