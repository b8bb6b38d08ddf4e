"""POST /generations/{id}/cancel through the submit handler, with every real AWS adapter on moto.

The canonical cancel event (events/http_post_generation_cancel.json) is fed to the handler the
template routes it to; the queued job's SQS message then reaches the processor handler and is
consumed without drawing anything.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from sketchbridge.aws.dynamo_jobs import DynamoJobStore
from sketchbridge.domain.models import JobStatus
from tests.integration.test_handlers_against_moto import (
    OWNER,
    call,
    canonical,
    connect,
    get_generation_event,
    process,
    queued_messages,
    signed_in_as,
    submit,
    subscribe,
)
from tests.support.handlers import load_function

if TYPE_CHECKING:
    from tests.integration.conftest import EmulatedAws

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


@pytest.fixture
def handlers(cold_start: None) -> SimpleNamespace:
    """Each function freshly imported and cold, as Lambda would start it in this environment."""
    return SimpleNamespace(
        submit=load_function("submit"),
        query=load_function("query"),
        processor=load_function("processor"),
        websocket=load_function("websocket"),
    )


def cancel_event(job_id: str, user: str = OWNER) -> dict[str, Any]:
    event = canonical("http_post_generation_cancel")
    path = f"/generations/{job_id}/cancel"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"id": job_id}
    return signed_in_as(event, user)


def cancel(handlers: SimpleNamespace, job_id: str, user: str = OWNER) -> tuple[int, Any]:
    response = call(handlers.submit, cancel_event(job_id, user))
    return response["statusCode"], json.loads(response["body"])


def test_a_canceled_queued_job_is_told_to_its_subscriber_and_its_message_draws_nothing(
    handlers: SimpleNamespace, aws: EmulatedAws, jobs: DynamoJobStore
) -> None:
    job_id = submit(handlers)
    connection_id, _ = connect(handlers, aws.issuer.mint(OWNER))
    subscribe(handlers, connection_id, job_id)

    status, body = cancel(handlers, job_id)

    assert status == 200
    assert (body["id"], body["status"], body["error"]["code"]) == (job_id, "canceled", "canceled")
    last = aws.frames.received_by(connection_id)[-1]
    assert (last["type"], last["status"], last["job_id"]) == ("canceled", "canceled", job_id)
    # Idempotent: the same answer again.
    assert cancel(handlers, job_id) == (200, body)
    shown = json.loads(call(handlers.query, get_generation_event(job_id))["body"])
    assert shown["status"] == "canceled"

    # Its message is consumed (no batch item failure) without a provider call.
    assert process(handlers, aws, queued_messages(aws, job_id)) == []
    record = jobs.get(job_id)
    assert record is not None
    assert record.status is JobStatus.CANCELED
    assert (record.attempts, record.result_key, record.hops) == (0, None, [])
    assert aws.receive_messages() == []


def test_another_users_job_and_an_unknown_one_are_not_found(
    handlers: SimpleNamespace, aws: EmulatedAws, jobs: DynamoJobStore
) -> None:
    job_id = submit(handlers)

    status, body = cancel(handlers, job_id, user="mallory")
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = cancel(handlers, "0123456789abcdef0123456789abcdef")
    assert (status, body["error"]["code"]) == (404, "not_found")

    record = jobs.get(job_id)
    assert record is not None and record.status is JobStatus.QUEUED
    queued_messages(aws, job_id)  # drained, for the tests after this one


def test_a_finished_job_answers_409_job_finished_with_its_status(
    handlers: SimpleNamespace, aws: EmulatedAws, jobs: DynamoJobStore
) -> None:
    job_id = submit(handlers)
    assert process(handlers, aws, queued_messages(aws, job_id)) == []

    status, body = cancel(handlers, job_id)

    assert status == 409
    assert (body["error"]["code"], body["error"]["status"]) == ("job_finished", "succeeded")
    record = jobs.get(job_id)
    assert record is not None and record.status is JobStatus.SUCCEEDED


def test_the_job_stores_cancel_writes_hold_only_in_the_state_they_expect(
    handlers: SimpleNamespace, aws: EmulatedAws, jobs: DynamoJobStore
) -> None:
    from sketchbridge.domain.models import ErrorInfo, HopInfo

    leader_id, follower_id = submit(handlers), submit(handlers)
    queued_messages(aws, leader_id, follower_id)
    now = "2026-12-03T12:00:00+00:00"
    error = ErrorInfo(code="canceled", message="You canceled this generation.")
    follower = jobs.get(follower_id)
    assert follower is not None
    jobs.create(follower.model_copy(update={"id": "f-" + follower_id, "leader_job_id": leader_id}))

    # Not running: a cancel that expects it to run changes nothing.
    assert jobs.cancel(leader_id, error, expected=JobStatus.RUNNING, updated_at=now) is None
    # A follower moves only from the job it follows, to run itself or to follow another.
    assert (
        jobs.follow_instead(
            "f-" + follower_id, was="someone-else", leader_job_id=None, seq=9, updated_at=now
        )
        is None
    )
    alone = jobs.follow_instead(
        "f-" + follower_id, was=leader_id, leader_job_id=None, seq=9, updated_at=now
    )
    assert alone is not None and (alone.leader_job_id, alone.seq) == (None, 9)
    behind = jobs.follow_instead(
        "f-" + follower_id, was=None, leader_job_id=follower_id, seq=9, updated_at=now
    )
    assert behind is not None and behind.leader_job_id == follower_id
    # What was billed is noted only on a canceled job.
    hops = [HopInfo(provider="local", outcome="canceled", seconds=0.1)]
    assert jobs.note_canceled_cost(leader_id, cost_usd=0.5, hops=hops, updated_at=now) is None
    before = jobs.get(leader_id)
    assert before is not None
    canceled = jobs.cancel(leader_id, error, expected=JobStatus.QUEUED, updated_at=now, seq_bump=5)
    assert canceled is not None and canceled.status is JobStatus.CANCELED
    assert canceled.seq == before.seq + 5
    noted = jobs.note_canceled_cost(leader_id, cost_usd=0.5, hops=hops, updated_at=now)
    assert noted is not None and (noted.cost_usd, noted.hops) == (0.5, hops)
    assert noted.seq == canceled.seq  # no frame follows it
