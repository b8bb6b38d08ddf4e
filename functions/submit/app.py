"""POST /generations: accept a sketch and a prompt, queue the job, answer 202 at once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sketchbridge.api.http import create_resolver, json_response, parse_body, user_id
from sketchbridge.bootstrap import dependencies
from sketchbridge.domain.models import GenerationRequest
from sketchbridge.services.submit_generation import submit_generation

logger = Logger()
app = create_resolver()


@app.post("/generations")
def post_generation() -> Any:
    request = parse_body(app, GenerationRequest)
    job = submit_generation(request, user_id=user_id(app), deps=dependencies())
    logger.info("generation queued", extra={"job_id": job.id, "provider": job.provider})
    return json_response(job, status=202)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
