"""GET /generations/{id}, GET /providers, POST /estimates and GET /usage: read-only views;
and the caller's history (GET /generations), a job's lineage and their preferences."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sketchbridge.api.http import create_resolver, json_response, parse_body, path_id, user_id
from sketchbridge.bootstrap import dependencies
from sketchbridge.domain.models import EstimateRequest
from sketchbridge.services.estimates import estimate
from sketchbridge.services.get_generation import get_generation
from sketchbridge.services.history import list_generations
from sketchbridge.services.list_providers import list_providers
from sketchbridge.services.preferences import get_preferences
from sketchbridge.services.refine import lineage_of
from sketchbridge.services.usage import caller_usage

logger = Logger()
app = create_resolver()


@app.get("/generations/<job_id>")
def get_one_generation(job_id: str) -> Any:
    return json_response(get_generation(path_id(job_id), user_id=user_id(app), deps=dependencies()))


@app.get("/generations")
def get_generations() -> Any:
    # Only ever the caller's own jobs: the partition is the token's sub, whatever the cursor.
    return json_response(
        list_generations(
            app.current_event.query_string_parameters, user_id=user_id(app), deps=dependencies()
        )
    )


@app.get("/generations/<job_id>/lineage")
def get_lineage(job_id: str) -> Any:
    return json_response(lineage_of(path_id(job_id), user_id=user_id(app), deps=dependencies()))


@app.get("/preferences")
def get_user_preferences() -> Any:
    return json_response(get_preferences(user_id=user_id(app), deps=dependencies()))


@app.get("/providers")
def get_providers() -> Any:
    return json_response(list_providers(dependencies()))


@app.post("/estimates")
def post_estimates() -> Any:
    # A quote stores nothing and calls no provider: a POST only because it carries a body.
    return json_response(estimate(parse_body(app, EstimateRequest), deps=dependencies()))


@app.get("/usage")
def get_usage() -> Any:
    # Only ever the caller's own usage: the user id comes from the verified token.
    return json_response(
        caller_usage(
            dependencies(),
            user_id=user_id(app),
            query=app.current_event.query_string_parameters,
        )
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
