"""Dead letters and the sweep through their real handlers, adapters and the template's queues.

The dead letter really travels: moto moves the job's message to the dead-letter queue
after the redrive policy's maxReceiveCount receives, and the dead-letter handler gets
it in the event Lambda would hand it.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from local.provision import physical_name
from sketchbridge import bootstrap
from sketchbridge.aws.clients import client
from sketchbridge.aws.dynamo_jobs import DynamoJobStore
from sketchbridge.domain.models import JobMessage, JobStatus
from sketchbridge.services.dead_letters import DEAD_LETTER_MESSAGE
from sketchbridge.services.sweep import QUEUED_FOR_S
from tests.integration.test_handlers_against_moto import (
    OWNER,
    call,
    connect,
    post_generation_event,
    sqs_batch_event,
    subscribe,
)
from tests.support.handlers import load_function

if TYPE_CHECKING:
    from tests.integration.conftest import EmulatedAws

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

MAX_RECEIVE_COUNT = 3  # JobsQueue's redrive policy


@pytest.fixture
def handlers(cold_start: None) -> SimpleNamespace:
    return SimpleNamespace(
        submit=load_function("submit"),
        websocket=load_function("websocket"),
        deadletter=load_function("deadletter"),
        sweep=load_function("sweep"),
    )


def _queue(logical_id: str) -> tuple[str, str]:
    """The URL and ARN of one of the template's queues."""
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=physical_name(logical_id))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def _take_all(queue_url: str) -> list[dict[str, Any]]:
    """Receive every visible message and delete it: the queue is left empty."""
    sqs = client("sqs")
    taken: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
    ).get("Messages", []):
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        taken.extend(batch)
    return taken


def _job_ids(messages: list[dict[str, Any]]) -> list[str]:
    return [JobMessage.model_validate_json(message["Body"]).job_id for message in messages]


def _fail_every_delivery(queue_url: str, job_id: str) -> None:
    """Receive the job's message maxReceiveCount times without deleting it, as a processor
    that crashes on every delivery would; the next receive moves it to the dead letters."""
    sqs = client("sqs")
    received = 0
    deadline = time.monotonic() + 30
    while received < MAX_RECEIVE_COUNT and time.monotonic() < deadline:
        for message in sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", []):
            if _job_ids([message]) == [job_id]:
                received += 1
            # Visible again at once, as after the visibility timeout.
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
    assert received == MAX_RECEIVE_COUNT
    assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", []) == []


def _submit(handlers: SimpleNamespace) -> str:
    response = call(handlers.submit, post_generation_event())
    assert response["statusCode"] == 202, response["body"]
    job_id: str = json.loads(response["body"])["id"]
    return job_id


def test_a_job_whose_message_reaches_the_dead_letter_queue_is_failed_and_its_watcher_told(
    handlers: SimpleNamespace, aws: EmulatedAws, jobs: DynamoJobStore
) -> None:
    job_id = _submit(handlers)
    connection_id, _ = connect(handlers, aws.issuer.mint(OWNER))
    subscribe(handlers, connection_id, job_id)
    _fail_every_delivery(aws.queue_url, job_id)
    dead_url, dead_arn = _queue("JobsDeadLetterQueue")
    dead_letters = _take_all(dead_url)
    assert _job_ids(dead_letters) == [job_id]

    response = call(handlers.deadletter, sqs_batch_event(dead_letters, queue_arn=dead_arn))

    assert response["batchItemFailures"] == []
    failed = jobs.get(job_id)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.error is not None and failed.error.message == DEAD_LETTER_MESSAGE
    frame = aws.frames.received_by(connection_id)[-1]
    assert (frame["type"], frame["seq"], frame["error"]["message"]) == (
        "error",
        failed.seq,
        DEAD_LETTER_MESSAGE,
    )
    # Delivered again (SQS is at-least-once): nothing changes.
    call(handlers.deadletter, sqs_batch_event(dead_letters, queue_arn=dead_arn))
    assert jobs.get(job_id) == failed


def test_an_unreadable_dead_letter_is_dropped_without_failing_the_batch(
    handlers: SimpleNamespace, aws: EmulatedAws
) -> None:
    dead_url, dead_arn = _queue("JobsDeadLetterQueue")
    client("sqs").send_message(QueueUrl=dead_url, MessageBody="not a job message")

    response = call(handlers.deadletter, sqs_batch_event(_take_all(dead_url), queue_arn=dead_arn))

    assert response["batchItemFailures"] == []


def test_the_sweep_queues_a_job_whose_processor_died_and_fails_one_that_never_started(
    handlers: SimpleNamespace, aws: EmulatedAws, jobs: DynamoJobStore
) -> None:
    died_id, lost_id = _submit(handlers), _submit(handlers)
    assert set(_job_ids(_take_all(aws.queue_url))) == {died_id, lost_id}
    # A processor claimed the first long ago and died; the second's message was lost.
    assert jobs.claim(died_id, now=int(time.time()) - 3600, lease_seconds=150) is not None
    deps = bootstrap.dependencies()
    real_clock = deps.clock
    deps.clock = lambda: real_clock() + timedelta(seconds=QUEUED_FOR_S + 1)

    first = call(handlers.sweep, {})

    assert first["requeued"] >= 1 and first["resent"] >= 1
    again = _job_ids(_take_all(aws.queue_url))
    assert died_id in again and lost_id in again
    died = jobs.get(died_id)
    assert died is not None and died.status is JobStatus.QUEUED
    deps.clock = lambda: real_clock() + timedelta(seconds=2 * (QUEUED_FOR_S + 1))

    call(handlers.sweep, {})

    lost = jobs.get(lost_id)
    assert lost is not None and lost.status is JobStatus.FAILED and lost.error is not None
    assert lost.error.suggestions
    _take_all(aws.queue_url)  # other tests' leftovers the sweep sent again
