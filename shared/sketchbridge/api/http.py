"""The one place where domain errors become HTTP responses, and events become requests."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from pydantic import BaseModel, ValidationError

from sketchbridge.domain.errors import (
    BodyTooLargeError,
    BudgetExceededError,
    ForbiddenError,
    InvalidBodyError,
    InvalidHeaderError,
    InvalidParamsError,
    InvalidPromptError,
    InvalidRequestError,
    InvalidSketchError,
    JobFinishedError,
    NotFoundError,
    QuotaExceededError,
    SketchbridgeError,
    UnauthorizedError,
)
from sketchbridge.domain.models import ErrorInfo, ErrorResponse, JobStatus

STATUS_BY_CODE: dict[str, int] = {
    "invalid_input": 400,
    "invalid_body": 400,
    "body_too_large": 413,
    "invalid_header": 400,
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
    "not_refinable": 409,
    "job_in_progress": 409,
    "idempotency_conflict": 409,
    "idempotency_in_progress": 409,
    "job_finished": 409,
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

# The largest sketch (8 MB, decode.MAX_SKETCH_BYTES) as base64, plus room for the prompts and
# options: no request of ours needs more, and nothing bigger is read, let alone parsed.
MAX_BODY_BYTES = 12 * 1024 * 1024
# Our deepest request is three levels (body → params → value); json.loads recurses once per
# level and would overflow Python's stack on a body of 100,000 "[": counted before parsing.
MAX_JSON_DEPTH = 32
# Printable ASCII only: the key goes into a hash, a log line and a DynamoDB item.
MAX_IDEMPOTENCY_KEY_CHARS = 255
# Our ids are uuid4 hex; anything else, however long, names nothing and never reaches a store
# (DynamoDB refuses keys over 2 KB with an error, not a miss).
_RESOURCE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")
# A JSON string, escapes included (unrolled so that a 10 MB string is one linear scan).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = re.compile(rb"[^\[\]{}]+")


def create_resolver() -> APIGatewayHttpResolver:
    """An HTTP API resolver with Sketchbridge's error mapping installed."""
    resolver = APIGatewayHttpResolver()

    @resolver.exception_handler(SketchbridgeError)  # type: ignore[untyped-decorator]
    def _domain_error(error: SketchbridgeError) -> Response[str]:
        return error_response(error)

    @resolver.not_found
    def _no_route(_: Exception) -> Response[str]:
        return error_response(NotFoundError("There is no such route."))

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
            # What an invalid_params refusal names: each parameter, provider and range.
            details=error.details or None if isinstance(error, InvalidParamsError) else None,
            status=JobStatus(error.status) if isinstance(error, JobFinishedError) else None,
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
    """Validate the JSON body into ``model``, naming what is wrong in the error.

    Every JSON route reads its body here, so the caps hold for all of them: the size is
    checked before decoding, the nesting before parsing, UTF-8 strictly.
    """
    payload = json_body(resolver.current_event.raw_event)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise _as_request_error(exc) from exc


def json_body(event: dict[str, Any]) -> Any:
    """The event's body as JSON, or an ``InvalidBodyError`` saying why it is not."""
    raw = body_bytes(event)
    depth = _nesting_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise InvalidBodyError(
            f"The request body nests deeper than {MAX_JSON_DEPTH} levels.",
            details={"limit": MAX_JSON_DEPTH},
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidBodyError("The request body is not UTF-8 text.") from exc
    try:
        return json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError) as exc:
        # ValueError: JSONDecodeError, and an integer of more than 4,300 digits, which
        # Python refuses to convert (it answered 500 before).
        raise InvalidBodyError("The request body is not valid JSON.") from exc


def _not_json(constant: str) -> Any:
    """NaN and Infinity are Python's extensions, not JSON: no limit or price is infinite."""
    raise ValueError(f"{constant} is not a JSON value")


def body_bytes(event: dict[str, Any]) -> bytes:
    """The body's bytes as the client sent them, within ``MAX_BODY_BYTES``."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise InvalidBodyError("The request body is not text.")
    # base64 is 4/3 of the bytes: a body this long is too large before decoding it.
    limit = MAX_BODY_BYTES * 4 // 3 + 4 if event.get("isBase64Encoded") else MAX_BODY_BYTES * 4
    if len(body) > limit:
        raise _too_large()
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidBodyError("The request body's base64 encoding is malformed.") from exc
    else:
        raw = body.encode("utf-8", errors="surrogateescape")
    if len(raw) > MAX_BODY_BYTES:
        raise _too_large()
    return raw


def _too_large() -> BodyTooLargeError:
    return BodyTooLargeError(
        f"The request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB.",
        details={"limit_bytes": MAX_BODY_BYTES},
    )


def _nesting_depth(raw: bytes) -> int:
    """How deep arrays and objects nest, strings ignored; stops counting past the cap."""
    brackets = _NOT_A_BRACKET.sub(b"", _JSON_STRING.sub(b"", raw))
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    break
        else:
            depth -= 1
    return deepest


def path_id(value: str) -> str:
    """A path parameter that names one of our resources; any other is a 404 at the edge."""
    if not _RESOURCE_ID.fullmatch(value):
        shown = value if len(value) <= 64 else value[:64] + "…"
        raise NotFoundError(f"There is no such resource: {shown!r}.")
    return value


def idempotency_key(resolver: APIGatewayHttpResolver) -> str | None:
    """The ``Idempotency-Key`` header, or None; 400 unless 1-255 printable ASCII characters."""
    key = resolver.current_event.headers.get("idempotency-key")
    if key is None:
        return None
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY_CHARS or not _PRINTABLE_ASCII.fullmatch(key):
        raise InvalidHeaderError(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters.",
            details={"header": "Idempotency-Key", "limit": MAX_IDEMPOTENCY_KEY_CHARS},
        )
    return key


def _as_request_error(exc: ValidationError) -> InvalidRequestError:
    """The first problem, as an error whose code says which part of the request is wrong."""
    problem = exc.errors()[0]
    location = [str(part) for part in problem["loc"]]
    field = ".".join(location) or "body"
    message = f"{field}: {problem['msg']}"
    details = {"field": field, "problems": [_describe(error) for error in exc.errors()]}
    match location[:1]:
        case ["sketch"] | ["sketch_upload_id"]:
            return InvalidSketchError(message, details=details)
        case ["prompt"]:
            return InvalidPromptError(message, details=details)
        case ["params"]:
            return InvalidParamsError(message, details=details)
        case _:
            return InvalidRequestError(message, details=details)


def _describe(error: Any) -> str:
    return f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
