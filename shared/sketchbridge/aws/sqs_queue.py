"""The job queues: submit sends, the processor's event sources receive."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.domain.errors import InternalError
from sketchbridge.domain.models import JobMessage
from sketchbridge.services.ports import QueueBacklog

logger = logging.getLogger(__name__)

# What GET /admin/health reports of each queue (approximations, as SQS says).
_BACKLOG_ATTRIBUTES = {
    "visible": "ApproximateNumberOfMessages",
    "in_flight": "ApproximateNumberOfMessagesNotVisible",
    "delayed": "ApproximateNumberOfMessagesDelayed",
}


class SqsJobQueue:
    """Two queues: interactive (someone waits at the canvas) and batch (may wait)."""

    def __init__(self, client: Any, queue_url: str, batch_queue_url: str = "") -> None:
        self._client = client
        self._queue_url = queue_url
        self._batch_queue_url = batch_queue_url or queue_url

    def send(
        self, message: JobMessage, *, priority: Literal["interactive", "batch"] = "interactive"
    ) -> None:
        url = self._batch_queue_url if priority == "batch" else self._queue_url
        try:
            self._client.send_message(QueueUrl=url, MessageBody=message.model_dump_json())
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The job queue is unavailable.") from exc


# A queue's depth is read at most this often per instance: an ETA needs a rough figure, and a
# call per request would add an SQS round trip to every submit and quote.
QUEUE_DEPTH_TTL_S = 30.0


class SqsQueueDepth:
    """``ApproximateNumberOfMessages`` of each priority's queue, cached for ``ttl_s``.

    Needs ``sqs:GetQueueAttributes`` on the queues. A failed read (no permission, an outage)
    keeps the last figure, or 0: an estimate never fails the request that asked for it.
    """

    def __init__(
        self,
        client: Any,
        queue_urls: Mapping[str, str],
        *,
        ttl_s: float = QUEUE_DEPTH_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._queue_urls = {priority: url for priority, url in queue_urls.items() if url}
        self._ttl_s = ttl_s
        self._clock = clock
        self._read: dict[str, tuple[float, int]] = {}

    def jobs_waiting(self, priority: Literal["interactive", "batch"] = "interactive") -> int:
        url = self._queue_urls.get(priority)
        if url is None:
            return 0
        now = self._clock()
        last = self._read.get(priority)
        if last is not None and now - last[0] < self._ttl_s:
            return last[1]
        try:
            answer = self._client.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            depth = max(int(answer["Attributes"]["ApproximateNumberOfMessages"]), 0)
        except (ClientError, BotoCoreError, KeyError, TypeError, ValueError):
            depth = last[1] if last is not None else 0
        self._read[priority] = (now, depth)
        return depth


class SqsQueueBacklogs:
    """The job queues' backlog: one GetQueueAttributes per queue."""

    def __init__(self, client: Any, queue_urls: dict[str, str]) -> None:
        self._client = client
        self._queue_urls = {name: url for name, url in queue_urls.items() if url}

    def backlogs(self) -> list[QueueBacklog]:
        return [self._backlog(name, url) for name, url in self._queue_urls.items()]

    def _backlog(self, name: str, url: str) -> QueueBacklog:
        try:
            response = self._client.get_queue_attributes(
                QueueUrl=url, AttributeNames=list(_BACKLOG_ATTRIBUTES.values())
            )
        except (ClientError, BotoCoreError) as exc:
            # One unreadable queue must not hide the others, nor the providers' health.
            return QueueBacklog(name=name, error=f"The queue's depth is unavailable: {exc}")
        attributes = response.get("Attributes", {})

        def count(field: str) -> int | None:
            value = attributes.get(_BACKLOG_ATTRIBUTES[field])
            return int(value) if value is not None else None

        return QueueBacklog(
            name=name,
            visible=count("visible"),
            in_flight=count("in_flight"),
            delayed=count("delayed"),
        )


class SqsRedelivery:
    """Hides a job message that failed for a while, so it comes back in seconds.

    A record the processor reports as failed reappears only when the queue's visibility
    timeout (720 s) runs out; ``retry_in`` sets this delivery's visibility to the retry delay
    instead (``sqs:ChangeMessageVisibility``, granted to an SQS event source's function by
    AWSLambdaSQSQueueExecutionRole). The message is named by the event's ``eventSourceARN``
    (matched to the queue URLs by name) and ``receiptHandle``, on AWS and on the local poller
    alike. A failed change is logged and ignored: the message then waits out the timeout.
    """

    def __init__(self, client: Any, queue_urls: Sequence[str]) -> None:
        self._client = client
        self._urls_by_name = {url.rstrip("/").rsplit("/", 1)[-1]: url for url in queue_urls if url}

    def retry_in(self, queue_arn: str, receipt_handle: str, seconds: int) -> bool:
        """True when the message will be visible again in ``seconds``."""
        url = self._urls_by_name.get(queue_arn.rsplit(":", 1)[-1])
        if url is None:
            logger.warning(
                "no queue URL for %s: the retry waits for its visibility timeout", queue_arn
            )
            return False
        try:
            self._client.change_message_visibility(
                QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=max(seconds, 0)
            )
        except (ClientError, BotoCoreError):
            logger.warning("could not change a message's visibility on %s", url, exc_info=True)
            return False
        return True
