"""Active health: a provider that dies while nobody uses it is marked down before a user
meets it, and one that recovers is back without a user paying for the trial call."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from sketchbridge.domain.errors import (
    AuthFailedError,
    InvalidRequestError,
    ProviderUnavailableError,
    RateLimitedError,
)
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.services.health_check import check_providers
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.provider_manager import ProviderManager
from tests.support.fakes import FakeClock, FakeMetrics, FakeProvider, fake_dependencies
from tests.support.probed_provider import ProbedProvider


@dataclass
class World:
    deps: Dependencies
    providers: dict[str, FakeProvider] = field(default_factory=dict)

    @property
    def clock(self) -> FakeClock:
        assert isinstance(self.deps.clock, FakeClock)
        return self.deps.clock

    def now(self) -> float:
        return self.deps.clock().timestamp()

    def check(self, **options: float) -> dict[str, str]:
        results = check_providers(self.deps, clock=self.now, **options)
        return {result.provider: result.outcome for result in results}

    def health(self, name: str) -> str:
        return ProviderManager(self.deps).statuses(now=self.now())[name].health

    @property
    def metrics(self) -> FakeMetrics:
        assert isinstance(self.deps.metrics, FakeMetrics)
        return self.deps.metrics


def _world(*providers: FakeProvider) -> World:
    deps = fake_dependencies()
    deps.providers = ProviderRegistry({p.name: p for p in providers}, default=providers[0].name)
    return World(deps, {p.name: p for p in providers})


def _unavailable() -> ProviderUnavailableError:
    return ProviderUnavailableError("Replicate is having trouble (HTTP 503).", provider="replicate")


def test_a_provider_that_died_while_idle_is_marked_down_after_the_failure_threshold() -> None:
    replicate = ProbedProvider(name="replicate", failure=_unavailable())
    world = _world(ProbedProvider(name="local"), replicate)

    outcomes = [world.check() for _ in range(2)]
    assert [o["replicate"] for o in outcomes] == ["provider_unavailable"] * 2
    assert world.health("replicate") == "healthy"  # two failures are not yet a pattern

    world.clock.advance(300)
    assert world.check()["replicate"] == "provider_unavailable"

    assert world.health("replicate") == "down"
    assert world.health("local") == "healthy"
    assert world.metrics.total("ProviderProbeFailed") == 3
    assert world.metrics.total("ProviderProbeSucceeded") == 3  # local, each time


def test_a_provider_with_an_open_circuit_is_not_probed_until_its_cooldown_ends() -> None:
    replicate = ProbedProvider(name="replicate", failure=_unavailable())
    world = _world(replicate)
    for _ in range(3):
        world.check()
    assert replicate.probes == 3

    assert world.check() == {"replicate": "circuit_open"}
    assert replicate.probes == 3


def test_a_recovered_provider_is_closed_again_by_the_probe_after_the_cooldown() -> None:
    replicate = ProbedProvider(name="replicate", failure=_unavailable())
    world = _world(replicate)
    for _ in range(3):
        world.check()
    assert world.health("replicate") == "down"

    replicate.failure = None
    world.clock.advance(31)  # the default cool-down is 30 s
    assert world.check() == {"replicate": "ok"}

    assert world.health("replicate") == "healthy"
    assert world.deps.breakers.load_many(["replicate"])["replicate"].status == "closed"


def test_a_probe_that_succeeds_leaves_the_eta_to_real_pictures() -> None:
    world = _world(ProbedProvider(name="replicate"))

    assert world.check() == {"replicate": "ok"}

    summary = world.deps.latency.summary("replicate", now=world.now())
    assert summary.samples == 0 and summary.p50_s is None


def test_a_failed_probe_counts_in_the_error_rate_like_a_failed_call() -> None:
    world = _world(ProbedProvider(name="replicate", failure=_unavailable()))

    world.check()

    summary = world.deps.latency.summary("replicate", now=world.now())
    assert (summary.samples, summary.error_rate) == (1, 1.0)


def test_a_rate_limit_with_retry_after_pauses_the_provider_at_once() -> None:
    limited = RateLimitedError("slow down", provider="openai", retry_after_s=60)
    world = _world(ProbedProvider(name="openai", failure=limited))

    assert world.check() == {"openai": "rate_limited"}

    assert world.health("openai") == "down"


def test_a_misconfigured_request_does_not_count_against_the_provider() -> None:
    refused = InvalidRequestError("Amazon Bedrock refused the request's parameters.")
    world = _world(ProbedProvider(name="bedrock", failure=refused))

    for _ in range(5):
        assert world.check() == {"bedrock": "invalid_input"}

    assert world.health("bedrock") == "healthy"
    assert world.metrics.total("ProviderProbeFailed") == 5


def test_a_missing_key_counts_as_the_providers_failure() -> None:
    no_key = AuthFailedError("OpenAI is not set up: no API key.", provider="openai")
    world = _world(ProbedProvider(name="openai", failure=no_key))

    for _ in range(3):
        assert world.check() == {"openai": "auth_failed"}

    assert world.health("openai") == "down"


def test_a_provider_without_a_probe_is_judged_by_its_real_calls_alone() -> None:
    passive = FakeProvider(name="legacy")
    world = _world(passive)

    assert world.check() == {"legacy": "passive_only"}

    assert world.deps.breakers.load_many(["legacy"])["legacy"].status == "closed"
    assert world.metrics.recorded == []


@pytest.fixture
def hang() -> Iterator[threading.Event]:
    released = threading.Event()
    yield released
    released.set()  # let the abandoned probe's thread end


def test_a_probe_that_hangs_is_abandoned_and_counted_as_timed_out(hang: threading.Event) -> None:
    stuck = ProbedProvider(name="replicate", hang=hang)
    world = _world(ProbedProvider(name="local"), stuck)

    outcomes = world.check(timeout_s=0.1)

    assert outcomes == {"local": "ok", "replicate": "timeout"}
    summary = world.deps.latency.summary("replicate", now=world.now())
    assert summary.error_rate == 1.0
