"""The local gateway: HTTP API v2 events, the JWT authorizer, WebSocket routes, @connections.

The stack runs in this process from a copy of the real template.yaml whose functions are tiny
fakes that echo the events they receive, so the tests see exactly what a handler would.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from local.dev_jwt import DevIssuer
from local.stack import LocalStack

REPO_ROOT = Path(__file__).resolve().parents[2]

ECHO_HTTP_HANDLER = """
import base64, json

def lambda_handler(event, context):
    path = event["rawPath"]
    if path.endswith("/boom"):
        raise RuntimeError("the handler failed")
    if path.endswith("/binary"):
        return {"statusCode": 200, "headers": {"content-type": "image/png"},
                "body": base64.b64encode(b"\\x89PNG").decode(), "isBase64Encoded": True}
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-function": context.function_name},
        "cookies": ["seen=1; Path=/"],
        "body": json.dumps(event),
    }
"""

RECORDING_WEBSOCKET_HANDLER = """
import json, os
import boto3

EVENTS = {events_file!r}

def lambda_handler(event, context):
    with open(EVENTS, "a") as log:
        log.write(json.dumps(event) + "\\n")
    request = event["requestContext"]
    if request["routeKey"] == "$connect":
        token = (event.get("queryStringParameters") or {{}}).get("token")
        return {{"statusCode": 200 if token == "let-me-in" else 401}}
    if request["routeKey"] == "subscribe":
        management = boto3.client(
            "apigatewaymanagementapi", endpoint_url=os.environ["WEBSOCKET_MANAGEMENT_URL"]
        )
        management.post_to_connection(
            ConnectionId=request["connectionId"], Data=json.dumps({{"echo": event}}).encode()
        )
    return {{"statusCode": 200}}
"""

NOOP_PROCESSOR = """
def lambda_handler(event, context):
    return {"batchItemFailures": []}
"""


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("websocket") / "events.jsonl"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, events_file: Path) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("repo")
    shutil.copy(REPO_ROOT / "template.yaml", root / "template.yaml")
    handlers = {
        "submit": ECHO_HTTP_HANDLER,
        "query": ECHO_HTTP_HANDLER,
        "websocket": RECORDING_WEBSOCKET_HANDLER.format(events_file=str(events_file)),
        "processor": NOOP_PROCESSOR,
    }
    for name, source in handlers.items():
        (root / "functions" / name).mkdir(parents=True)
        (root / "functions" / name / "app.py").write_text(source)
    with LocalStack(port=0, aws_port=0, template_path=root / "template.yaml") as running:
        yield running


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _recorded_events(events_file: Path, route_key: str) -> list[dict[str, Any]]:
    if not events_file.exists():
        return []
    recorded = []
    for line in events_file.read_text().splitlines():
        try:
            recorded.append(json.loads(line))
        except ValueError:
            continue  # the handler is still writing this line
    return [event for event in recorded if event["requestContext"]["routeKey"] == route_key]


def _wait_for(condition: Any, what: str) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never saw {what}")


def _management_client(stack: LocalStack) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"{stack.api_url}/_connections",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


# -- HTTP API ---------------------------------------------------------------------------------


def test_a_request_reaches_the_handler_as_an_http_api_v2_event(
    api: httpx.Client, stack: LocalStack
) -> None:
    response = api.post(
        "/generations?b=2&a=1&a=3",
        json={"prompt": "a cat"},
        headers={**_bearer(stack.dev_token), "X-Custom": "yes", "Cookie": "c1=v1; c2=v2"},
    )

    assert response.status_code == 201
    event = response.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /generations"
    assert event["rawPath"] == "/generations"
    assert event["rawQueryString"] == "b=2&a=1&a=3"
    assert event["queryStringParameters"] == {"a": "1,3", "b": "2"}
    assert event["headers"]["x-custom"] == "yes"
    assert event["headers"]["content-type"] == "application/json"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert json.loads(event["body"]) == {"prompt": "a cat"}
    assert event["isBase64Encoded"] is False
    assert "pathParameters" not in event
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/generations"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["http"]["userAgent"].startswith("python-httpx")
    assert context["routeKey"] == "POST /generations"
    assert context["stage"] == "$default"
    assert context["accountId"] and context["apiId"] and context["requestId"]
    assert isinstance(context["timeEpoch"], int)
    assert context["authorizer"]["jwt"]["claims"]["sub"] == "dev-user"
    assert context["authorizer"]["jwt"]["claims"]["token_use"] == "id"


def test_path_parameters_and_the_route_key_come_from_the_template(
    api: httpx.Client, stack: LocalStack
) -> None:
    event = api.get("/generations/job-42", headers=_bearer(stack.dev_token)).json()

    assert event["routeKey"] == "GET /generations/{id}"
    assert event["pathParameters"] == {"id": "job-42"}
    assert "body" not in event
    assert "queryStringParameters" not in event


def test_the_handlers_status_headers_and_cookies_reach_the_client(
    api: httpx.Client, stack: LocalStack
) -> None:
    response = api.get("/providers", headers=_bearer(stack.dev_token))

    assert response.status_code == 201
    assert response.headers["x-function"] == "sketchbridge-local-QueryFunction"
    assert response.headers["set-cookie"] == "seen=1; Path=/"


def test_a_base64_body_from_the_handler_is_sent_as_bytes(
    api: httpx.Client, stack: LocalStack
) -> None:
    response = api.get("/generations/binary", headers=_bearer(stack.dev_token))

    assert response.headers["content-type"] == "image/png"
    assert response.content == b"\x89PNG"


def test_a_failing_handler_answers_500_like_api_gateway(
    api: httpx.Client, stack: LocalStack
) -> None:
    response = api.get("/generations/boom", headers=_bearer(stack.dev_token))

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_an_unknown_route_answers_404_not_found(api: httpx.Client, stack: LocalStack) -> None:
    for method, path in [("GET", "/nowhere"), ("DELETE", "/generations")]:
        response = api.request(method, path, headers=_bearer(stack.dev_token))

        assert response.status_code == 404
        assert response.json() == {"message": "Not Found"}


def test_a_path_with_a_newline_answers_the_gateways_json_404(
    api: httpx.Client, stack: LocalStack
) -> None:
    # Found by Schemathesis: a newline in a path parameter matched no route pattern and got
    # Starlette's plain-text 404, which no client of API Gateway expects.
    response = api.get("/admin/providers/%0Aopenai", headers=_bearer(stack.dev_token))

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer not-a-jwt",
        "Bearer " + DevIssuer("http://127.0.0.1:1/dev-issuer").mint("mallory"),
    ],
    ids=["missing", "garbage", "foreign-issuer"],
)
def test_the_authorizer_rejects_a_request_without_a_valid_token(
    api: httpx.Client, authorization: str | None
) -> None:
    headers = {"authorization": authorization} if authorization else {}

    response = api.post("/generations", json={}, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_the_authorizer_rejects_an_expired_token(api: httpx.Client, stack: LocalStack) -> None:
    expired = stack.mint_token("dev-user", lifetime_seconds=-60)

    response = api.get("/providers", headers=_bearer(expired))

    assert response.status_code == 401


def test_the_dev_issuer_mints_tokens_for_other_users(api: httpx.Client) -> None:
    token = api.post("/dev-issuer/token", json={"sub": "alice"}).json()["token"]

    event = api.get("/providers", headers=_bearer(token)).json()

    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "alice"


def test_the_dev_issuer_publishes_its_keys_where_cognito_does(
    api: httpx.Client, stack: LocalStack
) -> None:
    jwks = api.get("/dev-issuer/.well-known/jwks.json").json()
    config = api.get("/_local/config").json()

    assert [key["kty"] for key in jwks["keys"]] == ["RSA"]
    assert config == {
        "api_url": stack.api_url,
        "ws_url": stack.ws_url,
        "dev_token": stack.dev_token,
    }


def test_cors_preflight_is_answered_from_the_templates_configuration(api: httpx.Client) -> None:
    response = api.options(
        "/generations",
        headers={
            "origin": "http://example.test",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


def test_cors_preflight_allows_the_idempotency_key_header(api: httpx.Client) -> None:
    # Refused before: a browser could not send Idempotency-Key, so it could not retry safely.
    response = api.options(
        "/generations",
        headers={
            "origin": "http://example.test",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type,idempotency-key",
        },
    )

    assert response.status_code == 200
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "idempotency-key" in allowed


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"host": "rebound.evil.example"},
    ],
    ids=["other-origin", "null-origin", "cross-site-fetch", "dns-rebinding-host"],
)
@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/_local/config"), ("POST", "/dev-issuer/token")]
)
def test_the_dev_token_is_never_handed_to_another_origin(
    api: httpx.Client, stack: LocalStack, method: str, path: str, headers: dict[str, str]
) -> None:
    if "host" in headers:
        headers = {"host": f"{headers['host']}:{stack.port}"}
    response = api.request(method, path, headers=headers, json={"sub": "mallory"})

    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    assert stack.dev_token not in response.text and "token" not in response.json()


def test_the_page_config_answers_its_own_page_without_cors(
    api: httpx.Client, stack: LocalStack
) -> None:
    same_origin = api.get(
        "/_local/config", headers={"origin": stack.api_url, "sec-fetch-site": "same-origin"}
    )
    assert same_origin.status_code == 200 and same_origin.json()["dev_token"] == stack.dev_token
    assert "access-control-allow-origin" not in same_origin.headers

    preflight = api.options(
        "/_local/config",
        headers={"origin": "http://evil.example", "access-control-request-method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_lambda_invoke_is_not_served_on_the_api_port(api: httpx.Client) -> None:
    # It ran any function with any claims and no token, reachable from any web page.
    response = api.post(
        "/2015-03-31/functions/SubmitFunction/invocations",
        json={},
        headers={"origin": "http://evil.example"},
    )
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_lambda_invoke_answers_on_its_own_loopback_port_without_cors(stack: LocalStack) -> None:
    assert stack.lambda_port not in (0, stack.port)
    with httpx.Client(base_url=stack.lambda_url, timeout=30) as invoke:
        preflight = invoke.options(
            "/2015-03-31/functions/QueryFunction/invocations",
            headers={"origin": "http://evil.example", "access-control-request-method": "POST"},
        )
        unknown = invoke.post("/2015-03-31/functions/NoSuchFunction/invocations", json={})
        malformed = invoke.post(
            "/2015-03-31/functions/QueryFunction/invocations", content=b"{not json"
        )
    assert "access-control-allow-origin" not in preflight.headers
    assert unknown.status_code == 404
    assert malformed.status_code == 400


def test_the_connections_api_answers_no_cors(api: httpx.Client) -> None:
    preflight = api.options(
        "/_connections/@connections/someone",
        headers={"origin": "http://evil.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


# -- WebSocket API ----------------------------------------------------------------------------


def _connect(stack: LocalStack, token: str = "let-me-in") -> ClientConnection:
    return connect(f"{stack.ws_url}?token={token}", open_timeout=30)


def test_connect_passes_the_token_and_a_gateway_shaped_event(
    stack: LocalStack, events_file: Path
) -> None:
    with _connect(stack) as socket:
        socket.send(json.dumps({"action": "subscribe", "id": "job-1"}))
        echoed = json.loads(socket.recv(timeout=30))["echo"]

    (connect_event,) = [
        event
        for event in _recorded_events(events_file, "$connect")
        if event["requestContext"]["connectionId"] == echoed["requestContext"]["connectionId"]
    ]
    assert connect_event["queryStringParameters"] == {"token": "let-me-in"}
    assert connect_event["isBase64Encoded"] is False
    context = connect_event["requestContext"]
    assert context["eventType"] == "CONNECT"
    assert context["messageDirection"] == "IN"
    assert context["stage"] == "dev"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    for key in ("connectedAt", "requestTimeEpoch", "requestTime", "requestId", "apiId"):
        assert context[key]

    assert echoed["body"] == json.dumps({"action": "subscribe", "id": "job-1"})
    assert echoed["requestContext"]["eventType"] == "MESSAGE"
    assert echoed["requestContext"]["routeKey"] == "subscribe"
    assert echoed["requestContext"]["connectedAt"] == context["connectedAt"]


def test_connect_refused_by_the_handler_rejects_the_upgrade(stack: LocalStack) -> None:
    with pytest.raises(InvalidStatus) as refused:
        _connect(stack, token="wrong")

    assert refused.value.response.status_code == 401


def test_a_message_for_no_route_is_answered_forbidden(stack: LocalStack) -> None:
    with _connect(stack) as socket:
        socket.send(json.dumps({"action": "dance"}))
        answer = json.loads(socket.recv(timeout=30))

    assert answer["message"] == "Forbidden"
    assert answer["connectionId"] and answer["requestId"]


def test_closing_the_socket_sends_disconnect(stack: LocalStack, events_file: Path) -> None:
    with _connect(stack) as socket:
        socket.send(json.dumps({"action": "subscribe", "id": "job-2"}))
        connection_id = json.loads(socket.recv(timeout=30))["echo"]["requestContext"][
            "connectionId"
        ]

    disconnect = _wait_for(
        lambda: [
            event
            for event in _recorded_events(events_file, "$disconnect")
            if event["requestContext"]["connectionId"] == connection_id
        ],
        "the $disconnect event",
    )[0]
    assert disconnect["requestContext"]["eventType"] == "DISCONNECT"
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1000


# -- @connections -----------------------------------------------------------------------------


def test_posting_to_an_unknown_connection_raises_gone_exception(stack: LocalStack) -> None:
    management = _management_client(stack)

    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId="NoSuchConn0=", Data=b"hello")


def test_posting_to_a_live_connection_delivers_the_frame(stack: LocalStack) -> None:
    management = _management_client(stack)
    with _connect(stack) as socket:
        socket.send(json.dumps({"action": "subscribe", "id": "job-3"}))
        connection_id = json.loads(socket.recv(timeout=30))["echo"]["requestContext"][
            "connectionId"
        ]

        management.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"status"}')
        info = management.get_connection(ConnectionId=connection_id)

        assert json.loads(socket.recv(timeout=30)) == {"type": "status"}
        assert info["Identity"]["SourceIp"] == "127.0.0.1"
        assert info["ConnectedAt"] <= info["LastActiveAt"]


def test_deleting_a_connection_closes_the_socket(stack: LocalStack) -> None:
    management = _management_client(stack)
    with _connect(stack) as socket:
        socket.send(json.dumps({"action": "subscribe", "id": "job-4"}))
        connection_id = json.loads(socket.recv(timeout=30))["echo"]["requestContext"][
            "connectionId"
        ]

        management.delete_connection(ConnectionId=connection_id)

        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=30)
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=b"late")


# -- emulated AWS, as a web page in the same browser would try it -----------------------------


def test_emulated_aws_refuses_a_web_page_but_serves_boto3_and_presigned_reads(
    stack: LocalStack,
) -> None:
    # moto checks no signature and answered CORS for any origin: a page could read every
    # user's sketches, write the tables or queue messages.
    assert stack.provisioned is not None
    bucket = stack.provisioned.physical_ids["ArtifactsBucket"]
    queue_url = stack.provisioned.physical_ids["JobsQueue"]
    s3 = _aws_client(stack, "s3")
    s3.put_object(Bucket=bucket, Key="results/secret.png", Body=b"someone's picture")
    presigned = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "results/secret.png"}, ExpiresIn=60
    )
    page = {"origin": "http://evil.example", "sec-fetch-site": "cross-site"}
    with httpx.Client(base_url=stack.aws_endpoint_url, timeout=30) as aws:
        listing = aws.get(f"/{bucket}?list-type=2", headers=page)
        preflight = aws.options(
            f"/{bucket}/results/secret.png",
            headers={**page, "access-control-request-method": "PUT"},
        )
        enqueue = aws.post(
            "/",
            data={"Action": "SendMessage", "QueueUrl": queue_url, "MessageBody": "{}"},
            headers=page,
        )
        forged_action = aws.get(
            "/",
            params={
                "Action": "SendMessage",
                "QueueUrl": queue_url,
                "MessageBody": "{}",
                "Signature": "forged",
            },
            headers={"sec-fetch-site": "cross-site"},
        )
        rebound = aws.get(f"/{bucket}?list-type=2", headers={"host": "rebound.evil.example"})
        image = httpx.get(presigned, headers={"sec-fetch-site": "cross-site"}, timeout=30)

    refused = (listing, enqueue, forged_action, rebound)
    assert [response.status_code for response in refused] == [403, 403, 403, 403]
    assert "access-control-allow-origin" not in preflight.headers
    assert image.status_code == 200 and image.content == b"someone's picture"
    assert s3.get_object(Bucket=bucket, Key="results/secret.png")["Body"].read()


def _aws_client(stack: LocalStack, service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=stack.aws_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_the_page_s_modules_are_served_as_javascript_from_web_app(api: httpx.Client) -> None:
    module = api.get("/app/main.js")

    assert module.status_code == 200
    assert module.headers["content-type"].startswith("text/javascript")
    assert "import" in module.text


@pytest.mark.parametrize(
    "path",
    ["/app/%2e%2e/%2e%2e/pyproject.toml", "/app/%2e%2e/index.html", "/app/nothing.js"],
    ids=["outside-the-repo", "outside-web-app", "missing"],
)
def test_nothing_outside_web_app_is_served_as_a_page_asset(api: httpx.Client, path: str) -> None:
    response = api.get(path)

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}
