"""The one place where domain errors become HTTP responses, and events become requests."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from pydantic import BaseModel, ValidationError

from sketchbridge.domain.errors import (
    BudgetExceededError,
    ForbiddenError,
    InvalidParamsError,
    InvalidPromptError,
    InvalidRequestError,
    InvalidSketchError,
    QuotaExceededError,
    SketchbridgeError,
    UnauthorizedError,
)
from sketchbridge.domain.models import ErrorInfo, ErrorResponse

STATUS_BY_CODE: dict[str, int] = {
    "invalid_input": 400,
    "invalid_sketch": 400,
    "invalid_prompt": 400,
    "invalid_params": 400,
    "unknown_provider": 400,
    "empty_sketch": 400,
    "corrupt_image": 400,
    "animated_image": 400,
    "unsupported_format": 415,
    "image_too_large": 413,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "idempotency_conflict": 409,
    "content_policy": 422,
    "budget_exceeded": 402,
    "rate_limited": 429,
    "quota_exhausted": 503,
    "auth_failed": 503,
    "provider_unavailable": 503,
    "timeout": 504,
    "internal": 500,
}

Model = TypeVar("Model", bound=BaseModel)


def create_resolver() -> APIGatewayHttpResolver:
    """An HTTP API resolver with Sketchbridge's error mapping installed."""
    resolver = APIGatewayHttpResolver()

    @resolver.exception_handler(SketchbridgeError)  # type: ignore[untyped-decorator]
    def _domain_error(error: SketchbridgeError) -> Response[str]:
        return error_response(error)

    @resolver.not_found
    def _no_route(_: Exception) -> Response[str]:
        return error_response(InvalidRequestError("There is no such route."), status=404)

    return resolver


def json_response(
    model: BaseModel, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=model.model_dump_json(),
        headers=headers,
    )


def error_response(error: SketchbridgeError, *, status: int | None = None) -> Response[str]:
    retry_after_s = error.retry_after_s if isinstance(error, QuotaExceededError) else None
    body = ErrorResponse(
        error=ErrorInfo(
            code=error.code,
            message=error.message,
            suggestions=list(error.suggestions),
            retryable=error.retryable,
            budget=error.budget if isinstance(error, BudgetExceededError) else None,
            retry_after_s=retry_after_s,
        )
    )
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return json_response(
        body, status=status or STATUS_BY_CODE.get(error.code, 500), headers=headers
    )


def user_id(resolver: APIGatewayHttpResolver) -> str:
    """The caller's id, from the claims the JWT authorizer verified."""
    claims = resolver.current_event.request_context.authorizer.jwt_claim or {}
    subject = claims.get("sub")
    if not subject:
        raise UnauthorizedError("The request carries no verified identity.")
    return str(subject)


def admin_caller(resolver: APIGatewayHttpResolver) -> str:
    """The ARN of the IAM principal whose signature API Gateway verified (AWS_IAM routes).

    API Gateway answers 403 itself before a badly signed request gets here; a request with
    no IAM principal at all (a route misconfigured with another authorizer) is refused too.
    """
    caller = resolver.current_event.request_context.authorizer.iam.user_arn
    if not caller:
        raise ForbiddenError("The admin API answers only requests signed by an IAM principal.")
    return caller


def parse_body(resolver: APIGatewayHttpResolver, model: type[Model]) -> Model:
    """Validate the JSON body into ``model``, naming what is wrong in the error."""
    try:
        payload: Any = json.loads(resolver.current_event.decoded_body or "")
    # ValueError: not JSON, not UTF-8 or bad base64; RecursionError: nested beyond reason.
    except (ValueError, RecursionError) as exc:
        raise InvalidRequestError("The request body is not valid JSON.") from exc
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise _as_request_error(exc) from exc


def _as_request_error(exc: ValidationError) -> InvalidRequestError:
    """The first problem, as an error whose code says which part of the request is wrong."""
    problem = exc.errors()[0]
    location = [str(part) for part in problem["loc"]]
    field = ".".join(location) or "body"
    message = f"{field}: {problem['msg']}"
    details = {"field": field, "problems": [_describe(error) for error in exc.errors()]}
    match location[:1]:
        case ["sketch"]:
            return InvalidSketchError(message, details=details)
        case ["prompt"]:
            return InvalidPromptError(message, details=details)
        case ["params"]:
            return InvalidParamsError(message, details=details)
        case _:
            return InvalidRequestError(message, details=details)


def _describe(error: Any) -> str:
    return f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
