"""The circuit breaker as an operator sees it: when a provider is skipped, probed, trusted again."""

from __future__ import annotations

import pytest

from sketchbridge.domain import errors
from sketchbridge.domain.circuit_breaker import (
    CLOSED,
    BreakerPolicy,
    BreakerState,
    allows_call,
    counts_against_provider,
    on_failure,
    on_success,
    start_probe,
)

POLICY = BreakerPolicy()  # 3 in a row, or 50 % of >= 5 calls in 60 s; 30 s cool-down
T0 = 1_795_608_000.0


def failures(count: int, state: BreakerState = CLOSED, *, at: float = T0) -> BreakerState:
    for i in range(count):
        state = on_failure(state, at + i * 0.1, POLICY)
    return state


def opened_at_t0() -> BreakerState:
    return failures(3, at=T0 - 0.2)  # the third failure lands at T0


def test_two_failures_in_a_row_leave_the_provider_in_use() -> None:
    state = failures(2)

    assert state.status == "closed"
    assert allows_call(state, T0 + 1, POLICY).allowed


def test_three_failures_in_a_row_open_the_circuit() -> None:
    state = failures(3)

    assert state.status == "open"


def test_a_success_between_failures_resets_the_count() -> None:
    state = failures(2)
    for i in range(5):  # enough answers that 4 failures in 9 calls stay under the rate
        state = on_success(state, T0 + 1 + i, POLICY)
    state = failures(2, state, at=T0 + 10)

    assert state.status == "closed"


def test_an_open_provider_is_skipped_without_a_call_until_the_cooldown_ends() -> None:
    state = opened_at_t0()

    for moment in (T0, T0 + 10, T0 + 29.9):
        decision = allows_call(state, moment, POLICY)
        assert not decision.allowed
        assert decision.retry_at == pytest.approx(T0 + 30)


def test_after_the_cooldown_exactly_one_caller_may_probe() -> None:
    state = opened_at_t0()
    decision = allows_call(state, T0 + 30, POLICY)
    assert decision.allowed and decision.probe

    probing = start_probe(state, T0 + 30, POLICY)
    assert probing is not None and probing.status == "half_open"

    # Every other instance is now refused, and cannot start a second probe.
    assert not allows_call(probing, T0 + 31, POLICY).allowed
    assert start_probe(probing, T0 + 31, POLICY) is None


def test_a_successful_probe_puts_the_provider_back_in_use() -> None:
    probing = start_probe(opened_at_t0(), T0 + 30, POLICY)
    assert probing is not None

    state = on_success(probing, T0 + 32, POLICY, probe_started_at=T0 + 30)

    assert state.status == "closed"
    assert state.consecutive_failures == 0
    assert allows_call(state, T0 + 33, POLICY) == allows_call(CLOSED, T0 + 33, POLICY)


def test_a_failed_probe_pauses_the_provider_for_another_cooldown() -> None:
    probing = start_probe(opened_at_t0(), T0 + 30, POLICY)
    assert probing is not None

    state = on_failure(probing, T0 + 35, POLICY, probe_started_at=T0 + 30)

    assert state.status == "open"
    assert not allows_call(state, T0 + 64, POLICY).allowed
    assert allows_call(state, T0 + 65, POLICY).probe


def test_when_the_prober_dies_another_may_probe_once_its_lease_runs_out() -> None:
    probing = start_probe(opened_at_t0(), T0 + 30, POLICY)
    assert probing is not None

    assert start_probe(probing, T0 + 30 + POLICY.probe_lease_s - 1, POLICY) is None
    assert start_probe(probing, T0 + 30 + POLICY.probe_lease_s, POLICY) is not None


def test_late_answers_from_ordinary_calls_do_not_decide_for_the_probe() -> None:
    probing = start_probe(opened_at_t0(), T0 + 30, POLICY)
    assert probing is not None

    assert on_success(probing, T0 + 31, POLICY) == probing
    assert on_failure(probing, T0 + 31, POLICY) == probing
    # Nor does the answer of an earlier prober whose lease was taken over.
    assert on_success(probing, T0 + 31, POLICY, probe_started_at=T0 + 1) == probing


def test_a_late_success_does_not_reopen_a_provider_declared_down() -> None:
    state = opened_at_t0()

    assert on_success(state, T0 + 5, POLICY) == state


def test_a_429_pauses_the_provider_at_once_for_its_retry_after() -> None:
    state = on_failure(CLOSED, T0, POLICY, retry_after_s=90)

    assert state.status == "open"
    assert allows_call(state, T0 + 89, POLICY).retry_at == pytest.approx(T0 + 90)
    assert allows_call(state, T0 + 90, POLICY).probe


def test_a_short_retry_after_still_allows_at_most_one_probe_per_cooldown() -> None:
    state = on_failure(CLOSED, T0, POLICY, retry_after_s=1)

    assert not allows_call(state, T0 + 1.5, POLICY).allowed
    assert allows_call(state, T0 + 30, POLICY).probe


def test_a_429_arriving_while_open_only_pushes_the_reopening_later() -> None:
    state = opened_at_t0()

    assert on_failure(state, T0 + 1, POLICY, retry_after_s=5).open_until == pytest.approx(T0 + 30)
    assert on_failure(state, T0 + 1, POLICY, retry_after_s=60).open_until == pytest.approx(T0 + 61)


def test_a_high_failure_rate_opens_the_circuit_without_three_in_a_row() -> None:
    state = CLOSED
    for i, ok in enumerate([False, True, False, True]):
        state = (on_success if ok else on_failure)(state, T0 + i, POLICY)
    assert state.status == "closed"  # 2 of 4: too few calls to judge

    state = on_failure(state, T0 + 4, POLICY)  # 3 of 5

    assert state.status == "open"


def test_failures_from_an_earlier_window_are_forgotten() -> None:
    state = CLOSED
    for i, ok in enumerate([False, True, False, True]):
        state = (on_success if ok else on_failure)(state, T0 + i, POLICY)

    state = on_failure(state, T0 + 61, POLICY)

    assert state.status == "closed"
    assert state.window_calls == 1


@pytest.mark.parametrize(
    "error",
    [
        errors.ProviderUnavailableError,
        errors.ProviderTimeoutError,
        errors.RateLimitedError,
        errors.QuotaExhaustedError,
        errors.AuthFailedError,
    ],
)
def test_failures_that_are_the_providers_fault_count(error: type[errors.ProviderError]) -> None:
    assert counts_against_provider(error.code)


@pytest.mark.parametrize(
    "error",
    [
        errors.ContentPolicyError,
        errors.InvalidRequestError,
        errors.InvalidParamsError,
        errors.InternalError,
    ],
)
def test_policy_refusals_and_bad_requests_never_count(
    error: type[errors.SketchbridgeError],
) -> None:
    assert not counts_against_provider(error.code)


def test_the_state_survives_a_round_trip_through_a_store() -> None:
    state = opened_at_t0()

    assert BreakerState.from_dict({**state.to_dict(), "version": 7}) == state
    assert BreakerState.from_dict({}) == CLOSED
    with pytest.raises(ValueError, match="status"):
        BreakerState.from_dict({"status": "ajar"})


def test_a_policy_that_could_never_open_is_refused() -> None:
    with pytest.raises(ValueError):
        BreakerPolicy(failure_threshold=0)
    with pytest.raises(ValueError):
        BreakerPolicy(failure_rate=1.5)
