"""The routes of the template's HTTP and WebSocket APIs, and which function serves each.

HTTP routes come from the OpenAPI body that SAM generates for each `AWS::Serverless::HttpApi`
(so Globals, default authorizers and `Authorizer: NONE` are already applied); WebSocket routes
from the `AWS::ApiGatewayV2::Route` resources, followed through their integration to the
function.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from local.intrinsics import Resolver, referenced_logical_ids
from local.template import CloudFormationTemplate

ANY_METHOD = "ANY"
DEFAULT_ROUTE = "$default"
_OPENAPI_ANY = "x-amazon-apigateway-any-method"
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


@dataclass(frozen=True)
class HttpRoute:
    """`METHOD /path/{param}` → function, and who may call it: a JWT (with these scopes) or
    an IAM principal's SigV4 signature (`AWS_IAM`), or anyone."""

    method: str
    path: str
    function_id: str
    requires_jwt: bool
    scopes: tuple[str, ...] = ()
    requires_iam: bool = False
    # A Lambda (REQUEST) authorizer: the function API Gateway runs before the route's, and
    # the headers its identity source names (a request without one is 401 unasked).
    authorizer_function: str | None = None
    identity_headers: tuple[str, ...] = ()

    @property
    def route_key(self) -> str:
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters if this route serves `method path`, else None."""
        if self.path == DEFAULT_ROUTE:
            return {}
        if self.method not in (ANY_METHOD, method.upper()):
            return None
        found = _path_pattern(self.path).fullmatch(path)
        return None if found is None else found.groupdict()


@dataclass(frozen=True)
class CorsConfig:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: int = 0


@dataclass(frozen=True)
class HttpApi:
    routes: tuple[HttpRoute, ...]
    cors: CorsConfig | None = None

    def find(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        """The route API Gateway would pick: most specific first, `$default` last."""
        for route in sorted(self.routes, key=_specificity):
            parameters = route.match(method, path)
            if parameters is not None:
                return route, parameters
        return None


@dataclass(frozen=True)
class WebSocketApi:
    stage: str
    route_selection_expression: str
    # route key ($connect, $disconnect, $default, subscribe, ...) → function logical id
    routes: dict[str, str] = field(default_factory=dict)
    # route keys whose integration answers the client (a two-way route)
    routes_with_response: frozenset[str] = frozenset()


def http_api(
    template: CloudFormationTemplate, resolver: Resolver, function_ids: Iterable[str]
) -> HttpApi:
    """The routes of every HTTP API in the template, merged (the local gateway serves all)."""
    functions = set(function_ids)
    routes: list[HttpRoute] = []
    cors: CorsConfig | None = None
    for resource in template.resources.values():
        if resource["Type"] != "AWS::ApiGatewayV2::Api":
            continue
        body = resource.get("Properties", {}).get("Body")
        if not isinstance(body, dict) or "paths" not in body:
            continue
        routes.extend(_openapi_routes(body, functions))
        if "x-amazon-apigateway-cors" in body:
            cors = _cors(resolver.resolve(body["x-amazon-apigateway-cors"]))
    return HttpApi(routes=tuple(routes), cors=cors)


def websocket_api(
    template: CloudFormationTemplate, resolver: Resolver, function_ids: Iterable[str]
) -> WebSocketApi | None:
    """The first WebSocket API of the template, its stage and its routes."""
    functions = set(function_ids)
    resources = template.resources
    api_id = next(
        (
            logical_id
            for logical_id, resource in resources.items()
            if resource["Type"] == "AWS::ApiGatewayV2::Api"
            and resource.get("Properties", {}).get("ProtocolType") == "WEBSOCKET"
        ),
        None,
    )
    if api_id is None:
        return None
    api_properties = resources[api_id]["Properties"]
    belonging = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if api_id in referenced_logical_ids(resource.get("Properties", {}).get("ApiId"))
    }
    routes: dict[str, str] = {}
    route_keys_by_id: dict[str, str] = {}
    for logical_id, resource in belonging.items():
        if resource["Type"] != "AWS::ApiGatewayV2::Route":
            continue
        properties = resource["Properties"]
        route_key = resolver.resolve_string(properties["RouteKey"])
        route_keys_by_id[logical_id] = route_key
        function_id = _function_behind(properties.get("Target"), resources, functions)
        if function_id is not None:
            routes[route_key] = function_id
    with_response = frozenset(
        route_keys_by_id[route_id]
        for resource in belonging.values()
        if resource["Type"] == "AWS::ApiGatewayV2::RouteResponse"
        for route_id in referenced_logical_ids(resource["Properties"].get("RouteId"))
        if route_id in route_keys_by_id
    )
    stage = next(
        (
            resolver.resolve_string(resource["Properties"]["StageName"])
            for resource in belonging.values()
            if resource["Type"] == "AWS::ApiGatewayV2::Stage"
        ),
        "$default",
    )
    return WebSocketApi(
        stage=stage,
        route_selection_expression=resolver.resolve_string(
            api_properties.get("RouteSelectionExpression", "$request.body.action")
        ),
        routes=routes,
        routes_with_response=with_response,
    )


def _openapi_routes(body: Mapping[str, Any], functions: set[str]) -> Iterable[HttpRoute]:
    schemes = body.get("components", {}).get("securitySchemes", {})
    jwt_schemes = {
        name
        for name, scheme in schemes.items()
        if scheme.get("x-amazon-apigateway-authorizer", {}).get("type") == "jwt"
    }
    iam_schemes = {
        name
        for name, scheme in schemes.items()
        if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4"
    }
    lambda_authorizers = {
        name: authorizer
        for name, scheme in schemes.items()
        if (authorizer := scheme.get("x-amazon-apigateway-authorizer", {})).get("type") == "request"
    }
    default_security = body.get("security", [])
    for path, operations in body["paths"].items():
        for key, operation in operations.items():
            if key == _OPENAPI_ANY:
                method = ANY_METHOD
            elif key in _HTTP_METHODS:
                method = key.upper()
            else:
                continue
            integration = operation.get("x-amazon-apigateway-integration", {})
            function_id = _first_function(referenced_logical_ids(integration.get("uri")), functions)
            if function_id is None:
                continue
            security = operation.get("security", default_security)
            jwt_requirements = [
                scopes
                for requirement in security
                for name, scopes in requirement.items()
                if name in jwt_schemes
            ]
            lambda_authorizer = next(
                (
                    lambda_authorizers[name]
                    for r in security
                    for name in r
                    if name in lambda_authorizers
                ),
                None,
            )
            yield HttpRoute(
                method=method,
                path=path,
                function_id=function_id,
                requires_jwt=bool(jwt_requirements),
                scopes=tuple(scope for scopes in jwt_requirements for scope in scopes),
                requires_iam=any(name in iam_schemes for r in security for name in r),
                authorizer_function=None
                if lambda_authorizer is None
                else _first_function(
                    referenced_logical_ids(lambda_authorizer.get("authorizerUri")), functions
                ),
                identity_headers=()
                if lambda_authorizer is None
                else _identity_headers(lambda_authorizer.get("identitySource")),
            )


def _identity_headers(identity_source: Any) -> tuple[str, ...]:
    """`$request.header.Authorization` (a string or a list of them) → ("authorization",)."""
    sources = [identity_source] if isinstance(identity_source, str) else identity_source or []
    prefix = "$request.header."
    return tuple(
        source[len(prefix) :].lower()
        for source in sources
        if isinstance(source, str) and source.startswith(prefix)
    )


def _function_behind(
    target: Any, resources: Mapping[str, Mapping[str, Any]], functions: set[str]
) -> str | None:
    """Follow a route's `integrations/<id>` target to the function its integration calls."""
    for logical_id in referenced_logical_ids(target):
        resource = resources.get(logical_id, {})
        if resource.get("Type") == "AWS::ApiGatewayV2::Integration":
            uri = resource.get("Properties", {}).get("IntegrationUri")
            return _first_function(referenced_logical_ids(uri), functions)
    return None


def _first_function(logical_ids: Iterable[str], functions: set[str]) -> str | None:
    return next((logical_id for logical_id in logical_ids if logical_id in functions), None)


def _cors(config: Mapping[str, Any]) -> CorsConfig:
    return CorsConfig(
        allow_origins=tuple(config.get("allowOrigins", ())),
        allow_methods=tuple(config.get("allowMethods", ())),
        allow_headers=tuple(config.get("allowHeaders", ())),
        expose_headers=tuple(config.get("exposeHeaders", ())),
        allow_credentials=str(config.get("allowCredentials", False)).lower() == "true",
        max_age=int(config.get("maxAge", 0)),
    )


def _path_pattern(path: str) -> re.Pattern[str]:
    pattern = ""
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{") and piece.endswith("}"):
            name = piece[1:-1]
            if name.endswith("+"):
                pattern += f"(?P<{_group(name[:-1])}>.+)"
            else:
                pattern += f"(?P<{_group(name)}>[^/]+)"
        else:
            pattern += re.escape(piece)
    return re.compile(pattern)


def _group(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"path parameter {name!r} is not supported by the local gateway")
    return name


def _specificity(route: HttpRoute) -> tuple[int, int, int, str]:
    """API Gateway prefers literal paths over parameters, greedy parameters last, ANY last."""
    if route.path == DEFAULT_ROUTE:
        return (2, 0, 0, "")
    greedy = "+}" in route.path
    parameters = route.path.count("{")
    return (1 if greedy else 0, parameters, 1 if route.method == ANY_METHOD else 0, route.path)
