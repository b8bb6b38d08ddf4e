"""EventBridge schedule → sweep: jobs stuck past their lease are queued again or failed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sketchbridge.bootstrap import dependencies, metrics
from sketchbridge.services.sweep import sweep

logger = Logger()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = asdict(sweep(deps=dependencies()))
    logger.info("swept", extra=report)
    return {name: len(job_ids) for name, job_ids in report.items()}
