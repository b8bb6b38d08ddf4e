"""The local SQS event source: successes deleted, failures retried, then dead-lettered."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from local.lambda_runtime import LocalFunction
from local.moto_server import MotoServer
from local.poller import QueuePoller, succeeded_receipt_handles
from local.provision import Provisioned, aws_session, provision
from local.template import load_template

REPO_ROOT = Path(__file__).resolve().parents[2]

# Fails the records whose body is "fail"; raises on a batch holding "crash".
FAKE_PROCESSOR = """
import json

SEEN = {seen_file!r}

def lambda_handler(event, context):
    with open(SEEN, "a") as log:
        log.write(json.dumps(event) + "\\n")
    bodies = [record["body"] for record in event["Records"]]
    if "crash" in bodies:
        raise RuntimeError("the whole batch failed")
    return {{"batchItemFailures": [
        {{"itemIdentifier": record["messageId"]}}
        for record in event["Records"] if record["body"] == "fail"
    ]}}
"""


@pytest.fixture
def provisioned() -> Iterator[tuple[Provisioned, str]]:
    server = MotoServer()
    endpoint = server.start()
    try:
        yield provision(load_template(REPO_ROOT / "template.yaml"), endpoint_url=endpoint), endpoint
    finally:
        server.stop()


@pytest.fixture
def sqs(provisioned: tuple[Provisioned, str]) -> Any:
    return aws_session().client("sqs", endpoint_url=provisioned[1])


@pytest.fixture
def seen_file(tmp_path: Path) -> Path:
    return tmp_path / "seen.jsonl"


@pytest.fixture
def poller(
    provisioned: tuple[Provisioned, str], sqs: Any, tmp_path: Path, seen_file: Path
) -> QueuePoller:
    resources, endpoint = provisioned
    (source,) = [
        source
        for source in resources.queue_event_sources
        if source.queue_url == resources.physical_ids["JobsQueue"]
    ]
    # Failed messages come back at once instead of after the template's visibility timeout,
    # so retries happen on the next poll.
    sqs.set_queue_attributes(QueueUrl=source.queue_url, Attributes={"VisibilityTimeout": "0"})
    (tmp_path / "app.py").write_text(FAKE_PROCESSOR.format(seen_file=str(seen_file)))
    config = replace(resources.functions[source.function_id], code_uri=tmp_path)
    return QueuePoller(source, LocalFunction(config), endpoint_url=endpoint)


def _visible_messages(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _seen_bodies(seen_file: Path) -> list[list[str]]:
    batches = [json.loads(line) for line in seen_file.read_text().splitlines()]
    return [[record["body"] for record in batch["Records"]] for batch in batches]


def test_successes_are_deleted_and_failures_stay_on_the_queue(
    poller: QueuePoller, sqs: Any, seen_file: Path
) -> None:
    queue_url = poller.source.queue_url
    for body in ("first", "fail", "second"):
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)

    poller.poll_once()

    assert sorted(_seen_bodies(seen_file)[0]) == ["fail", "first", "second"]
    assert _visible_messages(sqs, queue_url) == 1


def test_a_message_that_keeps_failing_ends_in_the_dead_letter_queue(
    poller: QueuePoller, sqs: Any, provisioned: tuple[Provisioned, str]
) -> None:
    queue_url = poller.source.queue_url
    dead_letter_url = provisioned[0].physical_ids["JobsDeadLetterQueue"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="fail")

    for _ in range(10):
        poller.poll_once()
        if _visible_messages(sqs, dead_letter_url):
            break

    (dead,) = sqs.receive_message(QueueUrl=dead_letter_url, AttributeNames=["All"])["Messages"]
    assert dead["Body"] == "fail"
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= 3
    assert _visible_messages(sqs, queue_url) == 0


def test_a_batch_that_raises_leaves_every_message_for_a_retry(
    poller: QueuePoller, sqs: Any, seen_file: Path
) -> None:
    queue_url = poller.source.queue_url
    for body in ("crash", "innocent"):
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)

    poller.poll_once()

    assert sorted(_seen_bodies(seen_file)[0]) == ["crash", "innocent"]
    assert _visible_messages(sqs, queue_url) == 2


def test_the_function_receives_a_lambda_shaped_sqs_event(
    poller: QueuePoller, sqs: Any, seen_file: Path
) -> None:
    sqs.send_message(
        QueueUrl=poller.source.queue_url,
        MessageBody='{"job_id": "j1"}',
        MessageAttributes={"priority": {"DataType": "String", "StringValue": "high"}},
    )

    poller.poll_once()

    (record,) = json.loads(seen_file.read_text().splitlines()[0])["Records"]
    assert record["body"] == '{"job_id": "j1"}'
    assert record["messageId"] and record["receiptHandle"] and record["md5OfBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    for name in ("SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"):
        assert record["attributes"][name]
    assert record["messageAttributes"]["priority"] == {
        "stringValue": "high",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == poller.source.queue_arn
    assert record["awsRegion"] == "us-east-1"


def test_the_poller_thread_delivers_messages_and_stops(
    poller: QueuePoller, sqs: Any, seen_file: Path
) -> None:
    sqs.send_message(QueueUrl=poller.source.queue_url, MessageBody="background")
    poller.start()
    try:
        deadline = time.monotonic() + 10
        while not seen_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        poller.stop()

    assert _seen_bodies(seen_file) == [["background"]]


def test_an_invalid_failure_list_fails_the_whole_batch() -> None:
    messages = [
        {"MessageId": "a", "ReceiptHandle": "ra"},
        {"MessageId": "b", "ReceiptHandle": "rb"},
    ]

    assert succeeded_receipt_handles(
        messages, {"batchItemFailures": [{"itemIdentifier": "b"}]}, report_batch_item_failures=True
    ) == ["ra"]
    assert (
        succeeded_receipt_handles(
            messages,
            {"batchItemFailures": [{"itemIdentifier": "unknown"}]},
            report_batch_item_failures=True,
        )
        == []
    )
    assert succeeded_receipt_handles(
        messages, {"batchItemFailures": [{"itemIdentifier": "b"}]}, report_batch_item_failures=False
    ) == ["ra", "rb"]
