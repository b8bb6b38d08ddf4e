"""Failover as a user (and the bill) would notice it: the next provider draws, within budget."""

from __future__ import annotations

import json
import threading

from sketchbridge.domain.errors import (
    ContentPolicyError,
    ProviderUnavailableError,
    RateLimitedError,
)
from sketchbridge.domain.models import GenerationParams, GenerationRequest, JobStatus
from sketchbridge.providers.base import (
    ProgressCallback,
    ProgressUpdate,
    ProviderRequest,
    ProviderResult,
)
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.services import subscriptions
from sketchbridge.services.get_generation import get_generation
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.process_job import process_job
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import FakeProvider, FakeTokenVerifier, fake_dependencies, sketch_data_url


def _deps(*providers: FakeProvider) -> Dependencies:
    deps = fake_dependencies()
    deps.providers = ProviderRegistry({p.name: p for p in providers}, default=providers[0].name)
    return deps


def _job(deps: Dependencies, provider: str = "auto", **fields: object) -> str:
    request = GenerationRequest.model_validate(
        {
            "sketch": sketch_data_url(),
            "prompt": "a sea turtle",
            "provider": provider,
            "params": GenerationParams(seed=1, steps=2, width=128, height=128),
            "cache": "bypass",
            **fields,
        }
    )
    job_id = submit_generation(request, user_id="ada", deps=deps).id
    subscriptions.connect("c", "valid:ada", verifier=FakeTokenVerifier(), deps=deps)
    subscriptions.subscribe(
        "c", subscriptions.SubscribeMessage(action="subscribe", id=job_id), deps=deps
    )
    return job_id


def test_an_unavailable_provider_hands_the_job_to_the_next_and_says_so() -> None:
    first = FakeProvider(
        name="replicate", errors=[ProviderUnavailableError("503", provider="replicate")]
    )
    second = FakeProvider(name="openai")
    deps = _deps(first, second)
    job_id = _job(deps, provider="replicate")

    process_job(job_id, receive_count=1, deps=deps)

    job = get_generation(job_id, user_id="ada", deps=deps)
    assert job.status is JobStatus.SUCCEEDED and job.result is not None
    assert job.result.provider == "openai"
    assert [(hop.provider, hop.outcome) for hop in job.hops] == [
        ("replicate", "provider_unavailable"),
        ("openai", "ok"),
    ]
    messages = [json.loads(f).get("message") for f in deps.pusher.frames["c"]]  # type: ignore[attr-defined]
    assert "replicate is unavailable, trying openai" in messages


def test_an_open_circuit_is_skipped_without_a_call() -> None:
    flaky = FakeProvider(
        name="replicate",
        errors=[ProviderUnavailableError("503", provider="replicate") for _ in range(3)],
    )
    steady = FakeProvider(name="openai")
    deps = _deps(flaky, steady)
    for _ in range(3):
        process_job(_job(deps, provider="replicate"), receive_count=1, deps=deps)
    assert flaky.calls == 3  # the third failure opens the circuit

    process_job(_job(deps, provider="replicate"), receive_count=1, deps=deps)

    assert flaky.calls == 3 and steady.calls == 4


def test_a_policy_refusal_never_fails_over() -> None:
    refusing = FakeProvider(
        name="replicate", errors=[ContentPolicyError("no", provider="replicate")]
    )
    other = FakeProvider(name="openai")
    deps = _deps(refusing, other)
    job_id = _job(deps, provider="replicate")
    process_job(job_id, receive_count=1, deps=deps)
    job = get_generation(job_id, user_id="ada", deps=deps)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == "content_policy" and other.calls == 0


def test_an_explicit_provider_without_failover_stays_put() -> None:
    down = FakeProvider(
        name="replicate", errors=[ProviderUnavailableError("503", provider="replicate")]
    )
    other = FakeProvider(name="openai")
    deps = _deps(down, other)
    job_id = _job(deps, provider="replicate", allow_failover=False)
    process_job(job_id, receive_count=deps.max_receive_count, deps=deps)
    assert other.calls == 0
    assert get_generation(job_id, user_id="ada", deps=deps).status is JobStatus.FAILED


def test_a_short_retry_after_is_honoured_once_on_the_same_provider() -> None:
    limited = FakeProvider(
        name="replicate", errors=[RateLimitedError("429", provider="replicate", retry_after_s=0.05)]
    )
    other = FakeProvider(name="openai")
    deps = _deps(limited, other)
    job_id = _job(deps, provider="replicate")
    process_job(job_id, receive_count=1, deps=deps)
    job = get_generation(job_id, user_id="ada", deps=deps)
    assert job.result is not None and job.result.provider == "replicate"
    assert limited.calls == 2 and other.calls == 0


class HangingProvider(FakeProvider):
    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        self.calls += 1
        threading.Event().wait(5)  # no sign of life
        raise ProviderUnavailableError("never", provider=self.name)


def test_a_hanging_provider_is_abandoned_at_its_first_byte_deadline() -> None:
    hanging = HangingProvider(name="replicate")
    other = FakeProvider(name="openai")
    deps = _deps(hanging, other)
    deps.provider_config.put("replicate", {"first_byte_deadline_s": 0.2})
    job_id = _job(deps, provider="replicate")
    process_job(job_id, receive_count=1, deps=deps)
    job = get_generation(job_id, user_id="ada", deps=deps)
    assert job.result is not None and job.result.provider == "openai"
    assert job.hops[0].outcome == "timeout" and job.hops[0].seconds < 1.0


class SaysHelloThenHangs(FakeProvider):
    """What the OpenAI and Bedrock adapters did: a line of ours before any network I/O."""

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        self.calls += 1
        on_progress(ProgressUpdate(0, 1, "Drawing…", from_provider=False))
        threading.Event().wait(5)  # then the provider says nothing
        raise ProviderUnavailableError("never", provider=self.name)


def test_a_line_the_adapter_says_before_calling_is_no_sign_of_life() -> None:
    """Issue 12: the first-byte watchdog could not fire for OpenAI or Bedrock."""
    hanging = SaysHelloThenHangs(name="replicate")
    deps = _deps(hanging, FakeProvider(name="openai"))
    deps.provider_config.put("replicate", {"first_byte_deadline_s": 0.2})
    job_id = _job(deps, provider="replicate")
    process_job(job_id, receive_count=1, deps=deps)
    job = get_generation(job_id, user_id="ada", deps=deps)
    assert job.result is not None and job.result.provider == "openai"
    assert job.hops[0].outcome == "timeout"
    assert job.hops[0].message == "replicate showed no sign of life within 0.2 s."


class SlowAfterASignOfLife(FakeProvider):
    def __init__(self, *, progress: bool, **fields: object) -> None:
        super().__init__(**fields)  # type: ignore[arg-type]
        self.progress = progress

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        if self.progress:
            on_progress(ProgressUpdate(0, 1, "queued at the provider"))
        elif request.on_started is not None:
            request.on_started("prediction-1")
        threading.Event().wait(0.6)  # past the first-byte deadline, alive all the same
        return super().generate(request, on_progress)


def test_progress_from_the_provider_disarms_the_first_byte_deadline() -> None:
    deps = _deps(SlowAfterASignOfLife(name="replicate", progress=True), FakeProvider(name="openai"))
    deps.provider_config.put("replicate", {"first_byte_deadline_s": 0.2})
    job_id = _job(deps, provider="replicate")
    process_job(job_id, receive_count=1, deps=deps)
    job = get_generation(job_id, user_id="ada", deps=deps)
    assert job.result is not None and job.result.provider == "replicate"


def test_a_provider_side_id_is_a_sign_of_life() -> None:
    deps = _deps(
        SlowAfterASignOfLife(name="replicate", progress=False), FakeProvider(name="openai")
    )
    deps.provider_config.put("replicate", {"first_byte_deadline_s": 0.2})
    job_id = _job(deps, provider="replicate")
    process_job(job_id, receive_count=1, deps=deps)
    job = get_generation(job_id, user_id="ada", deps=deps)
    assert job.result is not None and job.result.provider == "replicate"


def test_auto_never_picks_a_provider_that_cannot_honour_a_requested_seed() -> None:
    from dataclasses import replace

    from sketchbridge.providers.local import LOCAL_CAPABILITIES

    seedless = FakeProvider(name="openai", capabilities=replace(LOCAL_CAPABILITIES, seed=False))
    seeded = FakeProvider(name="replicate")
    deps = _deps(seedless, seeded)
    job_id = _job(deps)  # auto, with a seed
    process_job(job_id, receive_count=1, deps=deps)
    assert seedless.calls == 0 and seeded.calls == 1


def test_a_failed_job_records_every_provider_it_tried() -> None:
    down = FakeProvider(
        name="replicate", errors=[ProviderUnavailableError("503", provider="replicate")]
    )
    refusing = FakeProvider(name="openai", errors=[ContentPolicyError("no", provider="openai")])
    deps = _deps(down, refusing)
    job_id = _job(deps, provider="replicate")
    process_job(job_id, receive_count=1, deps=deps)
    job = get_generation(job_id, user_id="ada", deps=deps)
    assert job.status is JobStatus.FAILED
    assert [(hop.provider, hop.outcome) for hop in job.hops] == [
        ("replicate", "provider_unavailable"),
        ("openai", "content_policy"),
    ]
