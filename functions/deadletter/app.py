"""Dead-letter queue(s) → handle_dead_letter: a job the queue gave up on is marked failed."""

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
from pydantic import ValidationError

from sketchbridge.bootstrap import dependencies, metrics
from sketchbridge.domain.models import JobMessage
from sketchbridge.services.dead_letters import handle_dead_letter

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


def handle_record(record: SQSRecord) -> None:
    try:
        message = JobMessage.model_validate_json(record.body)
    except ValidationError:
        # Retrying cannot make it readable; the log keeps it for an operator.
        logger.error("unreadable dead letter dropped", extra={"body": record.body[:1000]})
        return
    outcome = handle_dead_letter(message.job_id, deps=dependencies())
    logger.warning("dead letter handled", extra={"job_id": message.job_id, "outcome": outcome})


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
