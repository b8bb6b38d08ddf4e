"""The HTTP API's Lambda authorizer on the drop-in routes: is this a live Sketchbridge key?

REQUEST type, payload 2.0, simple responses; API Gateway caches each answer for the
template's ``ReauthorizeEvery`` per Authorization header, so a revoked key is refused within
that time. The owner's id travels to the route's function as ``authorizer.lambda.user_id``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sketchbridge.bootstrap import api_keys
from sketchbridge.services.api_keys import authorize

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = event.get("headers") or {}
    authorization = headers.get("authorization", "") if isinstance(headers, dict) else ""
    identity = authorize(str(authorization), keys=api_keys())
    if identity is None:
        logger.info("api key refused")
        return {"isAuthorized": False}
    return {
        "isAuthorized": True,
        "context": {
            "user_id": identity.user_id,
            "key_id": identity.key_id,
            "scopes": " ".join(identity.scopes),
        },
    }
