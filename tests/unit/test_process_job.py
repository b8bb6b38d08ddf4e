from __future__ import annotations

import json

import pytest

from sketchbridge.domain.errors import (
    ContentPolicyError,
    ProviderUnavailableError,
    RateLimitedError,
)
from sketchbridge.domain.models import GenerationParams, GenerationRequest, JobStatus
from sketchbridge.services import subscriptions
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.process_job import JobBusyError, Outcome, process_job
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import FakeProvider, FakeTokenVerifier, fake_dependencies, sketch_data_url


def _submit(deps: Dependencies, *, provider: str = "local", steps: int = 5) -> str:
    """A job on exactly this provider: these tests are about one provider's outcome."""
    request = GenerationRequest(
        sketch=sketch_data_url(),
        prompt="a sea turtle, watercolor",
        provider=provider,
        params=GenerationParams(seed=7, steps=steps, width=256, height=256),
        allow_failover=False,
    )
    return submit_generation(request, user_id="ada", deps=deps).id


def _watch(deps: Dependencies, job_id: str, connection: str = "conn-1") -> None:
    subscriptions.connect(connection, "valid:ada", verifier=FakeTokenVerifier(), deps=deps)
    subscriptions.subscribe(
        connection, subscriptions.SubscribeMessage(action="subscribe", id=job_id), deps=deps
    )


def _frames(deps: Dependencies, connection: str = "conn-1") -> list[dict[str, object]]:
    return [json.loads(frame) for frame in deps.pusher.frames[connection]]  # type: ignore[attr-defined]


def test_renders_stores_the_result_and_tells_the_subscriber_in_order() -> None:
    deps = fake_dependencies()
    job_id = _submit(deps, steps=5)
    _watch(deps, job_id)

    result = process_job(job_id, receive_count=1, deps=deps)

    assert result.outcome is Outcome.SUCCEEDED
    record = deps.jobs.get(job_id)
    assert record is not None and record.status is JobStatus.SUCCEEDED and record.progress == 1.0
    assert record.result_key in deps.objects.objects  # type: ignore[attr-defined]
    frames = _frames(deps)
    assert [f["type"] for f in frames] == ["status", "status"] + ["progress"] * 5 + ["result"]
    assert [f["step"] for f in frames if f["type"] == "progress"] == [1, 2, 3, 4, 5]
    progress = [f["progress"] for f in frames]
    assert progress == sorted(progress)
    assert frames[-1]["result"]["url"].startswith("https://")  # type: ignore[index]


def test_the_result_image_is_a_png_of_the_requested_size() -> None:
    from io import BytesIO

    from PIL import Image

    deps = fake_dependencies()
    job_id = _submit(deps)
    process_job(job_id, receive_count=1, deps=deps)
    record = deps.jobs.get(job_id)
    assert record is not None and record.result_key is not None
    image = Image.open(BytesIO(deps.objects.get(record.result_key)))
    assert image.format == "PNG" and image.size == (256, 256)


def test_a_redelivered_finished_job_is_not_rendered_again() -> None:
    provider = FakeProvider()
    deps = fake_dependencies(provider=provider)
    job_id = _submit(deps, provider="fake")
    process_job(job_id, receive_count=1, deps=deps)
    again = process_job(job_id, receive_count=2, deps=deps)
    assert again.outcome is Outcome.ALREADY_DONE
    assert provider.calls == 1


def test_a_duplicate_delivery_while_running_is_retried_later() -> None:
    deps = fake_dependencies()
    job_id = _submit(deps)
    deps.jobs.claim(job_id, now=int(deps.clock().timestamp()), lease_seconds=150)
    with pytest.raises(JobBusyError):
        process_job(job_id, receive_count=1, deps=deps)


def test_a_job_whose_lease_expired_is_taken_over() -> None:
    deps = fake_dependencies()
    job_id = _submit(deps)
    deps.jobs.claim(job_id, now=int(deps.clock().timestamp()), lease_seconds=150)
    deps.clock.advance(151)  # type: ignore[attr-defined]
    assert process_job(job_id, receive_count=2, deps=deps).outcome is Outcome.SUCCEEDED


def test_a_retryable_failure_goes_back_to_the_queue_then_succeeds() -> None:
    provider = FakeProvider(errors=[ProviderUnavailableError("down", provider="fake")])
    deps = fake_dependencies(provider=provider)
    job_id = _submit(deps, provider="fake")
    _watch(deps, job_id)

    with pytest.raises(ProviderUnavailableError):
        process_job(job_id, receive_count=1, deps=deps)
    assert deps.jobs.get(job_id).status is JobStatus.QUEUED  # type: ignore[union-attr]
    assert "Trying again in" in (_frames(deps)[-1]["message"] or "")  # type: ignore[operator]

    assert process_job(job_id, receive_count=2, deps=deps).outcome is Outcome.SUCCEEDED
    record = deps.jobs.get(job_id)
    assert record is not None
    assert [(hop.provider, hop.outcome) for hop in record.hops] == [
        ("fake", "provider_unavailable"),
        ("fake", "ok"),
    ]


def test_a_retryable_failure_on_the_last_delivery_is_final_and_explained() -> None:
    provider = FakeProvider(
        errors=[ProviderUnavailableError("The provider is down.", provider="fake")]
    )
    deps = fake_dependencies(provider=provider)
    job_id = _submit(deps, provider="fake")
    _watch(deps, job_id)

    result = process_job(job_id, receive_count=deps.max_receive_count, deps=deps)

    assert result.outcome is Outcome.FAILED
    record = deps.jobs.get(job_id)
    assert record is not None and record.status is JobStatus.FAILED
    assert record.error is not None and record.error.code == "provider_unavailable"
    last = _frames(deps)[-1]
    assert last["type"] == "error" and last["error"]["suggestions"]  # type: ignore[index]


def test_503_without_failover_says_why_and_when_then_fails_within_the_retry_budget() -> None:
    """Issue 12: a 503 with allow_failover false went back to the queue in silence, with no
    hop, and came back only at the 720 s visibility timeout."""
    outage = ProviderUnavailableError("The provider answered HTTP 503.", provider="fake")
    provider = FakeProvider(errors=[outage] * deps_max_tries())
    deps = fake_dependencies(provider=provider)
    job_id = _submit(deps, provider="fake")
    _watch(deps, job_id)
    delays: list[int] = []

    for delivery in range(1, deps.max_receive_count):
        with pytest.raises(ProviderUnavailableError):
            process_job(job_id, receive_count=delivery, deps=deps, retry_in=delays.append)
        record = deps.jobs.get(job_id)
        assert record is not None and record.status is JobStatus.QUEUED
        assert [hop.provider for hop in record.hops] == ["fake"] * delivery
        frame = _frames(deps)[-1]
        assert frame["type"] == "status" and frame["status"] == "queued"
        assert frame["retry_in_s"] == delays[-1]
        assert frame["message"] == (
            f"The provider answered HTTP 503. Trying again in {delays[-1]} s "
            f"(try {delivery + 1} of {deps.max_receive_count})."
        )

    result = process_job(
        job_id, receive_count=deps.max_receive_count, deps=deps, retry_in=delays.append
    )

    assert result.outcome is Outcome.FAILED
    assert delays == [10, 30]  # the verdict comes ~40 s after the first try, not 24 minutes
    record = deps.jobs.get(job_id)
    assert record is not None and record.status is JobStatus.FAILED
    assert record.error is not None and record.error.message == outage.message
    assert len(record.hops) == deps.max_receive_count
    last = _frames(deps)[-1]
    assert last["type"] == "error" and last["error"]["suggestions"]  # type: ignore[index]


def test_a_rate_limited_job_comes_back_after_the_providers_retry_after() -> None:
    limited = RateLimitedError("Slow down.", provider="fake", retry_after_s=45)
    deps = fake_dependencies(provider=FakeProvider(errors=[limited]))
    job_id = _submit(deps, provider="fake")
    delays: list[int] = []
    with pytest.raises(RateLimitedError):
        process_job(job_id, receive_count=1, deps=deps, retry_in=delays.append)
    assert delays == [45]


def deps_max_tries() -> int:
    return fake_dependencies().max_receive_count


def test_a_content_policy_refusal_is_final_at_once() -> None:
    provider = FakeProvider(errors=[ContentPolicyError("Refused.", provider="fake")])
    deps = fake_dependencies(provider=provider)
    job_id = _submit(deps, provider="fake")
    assert process_job(job_id, receive_count=1, deps=deps).outcome is Outcome.FAILED
    assert deps.jobs.get(job_id).error.code == "content_policy"  # type: ignore[union-attr]


def test_a_bug_is_recorded_on_the_last_delivery_and_still_raised_for_the_dlq() -> None:
    provider = FakeProvider(errors=[RuntimeError("boom"), RuntimeError("boom")])
    deps = fake_dependencies(provider=provider)
    job_id = _submit(deps, provider="fake")
    with pytest.raises(RuntimeError):
        process_job(job_id, receive_count=1, deps=deps)
    assert deps.jobs.get(job_id).status is JobStatus.QUEUED  # type: ignore[union-attr]
    with pytest.raises(RuntimeError):
        process_job(job_id, receive_count=deps.max_receive_count, deps=deps)
    record = deps.jobs.get(job_id)
    assert record is not None and record.status is JobStatus.FAILED
    assert record.error is not None and record.error.code == "internal"


def test_a_missing_job_is_dropped() -> None:
    deps = fake_dependencies()
    assert process_job("nope", receive_count=1, deps=deps).outcome is Outcome.MISSING


def test_a_gone_subscriber_is_forgotten() -> None:
    deps = fake_dependencies()
    job_id = _submit(deps)
    _watch(deps, job_id)
    deps.pusher.gone.add("conn-1")  # type: ignore[attr-defined]
    process_job(job_id, receive_count=1, deps=deps)
    assert deps.connections.subscribers(job_id) == []


def test_partial_images_reach_the_subscriber_as_urls_not_bytes() -> None:
    from sketchbridge.providers.base import ProgressUpdate

    class PreviewingProvider(FakeProvider):
        def generate(self, request, on_progress):  # type: ignore[no-untyped-def]
            on_progress(ProgressUpdate(step=1, total_steps=2, preview_png=b"\x89PNG partial"))
            return super().generate(request, lambda update: None)

    provider = PreviewingProvider()
    deps = fake_dependencies(provider=provider)
    job_id = _submit(deps, provider="fake")
    _watch(deps, job_id)
    process_job(job_id, receive_count=1, deps=deps)

    (preview,) = [f for f in _frames(deps) if f.get("preview_url")]
    key = f"previews/{job_id}/1.png"
    assert preview["preview_url"].endswith(f"{key}?expires=3600")  # type: ignore[union-attr]
    assert deps.objects.get(key) == b"\x89PNG partial"
    assert all(len(json.dumps(f)) < 32 * 1024 for f in _frames(deps))


def test_a_policy_refusal_suggests_a_gentler_prompt() -> None:
    provider = FakeProvider(errors=[ContentPolicyError("Refused.", provider="fake")])
    deps = fake_dependencies(provider=provider)
    request = GenerationRequest(
        sketch=sketch_data_url(),
        prompt="a turtle with a gun",
        provider="fake",
        params=GenerationParams(steps=1, width=128, height=128),
        allow_failover=False,
    )
    job_id = submit_generation(request, user_id="ada", deps=deps).id
    process_job(job_id, receive_count=1, deps=deps)
    error = deps.jobs.get(job_id).error  # type: ignore[union-attr]
    assert error is not None and "'gun'" in error.suggestions[0]
    assert error.suggestions[1] == 'Try: "a turtle with a toy"'


def test_an_outage_suggests_the_other_providers() -> None:
    provider = FakeProvider(errors=[ProviderUnavailableError("Down.", provider="fake")])
    deps = fake_dependencies(provider=provider)
    job_id = _submit(deps, provider="fake")
    process_job(job_id, receive_count=deps.max_receive_count, deps=deps)
    error = deps.jobs.get(job_id).error  # type: ignore[union-attr]
    assert error is not None and error.suggestions[0] == "Try another provider: local."
