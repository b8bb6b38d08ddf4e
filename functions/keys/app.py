"""POST /keys, GET /keys, DELETE /keys/{id}: the API keys that open the drop-in routes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from sketchbridge.api.http import create_resolver, json_response, parse_body, path_id, user_id
from sketchbridge.bootstrap import api_keys
from sketchbridge.domain.api_keys import KeyCreateRequest
from sketchbridge.services.api_keys import create_key, list_keys, revoke_key

logger = Logger()
app = create_resolver()


@app.post("/keys")
def post_key() -> Any:
    created = create_key(parse_body(app, KeyCreateRequest), user_id=user_id(app), keys=api_keys())
    # The id only: the key itself is never logged.
    logger.info("api key created", extra={"key_id": created.id})
    return json_response(created, status=201)


@app.get("/keys")
def get_keys() -> Any:
    return json_response(list_keys(user_id=user_id(app), keys=api_keys()))


@app.delete("/keys/<key_id>")
def delete_key(key_id: str) -> Any:
    revoke_key(path_id(key_id), user_id=user_id(app), keys=api_keys())
    logger.info("api key revoked", extra={"key_id": key_id})
    return Response(status_code=204, body="")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
