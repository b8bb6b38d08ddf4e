"""EventBridge schedule → probe every enabled provider; outcomes go to the breakers and metrics."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sketchbridge.bootstrap import dependencies, metrics
from sketchbridge.services.health_check import check_providers

logger = Logger()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The scheduled event carries nothing to act on: every run probes every provider.
    results = check_providers(dependencies())
    for result in results:
        logger.info(
            "provider probed",
            extra={
                "provider": result.provider,
                "outcome": result.outcome,
                "seconds": result.seconds,
                "detail": result.message,
            },
        )
    return {"probes": [asdict(result) for result in results]}
