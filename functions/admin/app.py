"""The admin API under /admin/: providers, usage, health (AWS_IAM, never a user's JWT).

API Gateway verifies the caller's SigV4 signature before the event gets here; every change is
logged with the caller's IAM ARN, the route and the body, as the audit trail.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sketchbridge.api.http import admin_caller, create_resolver, json_response, parse_body
from sketchbridge.bootstrap import dependencies
from sketchbridge.domain.models import ProviderSettingsRequest
from sketchbridge.services.admin_health import admin_health
from sketchbridge.services.admin_usage import everyone_usage
from sketchbridge.services.provider_settings import (
    change_provider_settings,
    get_provider_settings,
)

logger = Logger()
app = create_resolver()


@app.get("/admin/providers/<name>")
def get_provider(name: str) -> Any:
    admin_caller(app)
    return json_response(get_provider_settings(dependencies(), name))


@app.put("/admin/providers/<name>")
def put_provider(name: str) -> Any:
    caller = admin_caller(app)
    request = parse_body(app, ProviderSettingsRequest)
    response = change_provider_settings(dependencies(), name, request)
    _audit(caller, change=request.model_dump(mode="json", exclude_unset=True))
    return json_response(response)


@app.get("/admin/usage")
def get_usage() -> Any:
    admin_caller(app)
    return json_response(everyone_usage(dependencies(), app.current_event.query_string_parameters))


@app.get("/admin/health")
def get_health() -> Any:
    admin_caller(app)
    return json_response(admin_health(dependencies()))


def _audit(caller: str, **details: Any) -> None:
    """One log line per change an admin made: who, what route, what."""
    logger.info(
        "admin change",
        extra={"caller": caller, "route": app.current_event.route_key, **details},
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
