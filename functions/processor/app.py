"""SQS → process_job, one record at a time; failed records go back to the queue, alone."""

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

from sketchbridge.bootstrap import dependencies, metrics, redelivery
from sketchbridge.domain.models import JobMessage
from sketchbridge.services.process_job import process_job

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


def handle_record(record: SQSRecord) -> None:
    message = JobMessage.model_validate_json(record.body)
    receive_count = int(record.attributes.approximate_receive_count or 1)

    def retry_in(seconds: int) -> None:
        # The message comes back after the retry delay, not the queue's visibility timeout.
        redelivery().retry_in(record.event_source_arn, record.receipt_handle, seconds)

    result = process_job(
        message.job_id, receive_count=receive_count, deps=dependencies(), retry_in=retry_in
    )
    logger.info("job processed", extra={"job_id": result.job_id, "outcome": result.outcome})


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
