"""The webhooks queue: deliveries to make, sent by whoever publishes a job's frames."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.domain.errors import InternalError
from sketchbridge.services.webhooks import WebhookMessage


class SqsWebhookQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, message: WebhookMessage) -> None:
        try:
            self._client.send_message(
                QueueUrl=self._queue_url, MessageBody=message.model_dump_json()
            )
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The webhooks queue is unavailable.") from exc
