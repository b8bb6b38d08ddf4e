"""WebSocket API: $connect checks the ticket (or token), subscribe follows a job, $disconnect
forgets; and the HTTP API's POST /ws-tickets, which issues the tickets $connect takes."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from sketchbridge.bootstrap import dependencies, token_verifier
from sketchbridge.domain.errors import UnauthorizedError
from sketchbridge.domain.models import SubscribeMessage
from sketchbridge.services import subscriptions

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

logger = Logger()


@lru_cache(maxsize=1)
def http_api() -> APIGatewayHttpResolver:
    """The HTTP route, built by its first request: the WebSocket events ($connect,
    subscribe, $disconnect), most of this function's work, never load Powertools' HTTP
    routing (its cold start, docs/performance.md)."""
    from sketchbridge.api.http import create_resolver

    http = create_resolver()
    http.post("/ws-tickets")(post_ws_ticket)
    return http


def post_ws_ticket() -> Any:
    from sketchbridge.api.http import json_response, user_id

    issued = subscriptions.issue_ticket(user_id(http_api()), deps=dependencies())
    return json_response(issued, status=201)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "http" in event.get("requestContext", {}):
        return http_api().resolve(event, context)
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
