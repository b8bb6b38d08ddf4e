"""A finished job's picture never changes after the fact, whatever identical jobs come later."""

from __future__ import annotations

import pytest

from sketchbridge.domain.models import GenerationParams, GenerationRequest, JobRecord, JobStatus
from sketchbridge.services.get_generation import get_generation
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.process_job import process_job
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import FakeObjectStore, FakeProvider, fake_dependencies, sketch_data_url


def _request(cache: str, *, provider: str = "local") -> GenerationRequest:
    # No seed: each run draws its own, so two runs of the same request differ in bytes
    # and share one cache key (the case a user reported).
    return GenerationRequest(
        sketch=sketch_data_url(),
        prompt="a sea turtle, watercolor",
        provider=provider,
        params=GenerationParams(steps=2, width=128, height=128),
        cache=cache,  # type: ignore[arg-type]
    )


def _generate(deps: Dependencies, user: str, cache: str) -> JobRecord:
    job = submit_generation(_request(cache), user_id=user, deps=deps)
    process_job(job.id, receive_count=1, deps=deps)
    record = deps.jobs.get(job.id)
    assert record is not None and record.status is JobStatus.SUCCEEDED
    assert record.result_key is not None
    return record


def _bytes_of(deps: Dependencies, record: JobRecord) -> bytes:
    assert record.result_key is not None
    return deps.objects.get(record.result_key)


@pytest.mark.parametrize("cache", ["bypass", "refresh"])
def test_a_cached_result_keeps_its_bytes_when_another_user_sends_the_same_with_cache_off(
    cache: str,
) -> None:
    deps = fake_dependencies()
    first = _generate(deps, "ada", "use")
    ada_saw = _bytes_of(deps, first)

    second = _generate(deps, "bob", cache)

    bob_saw = _bytes_of(deps, second)
    assert bob_saw != ada_saw  # a new picture was drawn (else this test proves nothing)
    again = deps.jobs.get(first.id)
    assert again is not None and again.result_key == first.result_key
    assert _bytes_of(deps, again) == ada_saw
    shown = get_generation(first.id, user_id="ada", deps=deps).result
    assert shown is not None and f"/{first.result_key}?" in shown.url


def test_a_refresh_moves_the_cache_to_its_new_picture_and_a_bypass_does_not() -> None:
    deps = fake_dependencies()
    first = _generate(deps, "ada", "use")
    bypassed = _generate(deps, "bob", "bypass")
    cached = deps.cache.get(first.fingerprint)
    assert cached is not None and cached.result_key == first.result_key

    refreshed = _generate(deps, "bob", "refresh")

    cached = deps.cache.get(first.fingerprint)
    assert cached is not None and cached.result_key == refreshed.result_key
    hit = submit_generation(_request("use"), user_id="cy", deps=deps)
    assert hit.cached is True and hit.result is not None
    assert f"/{refreshed.result_key}?" in hit.result.url
    assert len({first.result_key, bypassed.result_key, refreshed.result_key}) == 3


def test_a_stored_result_is_never_replaced_by_a_second_put() -> None:
    objects = FakeObjectStore()
    assert objects.put_new("results/f/j.png", b"first", content_type="image/png")
    assert not objects.put_new("results/f/j.png", b"second", content_type="image/png")
    assert objects.get("results/f/j.png") == b"first"


def test_a_cache_using_job_does_not_reuse_a_picture_drawn_with_the_cache_bypassed() -> None:
    provider = FakeProvider()
    deps = fake_dependencies(provider=provider)
    bypassed = submit_generation(_request("bypass", provider="fake"), user_id="bob", deps=deps)
    process_job(bypassed.id, receive_count=1, deps=deps)

    # Nothing is cached, so this job reaches the processor: it draws its own picture.
    job = submit_generation(_request("use", provider="fake"), user_id="ada", deps=deps)
    process_job(job.id, receive_count=1, deps=deps)

    assert provider.calls == 2
    record = deps.jobs.get(job.id)
    assert record is not None and record.result_key is not None
    assert record.result_key.endswith(f"/{job.id}.png")
