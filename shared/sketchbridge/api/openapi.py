"""The HTTP API's routes in one table, and the OpenAPI 3.1 document generated from it.

Each route names its template function, its pydantic request and response models and the
error codes it may answer; statuses come from ``STATUS_BY_CODE``, schemas from the models,
so the document cannot drift from what the handlers validate and return. Adding a route is
one ``ApiRoute`` entry here (and its ``Events`` entry in template.yaml, which a test holds
to this table). The local stack serves the document at ``/openapi.json``; Schemathesis
fuzzes the stack against it (``tests/e2e/test_openapi_fuzz.py``, ``make bench``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from sketchbridge.api.http import MAX_IDEMPOTENCY_KEY_CHARS, STATUS_BY_CODE
from sketchbridge.domain.models import (
    AdminHealthResponse,
    BudgetRequest,
    BudgetsResponse,
    ErrorResponse,
    EstimateRequest,
    EstimatesResponse,
    GenerationRequest,
    JobListResponse,
    JobResponse,
    LineageResponse,
    PreferencesRequest,
    PreferencesResponse,
    ProviderSettingsRequest,
    ProviderSettingsResponse,
    ProvidersResponse,
    QuotaRequest,
    QuotaResponse,
    RefineRequest,
    UploadRequest,
    UploadResponse,
    UsageResponse,
    WsTicketResponse,
)

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"


class GatewayErrorResponse(BaseModel):
    """What API Gateway itself answers (no token, no route, a throttle): not our error body."""

    message: str = Field(description='e.g. "Unauthorized", "Not Found", "Too Many Requests"')


@dataclass(frozen=True)
class HeaderParameter:
    name: str
    description: str
    schema: Mapping[str, Any]
    required: bool = False


@dataclass(frozen=True)
class QueryParameter:
    name: str
    description: str
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class ApiRoute:
    """One ``METHOD /path`` of the HTTP API: what it takes, what it answers, who serves it."""

    method: str
    path: str  # OpenAPI/template form: /generations/{id}
    function: str  # the template's logical id of the function serving it
    summary: str
    # None: the status has no body (204).
    responses: Mapping[int, type[BaseModel] | None]
    request: type[BaseModel] | None = None
    # Error codes besides those every route may answer (EVERY_ROUTE_ERRORS).
    errors: tuple[str, ...] = ()
    headers: tuple[HeaderParameter, ...] = ()
    path_parameters: Mapping[str, str] = field(default_factory=dict)
    query: tuple[QueryParameter, ...] = ()
    # jwt: the HTTP API's JWT authorizer; iam: SigV4 (the /admin/* routes).
    auth: Literal["jwt", "iam"] = "jwt"


IDEMPOTENCY_KEY = HeaderParameter(
    name="Idempotency-Key",
    description=(
        "The same key with the same body answers the first answer again, for 24 hours; "
        "another body is 409 idempotency_conflict."
    ),
    schema={
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_IDEMPOTENCY_KEY_CHARS,
        "pattern": "^[\\x20-\\x7e]+$",
    },
)

SKETCH_ERRORS = (
    "invalid_sketch",
    "unsupported_format",
    "image_too_large",
    "corrupt_image",
    "animated_image",
    "empty_sketch",
)
REQUEST_ERRORS = ("invalid_prompt", "invalid_params", "unknown_provider")
# The body is checked at the edge for every JSON route (api/http.py: parse_body).
BODY_ERRORS = ("invalid_input", "invalid_body", "body_too_large")
# Outages of ours: documented, yet never an answer to any input (Schemathesis checks that).
EVERY_ROUTE_ERRORS = ("unauthorized", "internal")


_DAY = {"type": "string", "format": "date"}
USAGE_FROM = QueryParameter("from", "First UTC day, YYYY-MM-DD (default: this month's first)", _DAY)
USAGE_TO = QueryParameter("to", "Last UTC day, YYYY-MM-DD, included (default: today)", _DAY)
_PERIOD = QueryParameter("period", "day or month", {"type": "string", "enum": ["day", "month"]})


_HISTORY_QUERY = (
    QueryParameter(
        "limit",
        "Jobs per page, 1 to 100 (default 20)",
        {"type": "integer", "minimum": 1, "maximum": 100},
    ),
    QueryParameter(
        "cursor", "next_cursor of the previous page, exactly as it came", {"type": "string"}
    ),
    QueryParameter(
        "status",
        "Only jobs in this state",
        {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "canceled"]},
    ),
)


def _group_by(*keys: str) -> QueryParameter:
    return QueryParameter("group_by", "How to group", {"type": "string", "enum": list(keys)})


ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "POST",
        "/generations",
        "SubmitFunction",
        "Queue a generation (or answer it from the cache)",
        request=GenerationRequest,
        responses={200: JobResponse, 202: JobResponse},
        errors=(
            *BODY_ERRORS,
            *SKETCH_ERRORS,
            *REQUEST_ERRORS,
            "invalid_header",
            # sketch_upload_id names no upload of the caller's (expired, or not theirs).
            "not_found",
            "idempotency_conflict",
            "idempotency_in_progress",
            "budget_exceeded",
            "rate_limited",
            "provider_unavailable",
        ),
        headers=(IDEMPOTENCY_KEY,),
    ),
    ApiRoute(
        "GET",
        "/generations/{id}",
        "QueryFunction",
        "One of your generations: status, progress, result or error",
        responses={200: JobResponse},
        errors=("not_found",),
        path_parameters={"id": "The job id POST /generations answered."},
    ),
    ApiRoute(
        "POST",
        "/generations/{id}/cancel",
        "SubmitFunction",
        "Cancel a queued or running generation; a canceled one answers the same again",
        responses={200: JobResponse},
        # job_finished (409): it already succeeded or failed; the error says its status.
        errors=("not_found", "job_finished"),
        path_parameters={"id": "The job id POST /generations answered."},
    ),
    ApiRoute(
        "POST",
        "/generations/{id}/refine",
        "SubmitFunction",
        "A new generation from this one's picture (or its sketch), with its lineage",
        request=RefineRequest,
        responses={200: JobResponse, 202: JobResponse},
        errors=(
            *BODY_ERRORS,
            *SKETCH_ERRORS,
            *REQUEST_ERRORS,
            "not_found",
            "not_refinable",
            "idempotency_conflict",
            "idempotency_in_progress",
            "budget_exceeded",
            "rate_limited",
        ),
        headers=(IDEMPOTENCY_KEY,),
    ),
    ApiRoute(
        "GET",
        "/generations/{id}/lineage",
        "QueryFunction",
        "The chain of refinements that led to this generation, its original first",
        responses={200: LineageResponse},
        errors=("not_found",),
    ),
    ApiRoute(
        "GET",
        "/generations",
        "QueryFunction",
        "Your generations, newest first, a page at a time",
        responses={200: JobListResponse},
        errors=("invalid_input",),
        query=_HISTORY_QUERY,
    ),
    ApiRoute(
        "DELETE",
        "/generations/{id}",
        "SubmitFunction",
        "Delete a finished generation and the images only it uses",
        responses={204: None},
        errors=("not_found", "job_in_progress"),
    ),
    ApiRoute(
        "GET",
        "/preferences",
        "QueryFunction",
        "What your generations get where they leave a field out",
        responses={200: PreferencesResponse},
    ),
    ApiRoute(
        "PUT",
        "/preferences",
        "SubmitFunction",
        "Change your preferences: the fields sent (null: back to the default)",
        request=PreferencesRequest,
        responses={200: PreferencesResponse},
        errors=(*BODY_ERRORS, "invalid_params", "unknown_provider"),
    ),
    ApiRoute(
        "DELETE",
        "/preferences",
        "SubmitFunction",
        "Forget your preferences: the defaults apply again",
        responses={200: PreferencesResponse},
    ),
    ApiRoute(
        "GET",
        "/providers",
        "QueryFunction",
        "Every enabled provider: health, capabilities, price, latency",
        responses={200: ProvidersResponse},
    ),
    ApiRoute(
        "POST",
        "/estimates",
        "QueryFunction",
        "What a request would cost and take on each provider; stores nothing",
        request=EstimateRequest,
        responses={200: EstimatesResponse},
        errors=(*BODY_ERRORS, *SKETCH_ERRORS, *REQUEST_ERRORS),
    ),
    ApiRoute(
        "POST",
        "/uploads",
        "SubmitFunction",
        "A presigned S3 POST for a sketch too big for the JSON body (up to 8 MB)",
        request=UploadRequest,
        responses={201: UploadResponse},
        errors=BODY_ERRORS,
    ),
    ApiRoute(
        "POST",
        "/ws-tickets",
        "WebSocketFunction",
        "A single-use ticket that opens one WebSocket (?ticket=) within 60 s",
        responses={201: WsTicketResponse},
    ),
    ApiRoute(
        "GET",
        "/usage",
        "QueryFunction",
        "Your spend from the cost ledger: totals and groups by provider, day or month",
        responses={200: UsageResponse},
        errors=("invalid_params",),
        query=(USAGE_FROM, USAGE_TO, _group_by("provider", "day", "month")),
    ),
    *(
        ApiRoute(method, path, "AdminFunction", summary, auth="iam", **details)
        for method, path, summary, details in (
            (
                "GET",
                "/admin/providers/{name}",
                "A provider's settings: enabled, weight, model, price, rate limit",
                {"responses": {200: ProviderSettingsResponse}, "errors": ("not_found",)},
            ),
            (
                "PUT",
                "/admin/providers/{name}",
                "Change a provider's settings for the next job (null: back to the default)",
                {
                    "request": ProviderSettingsRequest,
                    "responses": {200: ProviderSettingsResponse},
                    "errors": (*BODY_ERRORS, "invalid_params", "not_found"),
                },
            ),
            (
                "GET",
                "/admin/usage",
                "Everyone's spend, grouped by user, provider, day or month",
                {
                    "responses": {200: UsageResponse},
                    "errors": ("invalid_params",),
                    "query": (
                        USAGE_FROM,
                        USAGE_TO,
                        _group_by("user", "provider", "day", "month"),
                    ),
                },
            ),
            (
                "GET",
                "/admin/budgets/{scope}",
                "The budgets of app or user:<sub>: limits, spent, reserved, resets_at",
                {"responses": {200: BudgetsResponse}, "errors": ("invalid_params",)},
            ),
            (
                "PUT",
                "/admin/budgets/{scope}",
                "Set one period's soft and hard limits",
                {
                    "request": BudgetRequest,
                    "responses": {200: BudgetsResponse},
                    "errors": (*BODY_ERRORS, "invalid_params"),
                },
            ),
            (
                "DELETE",
                "/admin/budgets/{scope}",
                "Remove an override (?period=day|month; none: both)",
                {
                    "responses": {200: BudgetsResponse},
                    "errors": ("invalid_params",),
                    "query": (_PERIOD,),
                },
            ),
            (
                "GET",
                "/admin/quotas/{sub}",
                "A user's quotas and jobs in flight",
                {"responses": {200: QuotaResponse}, "errors": ("invalid_params",)},
            ),
            (
                "PUT",
                "/admin/quotas/{sub}",
                "Set a user's requests per minute and jobs in flight (null: the default)",
                {
                    "request": QuotaRequest,
                    "responses": {200: QuotaResponse},
                    "errors": (*BODY_ERRORS, "invalid_params"),
                },
            ),
            (
                "DELETE",
                "/admin/quotas/{sub}",
                "Back to the deployment's default quotas",
                {"responses": {200: QuotaResponse}, "errors": ("invalid_params",)},
            ),
            (
                "GET",
                "/admin/health",
                "Providers' health, breakers, latency, retirement; queue backlogs",
                {"responses": {200: AdminHealthResponse}},
            ),
        )
    ),
)

# A drawing small enough for an example: a circle crossed by a line, 64x64 PNG.
EXAMPLE_SKETCH = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAEAAAABACAAAAACPAi4CAAAA8UlEQVR42u2WQQ6DMAwEvVb//2X3UCGRYHsXhR5ahR"
    "MKzMSYxDHC1i63LdiCvxC8uoc4bpoNg6B076gEuA7FDQEmBLUiFSB5G4UhE6B4NR12mbdIU+MyXyTXdR6pwW/yF4PL"
    "/9vMLGgS0fNmMYcgbiaUobkUwImfQ/C1+TVBx48ClEv4ND59g6/NLwgITwWMZwLKEwHne4HAtwKF7wQSPwqGNVJW0X"
    "HU1+avBSo/CWKofNXODh6BPP9F8AkBbWkMdryDldY2iUFLc5C/EPf4JIn9sRbCOsgP0erQ+kp/sN6hrPdID3RpD/SJ"
    "u1vfgp8SvAEIS09skwOIfwAAAABJRU5ErkJggg=="
)
_REQUEST_EXAMPLES: Mapping[type[BaseModel], Mapping[str, Any]] = {
    # A new variation each time it is tried: a job that runs (and can be canceled), not the
    # cached answer of the previous try.
    GenerationRequest: {
        "sketch": EXAMPLE_SKETCH,
        "prompt": "a sea turtle, watercolor",
        "new_variation": True,
    },
    EstimateRequest: {"prompt": "a sea turtle", "params": {"width": 512, "height": 512}},
}


def openapi_document(server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``ROUTES``, with every model under components/schemas."""
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    _link_job_routes(paths)
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Sketchbridge",
            "version": API_VERSION,
            "description": (
                "Sketch and prompt in, image out, with failover, caching and live progress. "
                "Errors are {error: {code, message, suggestions, retryable}}; "
                "the gateway's own refusals are {message}."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "sigv4": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "AWS Signature Version 4 (IAM), for the admin routes.",
                },
            },
        },
        "security": [{"jwt": []}],
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def _link_job_routes(paths: dict[str, dict[str, Any]]) -> None:
    """Say that the job a submit answers is the ``{id}`` of every ``/generations/{id}...``
    operation (OpenAPI links), so a client generator, or Schemathesis, can reach them."""
    submit = paths.get("/generations", {}).get("post")
    if submit is None:
        return
    links = {
        operation["operationId"]: {
            "operationId": operation["operationId"],
            "parameters": {"id": "$response.body#/id"},
        }
        for path, item in paths.items()
        if path.startswith("/generations/{id}")
        for operation in item.values()
    }
    for status in ("200", "202"):
        if status in submit["responses"]:
            submit["responses"][status]["links"] = dict(links)


def _operation(route: ApiRoute, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": _operation_id(route),
        "summary": route.summary,
        "x-function": route.function,
        "responses": _responses(route, schemas),
    }
    if route.auth == "iam":
        operation["security"] = [{"sigv4": []}]
    path_parameters = dict(route.path_parameters)
    for part in route.path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            path_parameters.setdefault(part[1:-1], part[1:-1])
    parameters = (
        [
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": description,
                "schema": {"type": "string"},
            }
            for name, description in path_parameters.items()
        ]
        + [
            {
                "name": query.name,
                "in": "query",
                "required": False,
                "description": query.description,
                "schema": dict(query.schema),
            }
            for query in route.query
        ]
        + [
            {
                "name": header.name,
                "in": "header",
                "required": header.required,
                "description": header.description,
                "schema": dict(header.schema),
            }
            for header in route.headers
        ]
    )
    if parameters:
        operation["parameters"] = parameters
    if route.request is not None:
        content: dict[str, Any] = {"schema": _schema_ref(route.request, schemas, mode="validation")}
        example = _REQUEST_EXAMPLES.get(route.request)
        if example is not None:
            content["example"] = dict(example)
        operation["requestBody"] = {"required": True, "content": {"application/json": content}}
    return operation


def _responses(route: ApiRoute, schemas: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(status): (
            {"description": "Done; no content"}
            if model is None
            else {
                "description": model.__doc__.strip().splitlines()[0] if model.__doc__ else "OK",
                "content": {"application/json": {"schema": _schema_ref(model, schemas)}},
            }
        )
        for status, model in route.responses.items()
    }
    codes_by_status: dict[int, list[str]] = {}
    for code in (*route.errors, *EVERY_ROUTE_ERRORS):
        codes_by_status.setdefault(STATUS_BY_CODE[code], []).append(code)
    error_schema = _schema_ref(ErrorResponse, schemas)
    gateway_schema = _schema_ref(GatewayErrorResponse, schemas)
    # The gateway answers these itself: no token (401), no route or id (404), throttled (429).
    gateway_statuses = (401, 404, 429) if route.auth == "jwt" else (403, 404, 429)
    for status in gateway_statuses:
        codes_by_status.setdefault(status, [])
    for status, codes in sorted(codes_by_status.items()):
        schema = (
            {"anyOf": [error_schema, gateway_schema]}
            if status in gateway_statuses
            else error_schema
        )
        described = ", ".join(sorted(set(codes))) or "refused by the gateway"
        responses[str(status)] = {
            "description": described,
            "content": {"application/json": {"schema": schema}},
        }
    return responses


def _schema_ref(
    model: type[BaseModel], schemas: dict[str, Any], *, mode: str = "serialization"
) -> dict[str, Any]:
    """Put the model's schema (and those it uses) under components; a $ref to it."""
    schema = model.model_json_schema(
        mode="validation" if mode == "validation" else "serialization",
        ref_template="#/components/schemas/{model}",
    )
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    name = model.__name__
    schemas.setdefault(name, schema)
    return {"$ref": f"#/components/schemas/{name}"}


def _operation_id(route: ApiRoute) -> str:
    words = [part.strip("{}") for part in route.path.split("/") if part]
    return "_".join([route.method.lower(), *words])
