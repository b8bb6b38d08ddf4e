"""The AWS adapters against emulated DynamoDB, S3 and SQS, on the tables template.yaml declares."""

from __future__ import annotations

import io
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from PIL import Image

from sketchbridge.aws.clients import client
from sketchbridge.aws.dynamo_connections import DynamoConnectionStore
from sketchbridge.aws.dynamo_jobs import DynamoJobStore
from sketchbridge.aws.s3_objects import S3ObjectStore
from sketchbridge.aws.sqs_queue import SqsJobQueue
from sketchbridge.domain.models import (
    ErrorInfo,
    HopInfo,
    JobMessage,
    JobRecord,
    JobStatus,
    ResolvedParams,
)
from sketchbridge.services.ports import Subscriber

if TYPE_CHECKING:
    from tests.integration.conftest import EmulatedAws

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

NOW = 1_795_608_000
LEASE = 60
STAMP = "2026-11-25T12:00:00+00:00"


def queued_job(**changes: Any) -> JobRecord:
    record = JobRecord(
        id=uuid.uuid4().hex,
        user_id="ada",
        status=JobStatus.QUEUED,
        prompt="a lighthouse at dusk",
        negative_prompt="fog",
        provider_requested="auto",
        provider="local",
        model="sketchbridge-local-renderer-1",
        params=ResolvedParams(
            seed=42, steps=4, strength=0.35, guidance_scale=7.25, width=128, height=96
        ),
        sketch_key="sketches/0123abcd.png",
        fingerprint="f" * 64,
        created_at=STAMP,
        updated_at=STAMP,
        expires_at=NOW + 30 * 86_400,
    )
    return record.model_copy(update=changes)


def stored(jobs: DynamoJobStore, job_id: str) -> JobRecord:
    record = jobs.get(job_id)
    assert record is not None
    return record


# -- jobs ------------------------------------------------------------------------------------


def test_a_created_job_reads_back_unchanged_with_its_floats_and_nested_models(
    jobs: DynamoJobStore,
) -> None:
    job = queued_job(
        status=JobStatus.FAILED,
        progress=1 / 3,
        error=ErrorInfo(
            code="content_policy",
            message="The provider refused the prompt.",
            suggestions=["Rephrase the prompt.", "Try another provider."],
        ),
    )
    jobs.create(job)

    assert jobs.get(job.id) == job
    assert jobs.get(uuid.uuid4().hex) is None


def test_of_two_claims_on_a_queued_job_only_the_first_wins(jobs: DynamoJobStore) -> None:
    job = queued_job()
    jobs.create(job)

    first = jobs.claim(job.id, now=NOW, lease_seconds=LEASE)
    second = jobs.claim(job.id, now=NOW, lease_seconds=LEASE)

    assert first is not None
    assert (first.status, first.attempts, first.lease_expires_at) == (
        JobStatus.RUNNING,
        1,
        NOW + LEASE,
    )
    assert first.seq > job.seq
    assert first.params == job.params
    assert second is None
    assert stored(jobs, job.id) == first


def test_a_running_job_is_taken_over_only_once_its_lease_has_expired(
    jobs: DynamoJobStore,
) -> None:
    job = queued_job()
    jobs.create(job)
    first = jobs.claim(job.id, now=NOW, lease_seconds=LEASE)

    assert jobs.claim(job.id, now=NOW + LEASE - 1, lease_seconds=LEASE) is None
    takeover = jobs.claim(job.id, now=NOW + LEASE + 1, lease_seconds=LEASE)

    assert first is not None and takeover is not None
    assert takeover.attempts == 2
    assert takeover.lease_expires_at == NOW + 2 * LEASE + 1
    assert takeover.seq > first.seq


def test_claiming_a_job_that_does_not_exist_does_not_create_it(jobs: DynamoJobStore) -> None:
    job_id = uuid.uuid4().hex

    assert jobs.claim(job_id, now=NOW, lease_seconds=LEASE) is None
    assert jobs.get(job_id) is None


def test_progress_is_stored_only_while_the_job_runs_and_each_write_moves_seq_on(
    jobs: DynamoJobStore,
) -> None:
    job = queued_job()
    jobs.create(job)

    assert jobs.record_progress(job.id, 0.25, updated_at=STAMP) is None
    assert stored(jobs, job.id) == job  # still queued: nobody holds it

    running = jobs.claim(job.id, now=NOW, lease_seconds=LEASE)
    assert running is not None
    halfway = jobs.record_progress(job.id, 0.5, updated_at=STAMP)
    further = jobs.record_progress(job.id, 0.75, updated_at=STAMP)

    assert halfway is not None and further is not None
    assert running.seq < halfway < further
    assert (stored(jobs, job.id).progress, stored(jobs, job.id).seq) == (0.75, further)


def test_the_final_state_is_written_only_while_the_job_runs(jobs: DynamoJobStore) -> None:
    job = queued_job()
    jobs.create(job)
    succeeded = job.model_copy(
        update={"status": JobStatus.SUCCEEDED, "progress": 1.0, "result_key": "results/f.png"}
    )

    assert jobs.complete(succeeded) is False
    assert stored(jobs, job.id) == job

    running = jobs.claim(job.id, now=NOW, lease_seconds=LEASE)
    assert running is not None
    finished = succeeded.model_copy(update={"attempts": running.attempts, "seq": running.seq + 1})
    assert jobs.complete(finished) is True
    assert stored(jobs, job.id) == finished

    # A delivery that lost its lease cannot overwrite the end, nor report progress after it.
    assert jobs.complete(finished.model_copy(update={"status": JobStatus.FAILED})) is False
    assert jobs.record_progress(job.id, 0.5, updated_at=STAMP) is None
    assert stored(jobs, job.id) == finished


def test_fail_records_the_error_on_an_unfinished_job_and_returns_it(
    jobs: DynamoJobStore,
) -> None:
    job = queued_job()
    jobs.create(job)
    running = jobs.claim(job.id, now=NOW, lease_seconds=LEASE)
    error = ErrorInfo(code="timeout", message="The provider took too long.", retryable=True)

    failed = jobs.fail(job.id, error, updated_at="2026-11-25T12:05:00+00:00")

    assert running is not None and failed is not None
    assert (failed.status, failed.error, failed.lease_expires_at) == (JobStatus.FAILED, error, None)
    assert failed.seq > running.seq
    assert stored(jobs, job.id) == failed


def test_fail_never_overwrites_a_finished_job(jobs: DynamoJobStore) -> None:
    job = queued_job()
    jobs.create(job)
    running = jobs.claim(job.id, now=NOW, lease_seconds=LEASE)
    assert running is not None
    finished = job.model_copy(
        update={
            "status": JobStatus.SUCCEEDED,
            "progress": 1.0,
            "result_key": "results/f.png",
            "attempts": running.attempts,
            "seq": running.seq + 1,
        }
    )
    jobs.complete(finished)

    late = jobs.fail(job.id, ErrorInfo(code="internal", message="late"), updated_at=STAMP)

    assert late is None
    assert stored(jobs, job.id) == finished


def test_fail_on_a_job_that_does_not_exist_does_not_create_it(jobs: DynamoJobStore) -> None:
    job_id = uuid.uuid4().hex

    assert jobs.fail(job_id, ErrorInfo(code="internal", message="x"), updated_at=STAMP) is None
    assert jobs.get(job_id) is None


def test_release_puts_a_running_job_back_in_the_queue_for_the_next_delivery(
    jobs: DynamoJobStore,
) -> None:
    job = queued_job()
    jobs.create(job)
    running = jobs.claim(job.id, now=NOW, lease_seconds=LEASE)

    seq = jobs.release(job.id, updated_at="2026-11-25T12:01:00+00:00")

    released = stored(jobs, job.id)
    assert running is not None and seq is not None and seq > running.seq
    assert (released.status, released.lease_expires_at, released.attempts, released.seq) == (
        JobStatus.QUEUED,
        None,
        1,
        seq,
    )
    assert jobs.release(job.id, updated_at=STAMP) is None  # only a running job goes back
    retried = jobs.claim(job.id, now=NOW + 1, lease_seconds=LEASE)
    assert retried is not None and retried.attempts == 2


def test_a_released_job_keeps_the_hops_of_the_try_that_could_not_run(
    jobs: DynamoJobStore,
) -> None:
    """Issue 12: a job sent back after a 503 showed `hops: []`."""
    job = queued_job()
    jobs.create(job)
    jobs.claim(job.id, now=NOW, lease_seconds=LEASE)
    hop = HopInfo(
        provider="replicate",
        outcome="provider_unavailable",
        seconds=0.25,
        message="Replicate is having trouble right now (HTTP 503).",
    )

    assert jobs.release(job.id, updated_at=STAMP, hops=[hop]) is not None

    assert stored(jobs, job.id).hops == [hop]


# -- connections -----------------------------------------------------------------------------


def test_subscribers_are_the_connections_following_that_job(
    connections: DynamoConnectionStore,
) -> None:
    first, second, job, other_job = (uuid.uuid4().hex for _ in range(4))
    connections.add_connection(first, "ada", expires_at=NOW)
    connections.add_connection(second, "ada", expires_at=NOW)
    connections.subscribe(first, job, client_job_id=job, expires_at=NOW)
    connections.subscribe(
        first, job, client_job_id=job, expires_at=NOW
    )  # a client may subscribe twice
    connections.subscribe(second, job, client_job_id=job, expires_at=NOW)
    connections.subscribe(second, other_job, client_job_id=other_job, expires_at=NOW)

    assert sorted(s.connection_id for s in connections.subscribers(job)) == sorted([first, second])
    assert connections.subscribers(other_job) == [Subscriber(second, other_job)]
    assert connections.subscribers(uuid.uuid4().hex) == []
    assert connections.connection_user(first) == "ada"


def test_a_follower_subscription_is_labelled_with_the_clients_own_job(
    connections: DynamoConnectionStore,
) -> None:
    connection, leader, follower = (uuid.uuid4().hex for _ in range(3))
    connections.add_connection(connection, "ada", expires_at=NOW)
    connections.subscribe(connection, leader, client_job_id=follower, expires_at=NOW)
    assert connections.subscribers(leader) == [Subscriber(connection, follower)]


def test_removing_a_connection_forgets_it_and_all_its_subscriptions(
    connections: DynamoConnectionStore,
) -> None:
    leaving, staying, job, other_job = (uuid.uuid4().hex for _ in range(4))
    for connection_id in (leaving, staying):
        connections.add_connection(connection_id, "ada", expires_at=NOW)
        connections.subscribe(connection_id, job, client_job_id=job, expires_at=NOW)
    connections.subscribe(leaving, other_job, client_job_id=other_job, expires_at=NOW)

    connections.remove_connection(leaving)

    assert connections.connection_user(leaving) is None
    assert connections.connection_user(staying) == "ada"
    assert connections.subscribers(job) == [Subscriber(staying, job)]
    assert connections.subscribers(other_job) == []


# -- objects and the queue -------------------------------------------------------------------


def test_a_stored_image_reads_back_and_its_presigned_url_downloads_it(
    objects: S3ObjectStore,
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), (12, 34, 56)).save(buffer, format="PNG")
    key = f"results/{uuid.uuid4().hex}.png"

    objects.put(key, buffer.getvalue(), content_type="image/png")

    assert objects.get(key) == buffer.getvalue()
    response = httpx.get(objects.presigned_url(key, expires_in=300))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content == buffer.getvalue()


def test_a_stored_result_is_never_replaced_and_is_listed_under_its_prefix(
    objects: S3ObjectStore,
) -> None:
    prefix = f"results/{uuid.uuid4().hex}/"

    assert objects.put_new(f"{prefix}a.png", b"first", content_type="image/png")
    assert not objects.put_new(f"{prefix}a.png", b"second", content_type="image/png")
    assert objects.put_new(f"{prefix}b.png", b"other", content_type="image/png")

    assert objects.get(f"{prefix}a.png") == b"first"
    assert objects.keys(prefix, limit=10) == [f"{prefix}a.png", f"{prefix}b.png"]
    assert objects.keys(prefix, limit=1) == [f"{prefix}a.png"]


def test_a_sent_job_message_is_what_the_queue_delivers(aws: EmulatedAws) -> None:
    message = JobMessage(job_id=uuid.uuid4().hex)

    SqsJobQueue(client("sqs"), aws.queue_url).send(message)

    delivered = [
        JobMessage.model_validate_json(received["Body"]) for received in aws.receive_messages()
    ]
    assert delivered.count(message) == 1


# -- WebSocket tickets -------------------------------------------------------------------------


def test_a_ticket_is_taken_once_and_not_after_it_expired(
    connections: DynamoConnectionStore,
) -> None:
    ticket = uuid.uuid4().hex
    connections.add_ticket(ticket, "ada", expires_at=NOW + 60)

    assert connections.take_ticket(ticket, now=NOW) == "ada"
    assert connections.take_ticket(ticket, now=NOW) is None

    stale = uuid.uuid4().hex
    connections.add_ticket(stale, "ada", expires_at=NOW + 60)
    # TTL deletes lazily: the condition refuses an expired ticket still in the table.
    assert connections.take_ticket(stale, now=NOW + 61) is None
    assert connections.take_ticket(uuid.uuid4().hex, now=NOW) is None
