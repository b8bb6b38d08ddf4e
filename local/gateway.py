"""The local API Gateway: the HTTP API, the WebSocket API and its @connections endpoint.

One Starlette app plays, on the API port:

- the HTTP API (payload format 2.0) with its JWT authorizer, backed by the dev issuer, and
  its AWS_IAM authorizer on the admin routes, which verifies SigV4 against the stack's own
  dummy admin credentials (`local/sigv4.py`);
- the WebSocket API at `/ws`, with `$connect`, `$disconnect` and route selection;
- the `@connections` management API at `/_connections/@connections/{id}`, which handlers reach
  through boto3's `apigatewaymanagementapi` client exactly as on AWS;
- the dev issuer (`/dev-issuer/...`), the web page (`/`, its ES modules and stylesheet under
  `/app/`) and its config (`/_local/config`);
- the API's OpenAPI document at `/openapi.json` (generated from sketchbridge/api/openapi.py).

A second app (`lambda_app()`) plays Lambda's Invoke API on its own loopback port, as boto3
reaches it through AWS_ENDPOINT_URL_LAMBDA: it runs any function with any event, so no
browser may reach it (no CORS, not on the API's port).

A web page open in the same browser can reach 127.0.0.1: only the HTTP API answers CORS.
What hands out credentials (`/_local/config`, `/dev-issuer/token`) answers only requests
from the page's own origin on a loopback host name, which also defeats DNS rebinding.

Handlers run in worker threads, never on the event loop: they make blocking HTTP calls back
into this very server (`@connections`, the JWKS).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from local import events
from local.dev_jwt import DevIssuer
from local.lambda_runtime import LocalFunction
from local.routes import CorsConfig, HttpApi, HttpRoute, WebSocketApi
from local.sigv4 import AdminCredentials, SignedRequest, verify
from local.template import ACCOUNT_ID
from sketchbridge.api.openapi import openapi_document
from sketchbridge.domain import clock

logger = logging.getLogger(__name__)

CONNECTIONS_PREFIX = "/_connections"
# Lambda's Invoke path; boto3 appends it to AWS_ENDPOINT_URL_LAMBDA.
LAMBDA_INVOKE_PATH = "/2015-03-31/functions"
WEBSOCKET_PATH = "/ws"
# The IAM user the local stack's admin credentials belong to, as the admin handler logs it.
LOCAL_ADMIN_USER = "sketchbridge-local-admin"
# The page's modules and stylesheet: web/app/ on disk, /app/ on the site (as on a static host).
PAGE_ASSETS_PREFIX = "/app"
PAGE_ASSET_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# API Gateway's PostToConnection limit.
MAX_POST_TO_CONNECTION_BYTES = 128 * 1024


def connections_url(api_url: str) -> str:
    """What WEBSOCKET_MANAGEMENT_URL is locally: boto3 appends `/@connections/{id}`."""
    return f"{api_url}{CONNECTIONS_PREFIX}"


@dataclass
class _LiveConnection:
    facts: events.WebSocketConnection
    socket: WebSocket
    last_active_at: datetime
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class Gateway:
    """Everything the local API Gateway serves; `app()` builds the ASGI application."""

    http_api: HttpApi
    websocket_api: WebSocketApi | None
    functions: Mapping[str, LocalFunction]
    issuer: DevIssuer
    page_config: Mapping[str, str] = field(default_factory=dict)
    web_root: Path | None = None
    # What the AWS_IAM routes accept; None: no signature does, every such request gets 403.
    admin_credentials: AdminCredentials | None = None
    http_api_id: str = field(default_factory=events.api_id)
    websocket_api_id: str = field(default_factory=events.api_id)
    _connections: dict[str, _LiveConnection] = field(default_factory=dict, init=False)

    def app(self) -> Starlette:
        routes = [
            Route("/", self._page, methods=["GET"]),
            Route(PAGE_ASSETS_PREFIX + "/{asset:path}", self._page_asset, methods=["GET"]),
            Route("/_local/config", self._page_config, methods=["GET"]),
            Route("/openapi.json", self._openapi, methods=["GET"]),
            Route("/dev-issuer/.well-known/jwks.json", self._jwks, methods=["GET"]),
            Route(
                "/dev-issuer/.well-known/openid-configuration",
                self._openid_configuration,
                methods=["GET"],
            ),
            Route("/dev-issuer/token", self._mint_token, methods=["POST"]),
            Route(
                CONNECTIONS_PREFIX + "/@connections/{connection_id:path}",
                self._manage_connection,
                methods=["GET", "POST", "DELETE"],
            ),
            WebSocketRoute(WEBSOCKET_PATH, self._websocket),
            Route("/{path:path}", self._http_api, methods=_ALL_METHODS),
        ]
        return Starlette(
            routes=routes,
            middleware=[Middleware(_HttpApiCors, cors=self.http_api.cors)],
            # A path no route pattern matches (Starlette's `path` stops at a newline) gets
            # API Gateway's JSON 404, not Starlette's plain text.
            exception_handlers={404: _not_found},
        )

    def lambda_app(self) -> Starlette:
        """Lambda's Invoke API, for its own loopback port: no CORS, nothing else."""
        return Starlette(
            routes=[
                Route(
                    LAMBDA_INVOKE_PATH + "/{function_name}/invocations",
                    self._invoke_function,
                    methods=["POST"],
                )
            ]
        )

    # -- Lambda Invoke API (a function calling another, e.g. Submit → OCR) ----------------------

    async def _invoke_function(self, request: Request) -> Response:
        """Lambda's synchronous Invoke, as boto3 calls it with AWS_ENDPOINT_URL_LAMBDA here."""
        name = request.path_params["function_name"]
        function = next(
            (
                candidate
                for logical_id, candidate in self.functions.items()
                if name in (logical_id, candidate.config.name)
            ),
            None,
        )
        if function is None:
            return JSONResponse(
                {"Type": "User", "message": f"Function not found: {name}"},
                status_code=404,
                headers={"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
        try:
            payload = json.loads(await request.body() or b"{}")
        except ValueError:
            return JSONResponse(
                {"Type": "User", "message": "Could not parse request body into json"},
                status_code=400,
                headers={"x-amzn-ErrorType": "InvalidRequestContentException"},
            )
        try:
            answer = await run_in_threadpool(function.invoke, payload)
        except Exception as exc:  # the function's own failure, reported as Lambda does
            return JSONResponse(
                {"errorMessage": str(exc), "errorType": type(exc).__name__},
                headers={"X-Amz-Function-Error": "Unhandled"},
            )
        return JSONResponse(answer)

    # -- HTTP API -----------------------------------------------------------------------------

    async def _http_api(self, request: Request) -> Response:
        found = self.http_api.find(request.method, request.url.path)
        if found is None:
            return _gateway_error(404, "Not Found")
        route, path_parameters = found
        authorization: events.JwtAuthorization | None = None
        iam: events.IamAuthorization | None = None
        body = await request.body()
        if route.requires_iam:
            iam = self._authorize_iam(request, route, body)
            if iam is None:
                return _gateway_error(403, "Forbidden")
        if route.requires_jwt:
            authorization = self._authorize(request, route)
            if authorization is None:
                return _gateway_error(401, "Unauthorized")
            if not _has_required_scope(authorization, route):
                return _gateway_error(403, "Forbidden")
        request_id = events.gateway_id()
        if route.authorizer_function is not None and not all(
            request.headers.get(name) for name in route.identity_headers
        ):
            # API Gateway refuses a request without the identity source, asking no one.
            return _gateway_error(401, "Unauthorized")
        event = events.http_api_event(
            events.HttpRequest(
                method=request.method,
                raw_path=request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
                path=request.url.path,
                raw_query_string=request.scope.get("query_string", b"").decode("latin-1"),
                headers=[
                    (name.decode("latin-1"), value.decode("latin-1"))
                    for name, value in request.scope["headers"]
                ],
                body=body,
                source_ip=request.client.host if request.client else "127.0.0.1",
                protocol=f"HTTP/{request.scope.get('http_version', '1.1')}",
            ),
            route_key=route.route_key,
            path_parameters=path_parameters,
            authorization=authorization,
            api_id=self.http_api_id,
            request_id=request_id,
            now=clock.utc_now(),
            iam=iam,
        )
        if route.authorizer_function is not None:
            refusal = await self._authorize_lambda(route, event)
            if refusal is not None:
                refusal.headers["apigw-requestid"] = request_id
                return refusal
        function = self.functions.get(route.function_id)
        if function is None:
            logger.error("%s: %s has no local code", route.route_key, route.function_id)
            return _gateway_error(500, "Internal Server Error")
        try:
            result = await run_in_threadpool(function.invoke, event)
            response = http_response(result)
        except Exception:
            logger.exception("%s failed on %s", route.function_id, route.route_key)
            response = _gateway_error(500, "Internal Server Error")
        response.headers["apigw-requestid"] = request_id
        return response

    async def _authorize_lambda(self, route: HttpRoute, event: dict[str, Any]) -> Response | None:
        """Run the route's Lambda authorizer as API Gateway does (payload 2.0, simple
        responses): None and its context in the event when it allows, else the refusal.

        No result cache here: a revoked key is refused at once locally, while on AWS the
        answer is cached for the authorizer's ReauthorizeEvery (the README says how long).
        """
        function = self.functions.get(route.authorizer_function or "")
        if function is None:
            logger.error(
                "%s: authorizer %s has no local code", route.route_key, route.authorizer_function
            )
            return _gateway_error(500, "Internal Server Error")
        try:
            answer = await run_in_threadpool(
                function.invoke, events.authorizer_event(event, route.identity_headers)
            )
        except Exception:
            logger.exception(
                "authorizer %s failed on %s", route.authorizer_function, route.route_key
            )
            return _gateway_error(500, "Internal Server Error")
        if not isinstance(answer, dict) or answer.get("isAuthorized") is not True:
            return _gateway_error(403, "Forbidden")
        context = answer.get("context")
        event["requestContext"]["authorizer"] = {
            "lambda": dict(context) if isinstance(context, dict) else {}
        }
        return None

    def _authorize_iam(
        self, request: Request, route: HttpRoute, body: bytes
    ) -> events.IamAuthorization | None:
        """The admin principal when the request is signed with the stack's admin key."""
        credentials = self.admin_credentials
        if credentials is None:
            logger.info("%s: no admin credentials configured", route.route_key)
            return None
        refusal = verify(
            SignedRequest(
                method=request.method,
                host=request.headers.get("host", ""),
                raw_path=request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
                raw_query_string=request.scope.get("query_string", b"").decode("latin-1"),
                headers=[
                    (name.decode("latin-1"), value.decode("latin-1"))
                    for name, value in request.scope["headers"]
                ],
                body=body,
            ),
            credentials,
        )
        if refusal is not None:
            logger.info("%s: signature rejected: %s", route.route_key, refusal)
            return None
        return events.IamAuthorization(
            access_key=credentials.access_key_id,
            user_arn=f"arn:aws:iam::{ACCOUNT_ID}:user/{LOCAL_ADMIN_USER}",
            user_id=f"AIDALOCAL{credentials.access_key_id[-12:]}",
        )

    def _authorize(self, request: Request, route: HttpRoute) -> events.JwtAuthorization | None:
        header = request.headers.get("authorization", "").strip()
        token = header[7:].strip() if header.lower().startswith("bearer ") else header
        if not token:
            return None
        try:
            claims = self.issuer.verify(token)
        except jwt.InvalidTokenError as error:
            logger.info("%s: token rejected: %s", route.route_key, error)
            return None
        scope_claim = claims.get("scope", claims.get("scp"))
        scopes = scope_claim.split() if isinstance(scope_claim, str) else scope_claim
        return events.JwtAuthorization(claims=claims, scopes=scopes or None)

    # -- WebSocket API ------------------------------------------------------------------------

    async def _websocket(self, socket: WebSocket) -> None:
        api = self.websocket_api
        if api is None:
            await socket.close(code=1008)
            return
        now = clock.utc_now()
        facts = events.WebSocketConnection(
            connection_id=events.gateway_id(),
            connected_at=now,
            source_ip=socket.client.host if socket.client else "127.0.0.1",
            user_agent=socket.headers.get("user-agent", ""),
            domain_name=socket.headers.get("host", "127.0.0.1"),
            stage=api.stage,
            api_id=self.websocket_api_id,
        )
        connect_event = events.websocket_connect_event(
            facts,
            headers=[
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in socket.scope["headers"]
            ],
            raw_query_string=socket.scope.get("query_string", b"").decode("latin-1"),
            now=now,
        )
        status = await self._connect_status(api, connect_event)
        if not 200 <= status < 300:
            await _refuse(socket, status)
            return
        self._connections[facts.connection_id] = _LiveConnection(facts, socket, now)
        await socket.accept()
        close_code, reason = _NO_STATUS_CODE, ""
        try:
            while True:
                message = await socket.receive()
                if message["type"] == "websocket.disconnect":
                    close_code = int(message.get("code") or _NO_STATUS_CODE)
                    reason = message.get("reason") or ""
                    break
                body: str | bytes = (
                    message["text"] if message.get("text") is not None else message["bytes"]
                )
                live = self._connections.get(facts.connection_id)
                if live is not None:
                    live.last_active_at = clock.utc_now()
                await self._on_message(api, facts, body)
        except WebSocketDisconnect as disconnect:
            close_code = disconnect.code
        finally:
            self._connections.pop(facts.connection_id, None)
            await self._invoke_websocket_route(
                api,
                "$disconnect",
                events.websocket_disconnect_event(
                    facts,
                    status_code=close_code,
                    reason=reason or _DISCONNECT_REASONS.get(close_code, ""),
                    now=clock.utc_now(),
                ),
            )

    async def _connect_status(self, api: WebSocketApi, event: dict[str, Any]) -> int:
        if "$connect" not in api.routes:
            return 200  # without a $connect route API Gateway lets everyone in
        try:
            result = await self._invoke_websocket_route(api, "$connect", event, reraise=True)
        except Exception:
            return 500
        if isinstance(result, dict) and "statusCode" in result:
            return int(result["statusCode"])
        return 200

    async def _on_message(
        self, api: WebSocketApi, facts: events.WebSocketConnection, body: str | bytes
    ) -> None:
        route_key = events.selected_route(body, api.route_selection_expression)
        if route_key not in api.routes:
            route_key = "$default"
        event = events.websocket_message_event(
            facts, route_key=route_key, body=body, now=clock.utc_now()
        )
        request_id = event["requestContext"]["requestId"]
        if route_key not in api.routes:
            await self._send_gateway_message(facts.connection_id, "Forbidden", request_id)
            return
        try:
            result = await self._invoke_websocket_route(api, route_key, event, reraise=True)
        except Exception:
            await self._send_gateway_message(
                facts.connection_id, "Internal server error", request_id
            )
            return
        if route_key in api.routes_with_response and isinstance(result, dict):
            reply = result.get("body")
            if reply is not None:
                await self.post_to_connection(facts.connection_id, str(reply).encode())

    async def _invoke_websocket_route(
        self, api: WebSocketApi, route_key: str, event: dict[str, Any], *, reraise: bool = False
    ) -> Any:
        function_id = api.routes.get(route_key)
        function = self.functions.get(function_id) if function_id else None
        if function is None:
            return None
        try:
            return await run_in_threadpool(function.invoke, event)
        except Exception:
            logger.exception("%s failed on WebSocket route %s", function_id, route_key)
            if reraise:
                raise
            return None

    async def _send_gateway_message(
        self, connection_id: str, message: str, request_id: str
    ) -> None:
        payload = {"message": message, "connectionId": connection_id, "requestId": request_id}
        await self.post_to_connection(connection_id, json.dumps(payload).encode())

    # -- @connections -------------------------------------------------------------------------

    async def post_to_connection(self, connection_id: str, data: bytes) -> bool:
        """Send `data` to a live connection as one frame; False if it is gone."""
        connection = self._connections.get(connection_id)
        if connection is None:
            return False
        try:
            async with connection.send_lock:
                try:
                    await connection.socket.send_text(data.decode("utf-8"))
                except UnicodeDecodeError:
                    await connection.socket.send_bytes(data)
        except (RuntimeError, OSError, WebSocketDisconnect):
            return False
        connection.last_active_at = clock.utc_now()
        return True

    async def _manage_connection(self, request: Request) -> Response:
        connection_id = request.path_params["connection_id"]
        connection = self._connections.get(connection_id)
        if request.method == "POST":
            data = await request.body()
            if len(data) > MAX_POST_TO_CONNECTION_BYTES:
                return _management_error(413, "PayloadTooLargeException", "Message too long")
            if await self.post_to_connection(connection_id, data):
                return Response(status_code=200)
            return _gone()
        if connection is None or connection.socket.client_state != WebSocketState.CONNECTED:
            return _gone()
        if request.method == "DELETE":
            self._connections.pop(connection_id, None)
            await connection.socket.close(code=1000)
            return Response(status_code=204)
        # The wire names; boto3 presents them as ConnectedAt, Identity.SourceIp, ...
        return JSONResponse(
            {
                "connectedAt": _iso(connection.facts.connected_at),
                "identity": {
                    "sourceIp": connection.facts.source_ip,
                    "userAgent": connection.facts.user_agent,
                },
                "lastActiveAt": _iso(connection.last_active_at),
            }
        )

    # -- dev issuer and page ------------------------------------------------------------------

    async def _jwks(self, _request: Request) -> Response:
        return JSONResponse(self.issuer.jwks())

    async def _openid_configuration(self, _request: Request) -> Response:
        return JSONResponse(self.issuer.openid_configuration())

    async def _mint_token(self, request: Request) -> Response:
        refused = _refuse_unless_same_origin(request)
        if refused is not None:
            return refused
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("sub"), str):
            return JSONResponse({"message": 'expected {"sub": "<user id>"}'}, status_code=400)
        token_use = payload.get("token_use", "id")
        if token_use not in ("id", "access"):
            return JSONResponse({"message": 'token_use is "id" or "access"'}, status_code=400)
        token = self.issuer.mint(payload["sub"], email=payload.get("email"), token_use=token_use)
        return JSONResponse({"token": token})

    async def _openapi(self, _request: Request) -> Response:
        """The HTTP API's OpenAPI document (sketchbridge/api/openapi.py), for this server."""
        return JSONResponse(openapi_document(self.page_config.get("api_url")))

    async def _page_config(self, request: Request) -> Response:
        # The dev token is in it: for the page this server served, never for another origin.
        refused = _refuse_unless_same_origin(request)
        if refused is not None:
            return refused
        return JSONResponse(dict(self.page_config))

    async def _page(self, request: Request) -> Response:
        index = self.web_root / "index.html" if self.web_root else None
        if index is not None and index.is_file():
            return FileResponse(index, media_type="text/html")
        if self.http_api.find("GET", "/") is not None:
            return await self._http_api(request)
        return PlainTextResponse("web/index.html is not there yet.", status_code=404)

    async def _page_asset(self, request: Request) -> Response:
        """A file of web/app/ as a static host would serve it; nothing outside that folder."""
        if self.web_root is None:
            return _gateway_error(404, "Not Found")
        folder = (self.web_root / "app").resolve()
        wanted = (folder / request.path_params["asset"]).resolve()
        media_type = PAGE_ASSET_TYPES.get(wanted.suffix)
        if not wanted.is_relative_to(folder) or not wanted.is_file() or media_type is None:
            return _gateway_error(404, "Not Found")
        # No caching while developing: an edited module shows on the next reload.
        return FileResponse(wanted, media_type=media_type, headers={"cache-control": "no-cache"})


# What API Gateway writes in disconnectReason when the close frame gave none.
_NO_STATUS_CODE = 1005
_DISCONNECT_REASONS = {
    _NO_STATUS_CODE: "Client-side close frame status not set",
    1001: "Going away",
    1006: "Connection closed abnormally",
}

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def http_response(result: Any) -> Response:
    """Map a handler's result to the HTTP response API Gateway (payload 2.0) would send."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # No statusCode: API Gateway answers 200 with the result as a JSON body.
        body = result if isinstance(result, str) else json.dumps(result)
        return Response(body, status_code=200, media_type="application/json")
    status = int(result["statusCode"])
    body = result.get("body") or ""
    content = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    response = Response(content, status_code=status)
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for cookie in result.get("cookies") or []:
        response.headers.append("set-cookie", cookie)
    return response


def _gateway_error(status: int, message: str) -> Response:
    return JSONResponse({"message": message}, status_code=status)


async def _not_found(_request: Request, _exc: Exception) -> Response:
    return _gateway_error(404, "Not Found")


def _management_error(status: int, error_type: str, message: str | None) -> Response:
    # boto3 reads the error code from x-amzn-ErrorType and raises the modelled exception.
    return JSONResponse(
        {"message": message}, status_code=status, headers={"x-amzn-ErrorType": error_type}
    )


def _gone() -> Response:
    return _management_error(410, "GoneException", None)


def _has_required_scope(authorization: events.JwtAuthorization, route: HttpRoute) -> bool:
    if not route.scopes:
        return True
    return bool(set(route.scopes) & set(authorization.scopes or ()))


async def _refuse(socket: WebSocket, status: int) -> None:
    """Reject the upgrade with the status `$connect` returned, as API Gateway does."""
    try:
        await socket.send_denial_response(
            JSONResponse({"message": HTTPStatus(status).phrase}, status_code=status)
        )
    except RuntimeError:
        # The server cannot answer an upgrade with a plain HTTP response: refuse by closing.
        await socket.close(code=1008)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Served without CORS on any origin: they hand out credentials, or push to live sockets.
_NO_CORS_PREFIXES = ("/_local/", "/dev-issuer/token", CONNECTIONS_PREFIX + "/")
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# Fetch metadata a browser adds: anything but its own page (or typing the URL) is refused.
_SAME_SITE_FETCHES = ("same-origin", "none")


class _HttpApiCors:
    """The template's CORS configuration on the HTTP API's routes only, as on AWS."""

    def __init__(self, app: ASGIApp, cors: CorsConfig | None) -> None:
        self._app = app
        self._cors: ASGIApp | None = (
            None
            if cors is None
            else CORSMiddleware(
                app,
                allow_origins=list(cors.allow_origins),
                allow_methods=list(cors.allow_methods),
                allow_headers=list(cors.allow_headers),
                expose_headers=list(cors.expose_headers),
                allow_credentials=cors.allow_credentials,
                max_age=cors.max_age,
            )
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        local_only = scope["type"] == "http" and str(scope.get("path", "")).startswith(
            _NO_CORS_PREFIXES
        )
        if self._cors is None or local_only:
            await self._app(scope, receive, send)
        else:
            await self._cors(scope, receive, send)


def _refuse_unless_same_origin(request: Request) -> Response | None:
    """403 unless the request comes from this server's own page on a loopback name.

    The Host must be a loopback name (a rebound DNS name is not), and a browser's Origin and
    Sec-Fetch-Site, when sent, must name this very origin. Tools such as curl send neither.
    """
    host = request.headers.get("host", "")
    server = request.scope.get("server") or ("", 0)
    port = server[1]
    own_origins = {f"http://{name}:{port}" for name in _LOOPBACK_NAMES}
    if f"http://{host}" not in own_origins:
        return _gateway_error(403, "Forbidden: ask for this from 127.0.0.1 or localhost")
    origin = request.headers.get("origin")
    if origin is not None and origin not in own_origins:
        return _gateway_error(403, "Forbidden: only this server's own page may ask for this")
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in _SAME_SITE_FETCHES:
        return _gateway_error(403, "Forbidden: only this server's own page may ask for this")
    return None
