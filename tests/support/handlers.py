"""Load a Lambda handler module from functions/<name>/app.py, as the runtime does."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def load_function(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"function_{name}_{uuid.uuid4().hex}", FUNCTIONS / name / "app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeLambdaContext:
    function_name = "test-function"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "2026/11/25/[$LATEST]0"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def http_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    user: str | None = "user-1",
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event as the JWT authorizer passes it on."""
    import json
    from urllib.parse import urlencode

    authorizer = {"jwt": {"claims": {"sub": user}, "scopes": None}} if user else {}
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        # API Gateway joins a repeated parameter's values with commas.
        **({"queryStringParameters": query} if query else {}),
        "headers": {"content-type": "application/json"},
        "pathParameters": path_parameters,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "authorizer": authorizer,
            "domainName": "api.example",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": "req",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795608000000,
        },
        "body": json.dumps(body) if body is not None and not isinstance(body, str) else body,
        "isBase64Encoded": False,
    }
