"""Jobs that cannot finish end visibly: dead letters fail them, the sweep revives or fails them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sketchbridge.domain.models import GenerationParams, GenerationRequest, JobStatus
from sketchbridge.services import subscriptions
from sketchbridge.services.dead_letters import (
    DEAD_LETTER_MESSAGE,
    DeadLetterOutcome,
    handle_dead_letter,
)
from sketchbridge.services.get_generation import get_generation
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.process_job import process_job
from sketchbridge.services.submit_generation import submit_generation
from sketchbridge.services.sweep import (
    BATCH_QUEUED_FOR_S,
    QUEUED_FOR_S,
    RUNNING_GRACE_S,
    sweep,
)
from tests.support.fakes import FakeProvider, FakeTokenVerifier, fake_dependencies, sketch_data_url


def _request(**fields: object) -> GenerationRequest:
    return GenerationRequest.model_validate(
        {
            "sketch": sketch_data_url(),
            "prompt": "a lighthouse at dusk",
            "provider": "fake",
            "params": GenerationParams(steps=2, width=128, height=128),
            **fields,
        }
    )


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def deps(provider: FakeProvider) -> Dependencies:
    return fake_dependencies(provider=provider)


def _messages(deps: Dependencies) -> list[str]:
    """The job ids now on the queue; the queue is emptied, as a consumer would."""
    job_ids = [message.job_id for message in deps.queue.messages]  # type: ignore[attr-defined]
    deps.queue.messages.clear()  # type: ignore[attr-defined]
    return job_ids


def _watch(deps: Dependencies, job_id: str, user: str = "ada") -> str:
    """Subscribe a WebSocket client to the job; its connection id."""
    connection_id = f"{user}-socket"
    subscriptions.connect(connection_id, f"valid:{user}", verifier=FakeTokenVerifier(), deps=deps)
    subscriptions.subscribe(
        connection_id, subscriptions.SubscribeMessage(action="subscribe", id=job_id), deps=deps
    )
    return connection_id


def _frames(deps: Dependencies, connection_id: str) -> list[dict[str, Any]]:
    return [json.loads(f) for f in deps.pusher.frames.get(connection_id, [])]  # type: ignore[attr-defined]


def _claimed_by_a_processor_that_died(deps: Dependencies, job_id: str) -> None:
    claimed = deps.jobs.claim(
        job_id, now=int(deps.clock().timestamp()), lease_seconds=deps.job_lease_seconds
    )
    assert claimed is not None


def _after_the_lease(deps: Dependencies) -> None:
    deps.clock.advance(deps.job_lease_seconds + RUNNING_GRACE_S + 1)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- dead letters


def test_a_dead_lettered_job_fails_with_a_reason_its_watchers_hear(deps: Dependencies) -> None:
    job = submit_generation(_request(), user_id="ada", deps=deps)
    _messages(deps)
    socket = _watch(deps, job.id)

    assert handle_dead_letter(job.id, deps=deps) is DeadLetterOutcome.FAILED

    seen = get_generation(job.id, user_id="ada", deps=deps)
    assert seen.status is JobStatus.FAILED and seen.error is not None
    assert seen.error.message == DEAD_LETTER_MESSAGE
    assert seen.error.suggestions and seen.error.retryable
    last = _frames(deps, socket)[-1]
    assert (last["type"], last["status"], last["seq"]) == ("error", "failed", seen.seq)
    assert last["error"]["message"] == DEAD_LETTER_MESSAGE


def test_the_jobs_that_followed_a_dead_lettered_job_fail_with_it(deps: Dependencies) -> None:
    leader = submit_generation(_request(), user_id="ada", deps=deps)
    follower = submit_generation(_request(), user_id="bob", deps=deps)
    assert _messages(deps) == [leader.id]
    bobs_socket = _watch(deps, follower.id, user="bob")

    handle_dead_letter(leader.id, deps=deps)

    seen = get_generation(follower.id, user_id="bob", deps=deps)
    assert seen.status is JobStatus.FAILED and seen.error is not None
    assert seen.error.message == DEAD_LETTER_MESSAGE
    # Bob's client hears of his own job id only.
    assert {frame["job_id"] for frame in _frames(deps, bobs_socket)} == {follower.id}
    assert _frames(deps, bobs_socket)[-1]["type"] == "error"
    # The next identical request is not left following a dead job.
    again = submit_generation(_request(), user_id="cy", deps=deps)
    assert _messages(deps) == [again.id]


def test_a_dead_letter_for_a_job_that_already_ended_changes_nothing(deps: Dependencies) -> None:
    job = submit_generation(_request(), user_id="ada", deps=deps)
    for job_id in _messages(deps):
        process_job(job_id, receive_count=1, deps=deps)
    socket = _watch(deps, job.id)
    before = _frames(deps, socket)

    assert handle_dead_letter(job.id, deps=deps) is DeadLetterOutcome.ALREADY_DONE

    assert get_generation(job.id, user_id="ada", deps=deps).status is JobStatus.SUCCEEDED
    assert _frames(deps, socket) == before


def test_a_dead_letter_leaves_a_job_that_a_live_delivery_holds(deps: Dependencies) -> None:
    job = submit_generation(_request(), user_id="ada", deps=deps)
    _claimed_by_a_processor_that_died(deps, job.id)  # alive, as far as anyone can tell

    assert handle_dead_letter(job.id, deps=deps) is DeadLetterOutcome.STILL_RUNNING
    assert get_generation(job.id, user_id="ada", deps=deps).status is JobStatus.RUNNING


def test_a_dead_letter_for_an_unknown_job_is_dropped(deps: Dependencies) -> None:
    assert handle_dead_letter("no-such-job", deps=deps) is DeadLetterOutcome.MISSING


# ---------------------------------------------------------------- the sweep


def test_a_job_whose_processor_died_is_queued_again_and_then_finishes(
    deps: Dependencies, provider: FakeProvider
) -> None:
    job = submit_generation(_request(priority="batch"), user_id="ada", deps=deps)
    _messages(deps)  # the message was taken by the processor that died
    _claimed_by_a_processor_that_died(deps, job.id)
    socket = _watch(deps, job.id)
    _after_the_lease(deps)

    report = sweep(deps=deps)

    assert report.requeued == [job.id]
    assert deps.queue.priorities[-1] == "batch"  # type: ignore[attr-defined]
    assert _frames(deps, socket)[-1]["status"] == "queued"
    for job_id in _messages(deps):
        process_job(job_id, receive_count=1, deps=deps)
    assert get_generation(job.id, user_id="ada", deps=deps).status is JobStatus.SUCCEEDED
    assert provider.calls == 1


def test_a_job_that_keeps_dying_is_failed_once_its_attempts_are_spent(
    deps: Dependencies, provider: FakeProvider
) -> None:
    job = submit_generation(_request(), user_id="ada", deps=deps)
    follower = submit_generation(_request(), user_id="bob", deps=deps)
    for _ in range(deps.max_receive_count):
        _messages(deps)
        _claimed_by_a_processor_that_died(deps, job.id)
        _after_the_lease(deps)
        report = sweep(deps=deps)

    assert job.id in report.failed and follower.id in report.failed
    for owner, job_id in (("ada", job.id), ("bob", follower.id)):
        seen = get_generation(job_id, user_id=owner, deps=deps)
        assert seen.status is JobStatus.FAILED and seen.error is not None
        assert seen.error.suggestions, owner
    assert provider.calls == 0


def test_a_queued_job_whose_message_was_lost_is_sent_once_more_then_failed(
    deps: Dependencies,
) -> None:
    job = submit_generation(_request(), user_id="ada", deps=deps)
    _messages(deps)  # lost
    deps.clock.advance(QUEUED_FOR_S + 1)  # type: ignore[attr-defined]

    first = sweep(deps=deps)
    assert first.resent == [job.id]
    assert _messages(deps) == [job.id]  # ...and lost again
    deps.clock.advance(RUNNING_GRACE_S)  # type: ignore[attr-defined]
    assert sweep(deps=deps).failed == []  # too soon to give up
    deps.clock.advance(QUEUED_FOR_S)  # type: ignore[attr-defined]

    second = sweep(deps=deps)

    assert second.failed == [job.id] and second.resent == []
    seen = get_generation(job.id, user_id="ada", deps=deps)
    assert seen.status is JobStatus.FAILED and seen.error is not None
    assert "queue" in seen.error.message


def test_batch_work_waiting_behind_a_backlog_is_given_hours_not_minutes(
    deps: Dependencies,
) -> None:
    job = submit_generation(_request(priority="batch"), user_id="ada", deps=deps)
    _messages(deps)  # still in the batch queue, far back
    deps.clock.advance(2 * 3600)  # type: ignore[attr-defined]

    assert sweep(deps=deps).resent == []
    deps.clock.advance(BATCH_QUEUED_FOR_S)  # type: ignore[attr-defined]

    assert sweep(deps=deps).resent == [job.id]
    assert deps.queue.priorities[-1] == "batch"  # type: ignore[attr-defined]


def test_a_resent_job_that_then_runs_is_not_failed(deps: Dependencies) -> None:
    job = submit_generation(_request(), user_id="ada", deps=deps)
    _messages(deps)
    deps.clock.advance(QUEUED_FOR_S + 1)  # type: ignore[attr-defined]
    sweep(deps=deps)
    for job_id in _messages(deps):
        process_job(job_id, receive_count=1, deps=deps)
    deps.clock.advance(QUEUED_FOR_S + 1)  # type: ignore[attr-defined]

    assert sweep(deps=deps).failed == []
    assert get_generation(job.id, user_id="ada", deps=deps).status is JobStatus.SUCCEEDED


def test_jobs_within_their_lease_or_recently_queued_are_left_alone(deps: Dependencies) -> None:
    running = submit_generation(_request(), user_id="ada", deps=deps)
    _claimed_by_a_processor_that_died(deps, running.id)
    queued = submit_generation(_request(prompt="a barn owl"), user_id="ada", deps=deps)
    deps.clock.advance(deps.job_lease_seconds)  # type: ignore[attr-defined]

    report = sweep(deps=deps)

    assert (report.requeued, report.resent, report.failed) == ([], [], [])
    assert get_generation(queued.id, user_id="ada", deps=deps).status is JobStatus.QUEUED


def test_the_sweep_never_overrides_a_processor_that_took_the_job_meanwhile(
    deps: Dependencies,
) -> None:
    job = submit_generation(_request(), user_id="ada", deps=deps)
    _messages(deps)
    _claimed_by_a_processor_that_died(deps, job.id)
    _after_the_lease(deps)
    stuck = deps.jobs.stuck

    def stuck_then_taken_over(**kwargs: Any) -> Any:
        found = stuck(**kwargs)
        # A redelivered message claims the job between the sweep's read and its write.
        _claimed_by_a_processor_that_died(deps, job.id)
        return found

    deps.jobs.stuck = stuck_then_taken_over  # type: ignore[method-assign]

    report = sweep(deps=deps)

    assert report.skipped == [job.id] and report.requeued == []
    assert _messages(deps) == []
    assert get_generation(job.id, user_id="ada", deps=deps).status is JobStatus.RUNNING


def test_a_follower_left_behind_by_its_finished_leader_gets_the_result(
    deps: Dependencies,
) -> None:
    leader = submit_generation(_request(), user_id="ada", deps=deps)
    follower = submit_generation(_request(), user_id="bob", deps=deps)
    # The leader finished, but the processor died before handing the result on.
    deps.cache.finish_flight = lambda fingerprint, leader_job_id: []  # type: ignore[method-assign]
    for job_id in _messages(deps):
        process_job(job_id, receive_count=1, deps=deps)
    assert get_generation(follower.id, user_id="bob", deps=deps).status is JobStatus.QUEUED
    deps.clock.advance(QUEUED_FOR_S + 1)  # type: ignore[attr-defined]

    report = sweep(deps=deps)

    assert report.settled == [follower.id]
    seen = get_generation(follower.id, user_id="bob", deps=deps)
    assert seen.status is JobStatus.SUCCEEDED and seen.result is not None
    assert get_generation(leader.id, user_id="ada", deps=deps).status is JobStatus.SUCCEEDED


def test_a_follower_of_a_leader_still_in_flight_waits(deps: Dependencies) -> None:
    submit_generation(_request(), user_id="ada", deps=deps)
    follower = submit_generation(_request(), user_id="bob", deps=deps)
    deps.clock.advance(QUEUED_FOR_S + 1)  # type: ignore[attr-defined]

    report = sweep(deps=deps)

    assert follower.id not in report.failed + report.settled
    assert get_generation(follower.id, user_id="bob", deps=deps).status is JobStatus.QUEUED
