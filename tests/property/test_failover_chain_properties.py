"""The failover chain and its shared circuit breakers under any sequence of outcomes and time.

Two to four providers each answer with whatever the test scripts next (success, an outage, a
timeout, a 429 with or without Retry-After, used-up credit, a refused key, a safety refusal,
an invalid input), taking any time to do it, while a fake clock moves on between jobs. Each
job runs the real ``run_chain`` over the in-memory twins of the shared stores. Whatever
happens:

- no provider is called unless its breaker allows a call at that moment (closed, or this
  very call holds the half-open probe lease);
- a policy refusal (``content_policy``, ``invalid_input``) ends the chain, unless the admin
  lets it fail over;
- the chain ends in one success or one final error, within the job's time budget, and stops
  early only on success, on a refusal, or when the budget is spent;
- every call and every skip is a hop, in order, with the outcome the provider gave.

The providers answer at once in real time (only the fake clock moves), so the chain's
first-byte watchdog, which waits in real time, never fires.
"""

from __future__ import annotations

import io
from collections import deque
from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule
from PIL import Image

from sketchbridge.domain.circuit_breaker import BreakerPolicy, BreakerState
from sketchbridge.domain.errors import (
    AuthFailedError,
    ContentPolicyError,
    InvalidRequestError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    QuotaExhaustedError,
    RateLimitedError,
    SketchbridgeError,
)
from sketchbridge.domain.provider_profile import ProviderProfile
from sketchbridge.domain.rate_limit import TokenBucket
from sketchbridge.providers.base import (
    ProgressCallback,
    ProgressUpdate,
    ProviderRequest,
    ProviderResult,
)
from sketchbridge.providers.local import LOCAL_CAPABILITIES
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.provider_chain import (
    MIN_CALL_BUDGET_S,
    ChainFailedError,
    ChainResult,
    Hop,
    run_chain,
)
from tests.support.fakes import (
    FakeBreakerStore,
    FakeLatencyStore,
    FakeRateLimiter,
    fake_dependencies,
)

T0 = 1_795_608_000.0
NAMES = ("replicate", "openai", "bedrock", "local")
REFUSALS = frozenset({"content_policy", "invalid_input"})
KINDS = (
    "ok",
    "unavailable",
    "timeout",
    "rate_limited",
    "quota",
    "auth",
    "content_policy",
    "invalid_input",
)
CODES = {
    "ok": "ok",
    "unavailable": "provider_unavailable",
    "timeout": "timeout",
    "rate_limited": "rate_limited",
    "quota": "quota_exhausted",
    "auth": "auth_failed",
    "content_policy": "content_policy",
    "invalid_input": "invalid_input",
}


@dataclass(frozen=True)
class Outcome:
    kind: str
    seconds: float  # how long the provider takes to give it, on the fake clock
    retry_after_s: float | None = None  # rate_limited only

    def error(self, provider: str) -> SketchbridgeError | None:
        message = f"{provider}: scripted {self.kind}"
        if self.kind == "unavailable":
            return ProviderUnavailableError(message, provider=provider)
        if self.kind == "timeout":
            return ProviderTimeoutError(message, provider=provider)
        if self.kind == "rate_limited":
            return RateLimitedError(message, provider=provider, retry_after_s=self.retry_after_s)
        if self.kind == "quota":
            return QuotaExhaustedError(message, provider=provider)
        if self.kind == "auth":
            return AuthFailedError(message, provider=provider)
        if self.kind == "content_policy":
            return ContentPolicyError(message, provider=provider)
        if self.kind == "invalid_input":
            return InvalidRequestError(message)
        return None


@dataclass(frozen=True)
class Call:
    provider: str
    at: float
    breaker: BreakerState  # the provider's shared breaker as the call went out
    budget_s: float  # the timeout the call was given
    outcome: Outcome


@dataclass
class ScriptedProvider:
    """Answers with the scripted outcomes in turn (then success), moving the fake clock."""

    name: str
    machine: FailoverChainMachine
    outcomes: deque[Outcome] = field(default_factory=deque)
    model: str = "scripted-1"
    description: str = "A provider whose answers the test scripts."
    is_ai: bool = False
    capabilities = LOCAL_CAPABILITIES

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        outcome = self.outcomes.popleft() if self.outcomes else Outcome("ok", 0.5)
        machine = self.machine
        machine.calls.append(
            Call(
                provider=self.name,
                at=machine.now,
                breaker=machine.breakers.load(self.name),
                budget_s=request.timeout_s,
                outcome=outcome,
            )
        )
        # A provider keeps to the budget it is given: past it, it gives up (its timeout).
        machine.now += min(outcome.seconds, request.timeout_s)
        error = outcome.error(self.name)
        if error is not None:
            raise error
        on_progress(ProgressUpdate(step=1, total_steps=1))
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), (200, 100, 50)).save(buffer, "PNG")
        return ProviderResult(
            image_png=buffer.getvalue(), width=8, height=8, model=self.model, seed=request.seed
        )


DURATIONS = st.sampled_from([0.0, 0.2, 1.0, 5.0, 20.0, 60.0])
outcomes = st.one_of(
    st.builds(Outcome, kind=st.sampled_from(KINDS), seconds=DURATIONS),
    # A 429 and what it asks for: nothing, a wait short enough to honour, or a long one.
    st.builds(
        Outcome,
        kind=st.just("rate_limited"),
        seconds=DURATIONS,
        retry_after_s=st.none() | st.sampled_from([0.5, 1.0, 2.0, 5.0, 60.0]),
    ),
)
rate_limits = st.sampled_from(
    [
        TokenBucket(capacity=100, refill_per_s=100.0),
        TokenBucket(capacity=2, refill_per_s=0.1),
        TokenBucket(capacity=1, refill_per_s=1 / 60),
    ]
)


class FailoverChainMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.breakers = FakeBreakerStore(BreakerPolicy(cooldown_s=30.0, probe_lease_s=120.0))
        self.calls: list[Call] = []
        self.providers: dict[str, ScriptedProvider] = {}
        self.profiles: dict[str, ProviderProfile] = {}
        self.deps: Dependencies | None = None
        self.failover_on_policy = False

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    @initialize(
        count=st.integers(min_value=2, max_value=4),
        limits=st.lists(rate_limits, min_size=4, max_size=4),
        failover_on_policy=st.booleans(),
    )
    def providers_are_deployed(
        self, count: int, limits: list[TokenBucket], failover_on_policy: bool
    ) -> None:
        names = NAMES[:count]
        self.providers = {name: ScriptedProvider(name, self) for name in names}
        self.profiles = {
            name: ProviderProfile(rate_limit=limit)
            for name, limit in zip(names, limits[:count], strict=True)
        }
        deps = fake_dependencies()
        deps.providers = ProviderRegistry(dict(self.providers), default=names[0])
        deps.breakers = self.breakers
        deps.rate_limiter = FakeRateLimiter()
        deps.latency = FakeLatencyStore()
        self.deps = deps
        self.failover_on_policy = failover_on_policy

    @rule(seconds=st.sampled_from([0.5, 1.0, 5.0, 29.0, 31.0, 60.0, 130.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule(data=st.data(), outcome=outcomes)
    def a_provider_will_answer(self, data: st.DataObject, outcome: Outcome) -> None:
        name = data.draw(st.sampled_from(sorted(self.providers)), label="provider")
        self.providers[name].outcomes.append(outcome)

    @precondition(lambda self: self.deps is not None)
    @rule(data=st.data(), timeout_s=st.sampled_from([10.0, 30.0, 90.0]))
    def a_job_runs(self, data: st.DataObject, timeout_s: float) -> None:
        assert self.deps is not None
        ordered = data.draw(st.permutations(sorted(self.providers)), label="order")
        order = ordered[: data.draw(st.integers(1, len(ordered)), label="length")]
        first_call = len(self.calls)
        started = self.now
        told: list[tuple[Hop, str | None]] = []

        try:
            outcome: ChainResult | ChainFailedError = run_chain(
                order,
                _request(timeout_s),
                deps=self.deps,
                profiles=self.profiles,
                on_progress=lambda update: None,
                on_hop=lambda hop, following: told.append((hop, following)),
                failover_on_policy=self.failover_on_policy,
                clock=self.clock,
                sleep=self.sleep,
            )
        except ChainFailedError as failed:
            outcome = failed
        calls = self.calls[first_call:]
        hops = outcome.hops

        _assert_breakers_allowed(calls)
        _assert_every_hop_recorded(hops, calls, order)
        assert [hop for hop, _ in told] == list(hops[: len(told)])
        assert len(told) >= len(hops) - 1, "only the hop that ends the chain may go untold"
        # One ending, within the budget.
        assert self.now - started <= timeout_s
        assert all(call.budget_s >= MIN_CALL_BUDGET_S for call in calls)
        if isinstance(outcome, ChainResult):
            assert hops[-1].outcome == "ok" and outcome.provider.name == hops[-1].provider
            assert [hop.outcome for hop in hops].count("ok") == 1
        else:
            assert all(hop.outcome != "ok" for hop in hops)
            assert isinstance(outcome.error, SketchbridgeError)
        self._assert_refusals_end_the_chain(hops, outcome)
        self._assert_stops_early_only_for_a_reason(hops, order, outcome, started + timeout_s)

    def _assert_refusals_end_the_chain(
        self, hops: tuple[Hop, ...], outcome: ChainResult | ChainFailedError
    ) -> None:
        refused = [index for index, hop in enumerate(hops) if hop.outcome in REFUSALS]
        if self.failover_on_policy or not refused:
            return
        assert refused == [len(hops) - 1], "a policy refusal was failed over"
        assert isinstance(outcome, ChainFailedError)
        assert outcome.error.code == hops[-1].outcome

    def _assert_stops_early_only_for_a_reason(
        self,
        hops: tuple[Hop, ...],
        order: list[str],
        outcome: ChainResult | ChainFailedError,
        deadline: float,
    ) -> None:
        if isinstance(outcome, ChainResult) or not hops:
            return
        reached = order.index(hops[-1].provider)
        if reached == len(order) - 1:
            return  # every provider was tried or skipped
        ended_by_refusal = hops[-1].outcome in REFUSALS and not self.failover_on_policy
        out_of_budget = deadline - self.now < MIN_CALL_BUDGET_S
        assert ended_by_refusal or out_of_budget, (
            f"stopped at {hops[-1]} with {order[reached + 1 :]} left and budget to spare"
        )


def _request(timeout_s: float) -> ProviderRequest:
    return ProviderRequest(
        sketch=Image.new("RGB", (8, 8), "white"),
        prompt="a sea turtle",
        negative_prompt=None,
        seed=1,
        steps=1,
        strength=0.8,
        guidance_scale=7.5,
        width=8,
        height=8,
        timeout_s=timeout_s,
    )


def _assert_breakers_allowed(calls: list[Call]) -> None:
    """Each call found its breaker closed, or half-open with this job holding the probe lease
    (taken just before its first call to that provider, and kept for a retry it honours)."""
    lease_taken_at: dict[str, float] = {}
    for call in calls:
        lease_taken_at.setdefault(call.provider, call.at)
        breaker = call.breaker
        holds_the_probe = (
            breaker.status == "half_open"
            and breaker.probe_started_at == lease_taken_at[call.provider]
        )
        assert breaker.status == "closed" or holds_the_probe, (
            f"{call.provider} was called at {call.at - T0:g} s while its breaker was {breaker}"
        )


def _assert_every_hop_recorded(hops: tuple[Hop, ...], calls: list[Call], order: list[str]) -> None:
    called = [hop for hop in hops if hop.called]
    assert [hop.provider for hop in called] == [call.provider for call in calls]
    assert [hop.outcome for hop in called] == [CODES[call.outcome.kind] for call in calls]
    # Providers are reached in the planned order, each once (a retry stays on the same one).
    visited = [
        hop.provider
        for index, hop in enumerate(hops)
        if index == 0 or hops[index - 1].provider != hop.provider
    ]
    assert visited == order[: len(visited)]
    for hop in hops:
        if not hop.called:
            assert hop.seconds == 0.0 and hop.provider not in {call.provider for call in calls}


TestFailoverChainMachine = FailoverChainMachine.TestCase
TestFailoverChainMachine.settings = settings(max_examples=50, stateful_step_count=30, deadline=None)
