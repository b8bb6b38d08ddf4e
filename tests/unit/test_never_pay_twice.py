"""Cache, in-flight dedupe and idempotency, as a client and the bill would see them."""

from __future__ import annotations

import json

import pytest

from sketchbridge.domain.errors import ContentPolicyError, IdempotencyConflictError
from sketchbridge.domain.models import GenerationParams, GenerationRequest, JobStatus
from sketchbridge.services import subscriptions
from sketchbridge.services.get_generation import get_generation
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.process_job import process_job
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import FakeProvider, FakeTokenVerifier, fake_dependencies, sketch_data_url


def _request(**fields: object) -> GenerationRequest:
    return GenerationRequest.model_validate(
        {
            "sketch": sketch_data_url(),
            "prompt": "a sea turtle",
            "provider": "fake",
            "params": GenerationParams(steps=2, width=128, height=128),
            **fields,
        }
    )


def _run_all(deps: Dependencies) -> None:
    for message in list(deps.queue.messages):  # type: ignore[attr-defined]
        process_job(message.job_id, receive_count=1, deps=deps)
    deps.queue.messages.clear()  # type: ignore[attr-defined]


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def deps(provider: FakeProvider) -> Dependencies:
    return fake_dependencies(provider=provider)


def test_the_same_request_twice_costs_one_provider_call(
    deps: Dependencies, provider: FakeProvider
) -> None:
    first = submit_generation(_request(), user_id="ada", deps=deps)
    _run_all(deps)
    second = submit_generation(_request(), user_id="ada", deps=deps)

    assert provider.calls == 1
    assert second.status is JobStatus.SUCCEEDED and second.cached is True
    assert second.result is not None and second.id != first.id
    assert deps.queue.messages == []  # type: ignore[attr-defined]
    assert deps.metrics.total("CacheHit") == 1  # type: ignore[attr-defined]
    assert deps.metrics.total("CachedBytesServed") > 0  # type: ignore[attr-defined]


def test_without_a_seed_the_cache_still_serves_unless_a_new_variation_is_asked(
    deps: Dependencies, provider: FakeProvider
) -> None:
    unseeded = {"params": GenerationParams(steps=2, width=128, height=128)}
    submit_generation(_request(**unseeded), user_id="ada", deps=deps)
    _run_all(deps)
    again = submit_generation(_request(**unseeded), user_id="ada", deps=deps)
    fresh = submit_generation(_request(**unseeded, new_variation=True), user_id="ada", deps=deps)

    assert again.cached is True
    assert fresh.status is JobStatus.QUEUED and fresh.params.seed != again.params.seed


@pytest.mark.parametrize(("mode", "calls"), [("refresh", 2), ("bypass", 2), ("use", 1)])
def test_cache_modes(deps: Dependencies, provider: FakeProvider, mode: str, calls: int) -> None:
    submit_generation(_request(), user_id="ada", deps=deps)
    _run_all(deps)
    submit_generation(_request(cache=mode), user_id="ada", deps=deps)
    _run_all(deps)
    assert provider.calls == calls


def test_a_bypassed_result_is_not_cached(deps: Dependencies, provider: FakeProvider) -> None:
    submit_generation(_request(cache="bypass"), user_id="ada", deps=deps)
    _run_all(deps)
    assert submit_generation(_request(), user_id="ada", deps=deps).cached is False


def test_an_identical_request_in_flight_is_followed_and_both_get_the_result(
    deps: Dependencies, provider: FakeProvider
) -> None:
    leader = submit_generation(_request(), user_id="ada", deps=deps)
    follower = submit_generation(_request(), user_id="bob", deps=deps)
    subscriptions.connect("bob-socket", "valid:bob", verifier=FakeTokenVerifier(), deps=deps)
    subscriptions.subscribe(
        "bob-socket", subscriptions.SubscribeMessage(action="subscribe", id=follower.id), deps=deps
    )

    assert [m.job_id for m in deps.queue.messages] == [leader.id]  # type: ignore[attr-defined]
    _run_all(deps)

    assert provider.calls == 1
    done = get_generation(follower.id, user_id="bob", deps=deps)
    assert done.status is JobStatus.SUCCEEDED and done.result is not None
    frames = [json.loads(f) for f in deps.pusher.frames["bob-socket"]]  # type: ignore[attr-defined]
    # Bob's client only ever hears of his own job id, and sees the live progress.
    assert {f["job_id"] for f in frames} == {follower.id}
    assert [f["type"] for f in frames][-1] == "result"
    assert any(f["type"] == "progress" for f in frames)


def test_a_refused_leader_fails_its_followers_too(
    deps: Dependencies, provider: FakeProvider
) -> None:
    provider.errors.append(ContentPolicyError("Refused.", provider="fake"))
    submit_generation(_request(), user_id="ada", deps=deps)
    follower = submit_generation(_request(), user_id="bob", deps=deps)
    _run_all(deps)
    seen = get_generation(follower.id, user_id="bob", deps=deps)
    assert seen.status is JobStatus.FAILED and seen.error is not None
    assert seen.error.code == "content_policy"


def test_an_idempotency_key_returns_the_same_job(deps: Dependencies) -> None:
    first = submit_generation(_request(), user_id="ada", deps=deps, idempotency_key="k1")
    again = submit_generation(_request(), user_id="ada", deps=deps, idempotency_key="k1")
    assert again.id == first.id
    assert len(deps.queue.messages) == 1  # type: ignore[attr-defined]


def test_an_idempotency_key_reused_for_another_body_is_a_conflict(deps: Dependencies) -> None:
    submit_generation(_request(), user_id="ada", deps=deps, idempotency_key="k1")
    with pytest.raises(IdempotencyConflictError):
        submit_generation(
            _request(prompt="a whale"), user_id="ada", deps=deps, idempotency_key="k1"
        )


def test_keys_are_per_user(deps: Dependencies) -> None:
    first = submit_generation(
        _request(cache="bypass"), user_id="ada", deps=deps, idempotency_key="k"
    )
    other = submit_generation(
        _request(cache="bypass"), user_id="bob", deps=deps, idempotency_key="k"
    )
    assert other.id != first.id


def test_a_processor_killed_after_storing_the_result_does_not_pay_again(
    deps: Dependencies, provider: FakeProvider
) -> None:
    job = submit_generation(_request(), user_id="ada", deps=deps)
    real_complete = deps.jobs.complete
    deps.jobs.complete = lambda record: (_ for _ in ()).throw(SystemExit("killed"))  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        process_job(job.id, receive_count=1, deps=deps)
    deps.jobs.complete = real_complete  # type: ignore[method-assign]
    deps.clock.advance(deps.job_lease_seconds + 1)  # type: ignore[attr-defined]

    process_job(job.id, receive_count=2, deps=deps)

    assert provider.calls == 1
    assert get_generation(job.id, user_id="ada", deps=deps).status is JobStatus.SUCCEEDED


def test_seedless_providers_are_marked_non_reproducible(deps: Dependencies) -> None:
    from dataclasses import replace

    from sketchbridge.providers.local import LOCAL_CAPABILITIES

    seedless = FakeProvider(name="seedless", capabilities=replace(LOCAL_CAPABILITIES, seed=False))
    deps.providers._providers["seedless"] = seedless  # type: ignore[attr-defined]
    job = submit_generation(_request(provider="seedless"), user_id="ada", deps=deps)
    _run_all(deps)
    result = get_generation(job.id, user_id="ada", deps=deps).result
    assert result is not None and result.reproducible is False and result.seed is None


def test_a_provider_side_job_started_before_a_crash_is_resumed_not_started_again(
    deps: Dependencies,
) -> None:
    from sketchbridge.providers.base import ProgressCallback, ProviderRequest, ProviderResult

    class ResumableProvider(FakeProvider):
        """Starts a provider-side job (billed) and dies once mid-call, like a killed processor."""

        started_jobs: list[str]
        resumed: list[str]

        def generate(
            self, request: ProviderRequest, on_progress: ProgressCallback
        ) -> ProviderResult:
            if request.resume_id is not None:
                self.resumed.append(request.resume_id)
                return super().generate(request, on_progress)
            self.started_jobs.append(f"prediction-{len(self.started_jobs)}")
            assert request.on_started is not None
            request.on_started(self.started_jobs[-1])
            if len(self.started_jobs) == 1:
                raise SystemExit("processor killed mid-call")
            return super().generate(request, on_progress)

    provider = ResumableProvider(name="replicate")
    provider.started_jobs, provider.resumed = [], []
    deps.providers._providers["replicate"] = provider  # type: ignore[attr-defined]
    job = submit_generation(_request(provider="replicate"), user_id="ada", deps=deps)
    with pytest.raises(SystemExit):
        process_job(job.id, receive_count=1, deps=deps)
    deps.clock.advance(deps.job_lease_seconds + 1)  # type: ignore[attr-defined]

    process_job(job.id, receive_count=2, deps=deps)

    assert provider.started_jobs == ["prediction-0"]  # one billable start
    assert provider.resumed == ["prediction-0"]
    assert get_generation(job.id, user_id="ada", deps=deps).status is JobStatus.SUCCEEDED


def test_a_request_that_misses_just_before_its_twin_finishes_still_pays_nothing(
    deps: Dependencies, provider: FakeProvider
) -> None:
    submit_generation(_request(), user_id="ada", deps=deps)
    _run_all(deps)  # the first job finishes: cached, its flight ended
    real_get = deps.cache.get
    looks: list[str] = []

    def stale_first_look(fingerprint: str):  # type: ignore[no-untyped-def]
        # The second request's first look happened before the first job cached its result.
        looks.append(fingerprint)
        return None if len(looks) == 1 else real_get(fingerprint)

    deps.cache.get = stale_first_look  # type: ignore[method-assign]
    twin = submit_generation(_request(), user_id="bob", deps=deps)

    assert twin.cached is True and twin.status is JobStatus.SUCCEEDED
    assert deps.queue.messages == [] and provider.calls == 1  # type: ignore[attr-defined]
    assert deps.cache.flights == {}  # type: ignore[attr-defined]


def test_a_result_an_identical_job_stored_before_dying_is_used_not_paid_again(
    deps: Dependencies, provider: FakeProvider
) -> None:
    # The first job is killed after storing its result and before caching it; its
    # flight lapses before its redelivery, so an identical request takes the lead.
    first = submit_generation(_request(), user_id="ada", deps=deps)
    real_complete = deps.jobs.complete
    deps.jobs.complete = lambda record: (_ for _ in ()).throw(SystemExit("killed"))  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        process_job(first.id, receive_count=1, deps=deps)
    deps.jobs.complete = real_complete  # type: ignore[method-assign]
    deps.cache.flights.clear()  # type: ignore[attr-defined]  # the flight's lease ran out
    deps.queue.messages.clear()  # type: ignore[attr-defined]

    second = submit_generation(_request(), user_id="bob", deps=deps)
    process_job(second.id, receive_count=1, deps=deps)

    assert provider.calls == 1
    assert get_generation(second.id, user_id="bob", deps=deps).status is JobStatus.SUCCEEDED
