"""The events AWS hands to Lambda handlers, built exactly as AWS shapes them.

Pure functions: HTTP API (payload format 2.0) requests, WebSocket API connect / message /
disconnect events, and SQS batches. The gateway and the poller gather the facts; these
functions put them where a handler on AWS would find them.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from local.template import ACCOUNT_ID, REGION

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_BASE64_ALPHABET_SAFE_IN_PATHS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789="
)
# Bodies API Gateway passes as text; everything else arrives base64-encoded.
_TEXT_MEDIA_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_TEXT_MEDIA_SUFFIXES = ("+json", "+xml")


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def gateway_id() -> str:
    """An id shaped like API Gateway's connection and request ids (`L0SM9cOFvHcCIhw=`).

    Real ids are base64; these avoid `+` and `/` so that they survive a URL path unquoted.
    """
    while True:
        candidate = base64.b64encode(secrets.token_bytes(11)).decode()
        if set(candidate) <= _BASE64_ALPHABET_SAFE_IN_PATHS:
            return candidate


def api_id() -> str:
    """A ten-character id like API Gateway's `abcde12345`."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


def request_time(moment: datetime) -> str:
    """`09/Feb/2024:18:11:43 +0000`, independent of the locale."""
    moment = moment.astimezone(UTC)
    return f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year}:{moment:%H:%M:%S} +0000"


def epoch_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# -- HTTP API, payload format 2.0 -------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    """The facts of one HTTP request as it reached the gateway."""

    method: str
    raw_path: str
    path: str
    raw_query_string: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True)
class JwtAuthorization:
    claims: Mapping[str, Any]
    scopes: Sequence[str] | None


@dataclass(frozen=True)
class IamAuthorization:
    """The IAM principal whose SigV4 signature an `AWS_IAM` route verified."""

    access_key: str
    user_arn: str
    user_id: str
    account_id: str = ACCOUNT_ID


def http_api_event(
    request: HttpRequest,
    *,
    route_key: str,
    path_parameters: Mapping[str, str],
    authorization: JwtAuthorization | None,
    api_id: str,
    request_id: str,
    now: datetime,
    iam: IamAuthorization | None = None,
) -> dict[str, Any]:
    """An HTTP API v2 event: optional keys are absent when empty, as API Gateway sends them."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        lowered = name.lower()
        if lowered == "cookie":
            cookies.extend(cookie.strip() for cookie in value.split(";") if cookie.strip())
            continue
        headers[lowered] = f"{headers[lowered]},{value}" if lowered in headers else value
    domain_name = headers.get("host", "127.0.0.1")
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": api_id,
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".")[0],
        "http": {
            "method": request.method.upper(),
            "path": request.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": request_time(now),
        "timeEpoch": epoch_millis(now),
    }
    if authorization is not None:
        request_context["authorizer"] = {
            "jwt": {
                "claims": _gateway_claims(authorization.claims),
                "scopes": list(authorization.scopes) if authorization.scopes else None,
            }
        }
    if iam is not None:
        # As API Gateway hands an AWS_IAM route's caller to the integration.
        request_context["authorizer"] = {
            "iam": {
                "accessKey": iam.access_key,
                "accountId": iam.account_id,
                "callerId": iam.user_id,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": iam.user_arn,
                "userId": iam.user_id,
            }
        }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query_string,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = _joined_query_parameters(request.raw_query_string)
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = request_context
    if request.body:
        if _is_text(headers.get("content-type", "")) and _is_utf8(request.body):
            event["body"] = request.body.decode("utf-8")
            event["isBase64Encoded"] = False
        else:
            # Bytes that are not UTF-8 go as they came, base64, so the handler sees them and
            # refuses them itself rather than reading U+FFFD in their place.
            event["body"] = base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    return event


def authorizer_event(
    http_event: Mapping[str, Any], identity_headers: Sequence[str]
) -> dict[str, Any]:
    """What a REQUEST authorizer (payload 2.0) receives for ``http_event``: the request
    without its body, its identity source's values and the route's ARN."""
    context = http_event["requestContext"]
    headers = http_event.get("headers", {})
    method, _, path = str(http_event["routeKey"]).partition(" ")
    event = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": (
            f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{context['apiId']}/"
            f"{context['stage']}/{method}{path}"
        ),
        "identitySource": [headers.get(name, "") for name in identity_headers],
        **{
            key: value
            for key, value in http_event.items()
            if key not in ("body", "isBase64Encoded", "version")
        },
    }
    return event


def _joined_query_parameters(raw_query_string: str) -> dict[str, str]:
    """Repeated parameters are joined with commas, as API Gateway does for payload 2.0."""
    joined: dict[str, str] = {}
    for name, value in parse_qsl(raw_query_string, keep_blank_values=True):
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _gateway_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """API Gateway hands JWT claims to the integration as strings (`[a b]` for lists)."""

    def as_string(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return "[" + " ".join(as_string(item) for item in value) + "]"
        if isinstance(value, dict):
            return json.dumps(value, separators=(",", ":"))
        return str(value)

    return {name: as_string(value) for name, value in claims.items()}


def _is_text(content_type: str) -> bool:
    media_type = content_type.split(";")[0].strip().lower()
    return media_type.startswith(_TEXT_MEDIA_TYPES) or media_type.endswith(_TEXT_MEDIA_SUFFIXES)


# -- WebSocket API ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WebSocketConnection:
    """What API Gateway knows about one WebSocket connection."""

    connection_id: str
    connected_at: datetime
    source_ip: str
    user_agent: str
    domain_name: str
    stage: str
    api_id: str


def websocket_connect_event(
    connection: WebSocketConnection,
    *,
    headers: Iterable[tuple[str, str]],
    raw_query_string: str,
    now: datetime,
) -> dict[str, Any]:
    single, multi = _websocket_headers(headers)
    event: dict[str, Any] = {"headers": single, "multiValueHeaders": multi}
    query = parse_qsl(raw_query_string, keep_blank_values=True)
    if query:
        multi_query: dict[str, list[str]] = {}
        for name, value in query:
            multi_query.setdefault(name, []).append(value)
        event["queryStringParameters"] = {name: values[-1] for name, values in multi_query.items()}
        event["multiValueQueryStringParameters"] = multi_query
    event["requestContext"] = _websocket_request_context(
        connection, route_key="$connect", event_type="CONNECT", now=now
    )
    event["isBase64Encoded"] = False
    return event


def websocket_message_event(
    connection: WebSocketConnection, *, route_key: str, body: str | bytes, now: datetime
) -> dict[str, Any]:
    context = _websocket_request_context(
        connection, route_key=route_key, event_type="MESSAGE", now=now
    )
    context = {"routeKey": route_key, "messageId": gateway_id(), **context}
    del context["identity"]["userAgent"]  # message events carry the source IP only
    if isinstance(body, bytes):
        return {
            "requestContext": context,
            "body": base64.b64encode(body).decode(),
            "isBase64Encoded": True,
        }
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def websocket_disconnect_event(
    connection: WebSocketConnection, *, status_code: int, reason: str, now: datetime
) -> dict[str, Any]:
    context = _websocket_request_context(
        connection, route_key="$disconnect", event_type="DISCONNECT", now=now
    )
    context = {
        "routeKey": "$disconnect",
        "disconnectStatusCode": status_code,
        **context,
        "disconnectReason": reason,
    }
    headers = {
        "Host": connection.domain_name,
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    return {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def _websocket_request_context(
    connection: WebSocketConnection, *, route_key: str, event_type: str, now: datetime
) -> dict[str, Any]:
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": gateway_id(),
        "requestTime": request_time(now),
        "messageDirection": "IN",
        "stage": connection.stage,
        "connectedAt": epoch_millis(connection.connected_at),
        "requestTimeEpoch": epoch_millis(now),
        "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
        "requestId": gateway_id(),
        "domainName": connection.domain_name,
        "connectionId": connection.connection_id,
        "apiId": connection.api_id,
    }


# ASGI servers lower-case header names; API Gateway passes WebSocket headers as sent.
_HEADER_SPELLINGS = {
    "sec-websocket-extensions": "Sec-WebSocket-Extensions",
    "sec-websocket-key": "Sec-WebSocket-Key",
    "sec-websocket-version": "Sec-WebSocket-Version",
    "sec-websocket-protocol": "Sec-WebSocket-Protocol",
}


def _websocket_headers(
    headers: Iterable[tuple[str, str]],
) -> tuple[dict[str, str], dict[str, list[str]]]:
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        spelled = _HEADER_SPELLINGS.get(name.lower(), "-".join(p.title() for p in name.split("-")))
        multi.setdefault(spelled, []).append(value)
    return {name: values[-1] for name, values in multi.items()}, multi


def selected_route(body: str | bytes, selection_expression: str) -> str | None:
    """The route key a message selects, e.g. its `action` for `$request.body.action`."""
    prefix = "$request.body."
    if isinstance(body, bytes) or not selection_expression.startswith(prefix):
        return None
    try:
        value: Any = json.loads(body)
    except ValueError:
        return None
    for key in selection_expression.removeprefix(prefix).split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value if isinstance(value, str) else None


# -- SQS --------------------------------------------------------------------------------------

_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
)


def sqs_batch_event(messages: Iterable[Mapping[str, Any]], *, queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source hands the function, from ReceiveMessage results."""
    return {"Records": [_sqs_record(message, queue_arn) for message in messages]}


def _sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    received = message.get("Attributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: received[name] for name in _RECORD_ATTRIBUTES if name in received},
        "messageAttributes": {
            name: _sqs_record_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record |= {"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": REGION}
    return record


def _sqs_record_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """ReceiveMessage's `StringValue`/`BinaryValue` → the event's camel-cased shape."""
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [
        base64.b64encode(item).decode() for item in value.get("BinaryListValues", [])
    ]
    attribute["dataType"] = value["DataType"]
    return attribute
