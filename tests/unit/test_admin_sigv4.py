"""The local gateway's AWS_IAM check (local/sigv4.py) against what the admin CLI signs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from local.sigv4 import AdminCredentials, SignedRequest, verify
from sketchbridge.cli.admin_client import AdminEndpoint, signed_headers
from sketchbridge.domain import clock

NOW = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
KEY = AdminCredentials(
    access_key_id="AKIALOCAL0123456789AB", secret_access_key="s3cret/key+", region="us-east-1"
)
API = "http://127.0.0.1:3000"


def signed(
    method: str = "PUT",
    path_and_query: str = "/admin/budgets/user:ada?period=day",
    body: bytes = b'{"period": "day", "hard_usd": 2}',
    *,
    key: AdminCredentials = KEY,
    at: datetime = NOW,
) -> SignedRequest:
    """A request as the CLI sends it, signed with ``key`` at ``at``."""
    url = API + path_and_query
    endpoint = AdminEndpoint(API, key.access_key_id, key.secret_access_key, key.region)
    with clock.pinned(at, tick=False):
        headers = signed_headers(endpoint, method, url, body, {"Content-Type": "application/json"})
    parts = urlsplit(url)
    return SignedRequest(
        method=method,
        host=parts.netloc,
        raw_path=parts.path,
        raw_query_string=parts.query,
        # What the HTTP client adds is not signed, and must not matter.
        headers=[("host", parts.netloc), ("user-agent", "python-httpx"), *headers.items()],
        body=body,
    )


def verified(request: SignedRequest, *, at: datetime = NOW) -> str | None:
    with clock.pinned(at, tick=False):
        return verify(request, KEY)


def test_a_request_signed_with_the_admin_key_is_accepted() -> None:
    assert verified(signed()) is None
    assert verified(signed("GET", "/admin/health", b"")) is None


def test_an_unsigned_request_is_refused() -> None:
    request = signed()
    unsigned = [(n, v) for n, v in request.headers if n.lower() != "authorization"]

    assert verified(replace(request, headers=unsigned)) == "no Authorization header"


def test_a_users_bearer_token_is_refused() -> None:
    request = replace(signed(), headers=[("host", "127.0.0.1:3000"), ("authorization", "Bearer e")])

    assert verified(request) is not None


def test_a_signature_made_with_another_secret_is_refused() -> None:
    forged = signed(key=replace(KEY, secret_access_key="guessed"))

    assert verified(forged) == "the signature does not match"


def test_another_access_key_id_is_refused() -> None:
    assert verified(signed(key=replace(KEY, access_key_id="AKIAOTHER"))) == "unknown access key id"


def test_a_signature_for_another_region_is_refused() -> None:
    assert verified(signed(key=replace(KEY, region="eu-west-1"))) is not None


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_a_signature_dated_more_than_five_minutes_away_is_refused(skew: timedelta) -> None:
    assert verified(signed(at=NOW + skew)) is not None


def test_a_signature_dated_within_five_minutes_is_accepted() -> None:
    assert verified(signed(at=NOW - timedelta(minutes=4))) is None


def test_a_changed_body_is_refused() -> None:
    request = replace(signed(), body=b'{"period": "day", "hard_usd": 2000}')

    assert verified(request) == "the signature does not match"


def test_a_body_hash_header_that_is_not_the_bodys_is_refused() -> None:
    request = signed()
    lying = replace(
        request,
        headers=[*request.headers, ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
        body=b"{}",
    )

    assert verified(lying) is not None


@pytest.mark.parametrize(
    "change",
    [
        {"raw_query_string": "period=month"},
        {"raw_path": "/admin/budgets/user:eve"},
        {"method": "DELETE"},
    ],
)
def test_a_changed_query_path_or_method_is_refused(change: dict[str, str]) -> None:
    assert verified(replace(signed(), **change)) == "the signature does not match"  # type: ignore[arg-type]


def test_a_changed_signed_header_is_refused() -> None:
    request = signed()
    changed = [
        (name, "text/plain" if name.lower() == "content-type" else value)
        for name, value in request.headers
    ]

    assert verified(replace(request, headers=changed)) == "the signature does not match"


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AKIALOCAL0123456789AB, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        "Basic YWRtaW46YWRtaW4=",
        "",
    ],
)
def test_a_malformed_authorization_header_is_refused(authorization: str) -> None:
    request = signed()
    headers = [
        (name, authorization if name.lower() == "authorization" else value)
        for name, value in request.headers
    ]

    assert verified(replace(request, headers=headers)) is not None
