"""The jobs queue: submit sends, the processor's event source receives."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.domain.errors import InternalError
from sketchbridge.domain.models import JobMessage


class SqsJobQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, message: JobMessage) -> None:
        try:
            self._client.send_message(
                QueueUrl=self._queue_url, MessageBody=message.model_dump_json()
            )
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The job queue is unavailable.") from exc
