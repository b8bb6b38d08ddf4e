"""Frames to WebSocket clients through API Gateway's ``@connections`` API."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

logger = Logger(child=True)


class ApiGatewayPusher:
    def __init__(self, client: Any) -> None:
        self._client = client

    def push(self, connection_id: str, payload: bytes) -> bool:
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=payload)
        except self._client.exceptions.GoneException:
            return False
        except (ClientError, BotoCoreError):
            # A push is an accelerator: the job record is the truth and clients can poll,
            # so one failed frame must not fail the job.
            logger.warning("push to connection failed", extra={"connection_id": connection_id})
        return True
