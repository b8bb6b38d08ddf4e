"""The job queues: submit sends, the processor's event sources receive."""

from __future__ import annotations

from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.domain.errors import InternalError
from sketchbridge.domain.models import JobMessage
from sketchbridge.services.ports import QueueBacklog

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
