"""Issue 12: a job that cannot run now comes back after its retry delay, not the queue's 720 s.

The processor hides the failed delivery for the delay through the SQS event's receipt
handle; here against the provisioned jobs queue on the moto server, as the local poller
and AWS deliver it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from sketchbridge.aws.clients import client
from sketchbridge.aws.sqs_queue import SqsRedelivery

if TYPE_CHECKING:
    from tests.integration.conftest import EmulatedAws

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


def test_a_failed_delivery_is_visible_again_after_the_retry_delay_not_the_visibility_timeout(
    aws: EmulatedAws,
) -> None:
    sqs = client("sqs")
    sqs.send_message(QueueUrl=aws.queue_url, MessageBody='{"job_id": "j-retry"}')
    (delivery,) = [m for m in aws.receive_messages() if "j-retry" in m["Body"]]
    assert aws.receive_messages() == []  # hidden for the queue's visibility timeout

    redelivery = SqsRedelivery(client("sqs"), [aws.queue_url, ""])
    assert redelivery.retry_in(aws.queue_arn, delivery["ReceiptHandle"], 0)

    again = [m for m in aws.receive_messages() if "j-retry" in m["Body"]]
    assert len(again) == 1 and again[0]["MessageId"] == delivery["MessageId"]
    sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=again[0]["ReceiptHandle"])


def test_a_queue_it_does_not_know_is_left_to_its_visibility_timeout(aws: EmulatedAws) -> None:
    redelivery = SqsRedelivery(client("sqs"), [aws.queue_url])
    assert not redelivery.retry_in("arn:aws:sqs:us-east-1:123456789012:other", "handle", 10)
