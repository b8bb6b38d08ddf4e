"""The circuit breaker under any interleaving of callers, answers and time.

Several callers share one breaker, as processor instances share one DynamoDB item: each asks
``allows_call``, takes the probe lease when it is due, and reports its answer whenever it
likes, in any order, possibly long after the breaker moved on. Whatever happens:

- while open and before the cool-down ends, no call is allowed;
- at most one probe is in flight with a live lease (so a provider that is down sees at most
  one call per cool-down);
- the probe's success closes the circuit; its failure reopens it;
- the state is always one the store can write and read back.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sketchbridge.domain.circuit_breaker import (
    CLOSED,
    BreakerPolicy,
    BreakerState,
    allows_call,
    on_failure,
    on_success,
    start_probe,
)

T0 = 1_795_608_000.0


@dataclass(frozen=True)
class Call:
    started_at: float
    probe_started_at: float | None  # set when this call holds (held) the probe lease


class BreakerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.policy = BreakerPolicy(cooldown_s=30, probe_lease_s=120)
        self.state: BreakerState = CLOSED
        self.now = T0
        self.in_flight: list[Call] = []
        self.calls_while_open = 0

    @rule(seconds=st.sampled_from([0.0, 0.5, 1.0, 5.0, 29.0, 30.0, 31.0, 60.0, 121.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def a_caller_asks(self) -> None:
        before = self.state
        decision = allows_call(before, self.now, self.policy)
        if before.status == "open" and before.open_until is not None:
            assert decision.allowed == (self.now >= before.open_until)
        if not decision.allowed:
            assert decision.retry_at is not None and decision.retry_at > self.now
            return
        if not decision.probe:
            assert before.status == "closed"
            self.in_flight.append(Call(self.now, None))
            return
        probing = start_probe(before, self.now, self.policy)
        assert probing is not None, "a due probe must be grantable"
        assert start_probe(probing, self.now, self.policy) is None, "a second probe got in"
        self.state = probing
        self.in_flight.append(Call(self.now, self.now))

    @precondition(lambda self: self.in_flight)
    @rule(
        pick=st.integers(min_value=0),
        ok=st.booleans(),
        retry_after_s=st.none() | st.sampled_from([0.0, 1.0, 10.0, 90.0]),
    )
    def a_call_answers(self, pick: int, ok: bool, retry_after_s: float | None) -> None:
        call = self.in_flight.pop(pick % len(self.in_flight))
        before = self.state
        is_current_probe = (
            before.status == "half_open"
            and call.probe_started_at is not None
            and call.probe_started_at == before.probe_started_at
        )
        if ok:
            self.state = on_success(
                before, self.now, self.policy, probe_started_at=call.probe_started_at
            )
        else:
            self.state = on_failure(
                before,
                self.now,
                self.policy,
                retry_after_s=retry_after_s,
                probe_started_at=call.probe_started_at,
            )
        if is_current_probe:
            assert self.state.status == ("closed" if ok else "open")
        elif before.status == "half_open":
            assert self.state == before, "only the current probe decides a half-open circuit"
        if before.status == "open":
            assert self.state.status == "open", "an open circuit closes only through a probe"
            if before.open_until is not None and self.state.open_until is not None:
                assert self.state.open_until >= before.open_until
        if self.state.status == "open" and before.status != "open":
            wait = max(self.policy.cooldown_s, retry_after_s or 0.0)
            assert self.state.open_until == self.now + wait

    @invariant()
    def at_most_one_live_probe_is_in_flight(self) -> None:
        live = [
            call
            for call in self.in_flight
            if call.probe_started_at is not None
            and self.now < call.probe_started_at + self.policy.probe_lease_s
        ]
        assert len(live) <= 1

    @invariant()
    def the_state_is_consistent_and_storable(self) -> None:
        state = self.state
        assert BreakerState.from_dict(state.to_dict()) == state
        if state.status == "open":
            assert state.open_until is not None and state.probe_started_at is None
        if state.status == "half_open":
            assert state.probe_started_at is not None
        if state.status == "closed":
            assert state.consecutive_failures < self.policy.failure_threshold
        assert 0 <= state.window_failures <= state.window_calls


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
