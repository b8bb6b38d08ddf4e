"""Notifications to the admins through the stack's SNS topic (``ALERTS_TOPIC_ARN``).

A notification is a courtesy on top of the metric and the alarm: failing to send one is
logged and never fails the request that caused it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

logger = Logger(child=True)
# SNS caps a subject at 100 characters (e-mail subscriptions show it as the subject line).
MAX_SUBJECT = 100


class SnsAdminAlerts:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def notify(self, subject: str, message: str) -> None:
        try:
            self._client.publish(
                TopicArn=self._topic_arn, Subject=subject[:MAX_SUBJECT], Message=message
            )
        except (ClientError, BotoCoreError):
            logger.warning("admin notification not sent", extra={"subject": subject})
