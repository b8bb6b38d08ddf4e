"""GET /generations/{id} and GET /providers: read-only views for the signed-in user."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sketchbridge.api.http import create_resolver, json_response, user_id
from sketchbridge.bootstrap import dependencies
from sketchbridge.services.get_generation import get_generation
from sketchbridge.services.list_providers import list_providers

logger = Logger()
app = create_resolver()


@app.get("/generations/<job_id>")
def get_one_generation(job_id: str) -> Any:
    return json_response(get_generation(job_id, user_id=user_id(app), deps=dependencies()))


@app.get("/providers")
def get_providers() -> Any:
    return json_response(list_providers(dependencies().providers))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
