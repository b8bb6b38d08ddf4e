"""WebhooksQueue → deliver: Replicate-style webhooks of the drop-in predictions.

Each message is one event of one job; its POST has DELIVERY_TIMEOUT_S to be answered. A
failed one is reported back to SQS (ReportBatchItemFailures), which delivers it again after
the queue's visibility timeout; the MAX_DELIVERY_ATTEMPTS-th failure is logged and dropped.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sketchbridge.api.replicate_compat import prediction
from sketchbridge.bootstrap import api_keys, dependencies, webhook_sender
from sketchbridge.domain.models import JobResponse
from sketchbridge.services.webhooks import (
    MAX_DELIVERY_ATTEMPTS,
    WebhookDeliveryError,
    WebhookRecord,
    deliver,
    parse_message,
)

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


def _render(job: JobResponse, webhook: WebhookRecord) -> bytes:
    return (
        prediction(
            job, model=webhook.model, given_input={"prompt": job.prompt}, base_url=webhook.base_url
        )
        .body()
        .encode()
    )


def handle_record(record: SQSRecord) -> None:
    message = parse_message(record.body)
    if message is None:
        logger.error("unreadable webhook message dropped", extra={"body": record.body[:1000]})
        return
    try:
        status = deliver(
            message,
            delivery_id=record.message_id,
            deps=dependencies(),
            store=api_keys(),
            secrets=api_keys(),
            sender=webhook_sender(),
            render=_render,
        )
    except WebhookDeliveryError as error:
        attempts = int(record.attributes.approximate_receive_count or "1")
        if attempts >= MAX_DELIVERY_ATTEMPTS:
            logger.warning(
                "webhook dropped after its last attempt",
                extra={"job_id": message.job_id, "event": message.event, "error": error.message},
            )
            return
        raise
    logger.info(
        "webhook handled",
        extra={"job_id": message.job_id, "event": message.event, "status": status},
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
