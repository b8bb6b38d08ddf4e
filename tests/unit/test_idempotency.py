"""Idempotency-Key as a retrying client sees it: the same answer, never stuck, never shared."""

from __future__ import annotations

import pytest

from sketchbridge.domain.errors import (
    IdempotencyConflictError,
    IdempotencyInProgressError,
    InternalError,
)
from sketchbridge.domain.models import GenerationParams, GenerationRequest, IdempotencyRecord
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.submit_generation import (
    IDEMPOTENT_ABANDONED_AFTER_S,
    idempotency_key_id,
    submit_generation,
)
from tests.support.fakes import FakeClock, FakeProvider, fake_dependencies, sketch_data_url


def _request(**fields: object) -> GenerationRequest:
    return GenerationRequest.model_validate(
        {
            "sketch": sketch_data_url(),
            "prompt": "a sea turtle",
            "provider": "fake",
            "params": GenerationParams(steps=2, width=128, height=128),
            "cache": "bypass",
            **fields,
        }
    )


@pytest.fixture
def deps() -> Dependencies:
    return fake_dependencies(provider=FakeProvider())


def test_a_delimiter_in_the_user_or_the_key_cannot_reach_another_users_record(
    deps: Dependencies,
) -> None:
    # Joined with "#", user "u" + key "x#k" and user "u#x" + key "k" were one record.
    first = submit_generation(_request(), user_id="u", deps=deps, idempotency_key="x#k")
    other = submit_generation(
        _request(prompt="a whale"), user_id="u#x", deps=deps, idempotency_key="k"
    )
    assert other.id != first.id and other.prompt == "a whale"
    assert idempotency_key_id("u", "x#k") != idempotency_key_id("u#x", "k")


@pytest.mark.parametrize(
    ("one", "two"),
    [(("u", "x#k"), ("u#x", "k")), (("a", '","b'), ('a","', "b")), (("", "ab"), ("a", "b"))],
)
def test_no_two_user_and_key_pairs_share_an_id(one: tuple[str, str], two: tuple[str, str]) -> None:
    assert idempotency_key_id(*one) != idempotency_key_id(*two)


def test_replaying_variations_returns_the_whole_group(deps: Dependencies) -> None:
    first = submit_generation(
        _request(variations=3), user_id="ada", deps=deps, idempotency_key="v3"
    )
    again = submit_generation(
        _request(variations=3), user_id="ada", deps=deps, idempotency_key="v3"
    )
    assert len(first.group_job_ids) == 3
    assert again.id == first.id
    assert again.group_id == first.group_id
    assert again.group_job_ids == first.group_job_ids
    assert len(deps.queue.messages) == 3  # type: ignore[attr-defined]


def test_a_failed_sketch_upload_does_not_poison_the_key(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    def s3_down(*_: object, **__: object) -> None:
        raise InternalError("The object store is unavailable.")

    with monkeypatch.context() as patched:
        patched.setattr(deps.objects, "put", s3_down)
        with pytest.raises(InternalError):
            submit_generation(_request(), user_id="ada", deps=deps, idempotency_key="retry-me")

    retried = submit_generation(_request(), user_id="ada", deps=deps, idempotency_key="retry-me")
    assert retried.status.value == "queued"
    again = submit_generation(_request(), user_id="ada", deps=deps, idempotency_key="retry-me")
    assert again.id == retried.id


def test_a_failed_enqueue_does_not_poison_the_key(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    def queue_down(*_: object, **__: object) -> None:
        raise InternalError("The queue is unavailable.")

    with monkeypatch.context() as patched:
        patched.setattr(deps.queue, "send", queue_down)
        with pytest.raises(InternalError):
            submit_generation(_request(), user_id="ada", deps=deps, idempotency_key="q")

    retried = submit_generation(_request(), user_id="ada", deps=deps, idempotency_key="q")
    assert retried.status.value == "queued"


def test_a_key_whose_first_submit_died_is_taken_over_after_the_submit_timeout(
    deps: Dependencies,
) -> None:
    # A Lambda that timed out after storing the key never forgets it.
    key_id = idempotency_key_id("ada", "orphan")
    stale = IdempotencyRecord(
        request_hash="whatever the first body hashed to",
        job_ids=["0" * 32],
        stored_at=int(deps.epoch_seconds()),
    )
    deps.idempotency.remember(key_id, stale, expires_at=0)
    assert isinstance(deps.clock, FakeClock)
    deps.clock.advance(IDEMPOTENT_ABANDONED_AFTER_S + 1)
    # A different body is still a conflict: the record says what the key was used for.
    with pytest.raises(IdempotencyConflictError):
        submit_generation(_request(), user_id="ada", deps=deps, idempotency_key="orphan")


def test_a_retry_while_the_first_is_still_storing_is_a_retryable_409(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sketchbridge.services.submit_generation.IDEMPOTENT_WAIT_S", 0.0)
    request = _request()
    first = submit_generation(request, user_id="ada", deps=deps, idempotency_key="slow")
    # As if the first job were not stored yet.
    record = deps.jobs.records.pop(first.id)  # type: ignore[attr-defined]
    with pytest.raises(IdempotencyInProgressError) as raised:
        submit_generation(request, user_id="ada", deps=deps, idempotency_key="slow")
    assert raised.value.retryable
    deps.jobs.records[first.id] = record  # type: ignore[attr-defined]


def test_an_abandoned_key_with_the_same_body_is_submitted_afresh(
    deps: Dependencies,
) -> None:
    request = _request()
    first = submit_generation(request, user_id="ada", deps=deps, idempotency_key="lost")
    deps.jobs.records.pop(first.id)  # type: ignore[attr-defined]  # it died before storing the job
    assert isinstance(deps.clock, FakeClock)
    deps.clock.advance(IDEMPOTENT_ABANDONED_AFTER_S + 1)
    fresh = submit_generation(request, user_id="ada", deps=deps, idempotency_key="lost")
    assert fresh.id != first.id and fresh.status.value == "queued"
    again = submit_generation(request, user_id="ada", deps=deps, idempotency_key="lost")
    assert again.id == fresh.id


def test_when_forgetting_the_key_fails_too_the_first_error_is_what_the_client_gets(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    def s3_down(*_: object, **__: object) -> None:
        raise InternalError("The object store is unavailable.")

    def store_down(*_: object, **__: object) -> None:
        raise InternalError("The idempotency store is unavailable.")

    monkeypatch.setattr(deps.objects, "put", s3_down)
    monkeypatch.setattr(deps.idempotency, "forget", store_down)
    with pytest.raises(InternalError, match="object store"):
        submit_generation(_request(), user_id="ada", deps=deps, idempotency_key="double-fault")
