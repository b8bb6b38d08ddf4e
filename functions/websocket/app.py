"""WebSocket API: $connect checks the ticket (or token), subscribe follows a job, $disconnect
forgets; and the HTTP API's POST /ws-tickets, which issues the tickets $connect takes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from sketchbridge.api.http import create_resolver, json_response, user_id
from sketchbridge.bootstrap import dependencies, token_verifier
from sketchbridge.domain.errors import UnauthorizedError
from sketchbridge.domain.models import SubscribeMessage
from sketchbridge.services import subscriptions

logger = Logger()
http = create_resolver()


@http.post("/ws-tickets")
def post_ws_ticket() -> Any:
    return json_response(subscriptions.issue_ticket(user_id(http), deps=dependencies()), status=201)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "http" in event.get("requestContext", {}):
        return http.resolve(event, context)
    route = event["requestContext"]["routeKey"]
    connection_id = event["requestContext"]["connectionId"]
    if route == "$connect":
        query = event.get("queryStringParameters") or {}
        try:
            subscriptions.connect(
                connection_id,
                query.get("token"),
                ticket=query.get("ticket"),
                verifier=token_verifier(),
                deps=dependencies(),
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
