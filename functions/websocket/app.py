"""WebSocket API: $connect checks the token, subscribe follows a job, $disconnect forgets."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from sketchbridge.bootstrap import dependencies, token_verifier
from sketchbridge.domain.errors import UnauthorizedError
from sketchbridge.domain.models import SubscribeMessage
from sketchbridge.services import subscriptions

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route = event["requestContext"]["routeKey"]
    connection_id = event["requestContext"]["connectionId"]
    if route == "$connect":
        token = (event.get("queryStringParameters") or {}).get("token")
        try:
            subscriptions.connect(
                connection_id, token, verifier=token_verifier(), deps=dependencies()
            )
        except UnauthorizedError as error:
            logger.info("connection refused", extra={"reason": error.message})
            return {"statusCode": 401, "body": error.message}
        return {"statusCode": 200}
    if route == "$disconnect":
        subscriptions.disconnect(connection_id, deps=dependencies())
        return {"statusCode": 200}
    if route == "subscribe":
        try:
            message = SubscribeMessage.model_validate_json(event.get("body") or "")
        except ValidationError:
            return {"statusCode": 400, "body": 'Send {"action": "subscribe", "id": "<job id>"}.'}
        try:
            subscriptions.subscribe(connection_id, message, deps=dependencies())
        except UnauthorizedError as error:
            return {"statusCode": 401, "body": error.message}
        return {"statusCode": 200}
    return {"statusCode": 400, "body": f"Unknown route {route!r}."}
