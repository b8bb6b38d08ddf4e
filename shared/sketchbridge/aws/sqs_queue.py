"""The job queues: submit sends, the processor's event sources receive."""

from __future__ import annotations

from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.domain.errors import InternalError
from sketchbridge.domain.models import JobMessage


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
