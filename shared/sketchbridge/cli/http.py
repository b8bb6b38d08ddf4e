"""One HTTP exchange with the API, for the user's client and the admins' alike.

Whatever goes wrong becomes an ``ApiError`` carrying the API's own code, message and
suggestions when it sent its error body (``{"error": {...}}``), else the gateway's words.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote, urlencode

from sketchbridge.cli.endpoints import TOKEN_ENV
from sketchbridge.cli.errors import ApiError

if TYPE_CHECKING:
    import httpx

HTTP_TIMEOUT_SECONDS = 30.0
RETRYABLE_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# The error object's keys every error has; the others are the error's details.
_ERROR_KEYS = frozenset({"code", "message", "suggestions", "retryable"})


def error_from_response(status: int, body: bytes, *, token_given: bool = True) -> ApiError:
    """Turn an error answer into an ApiError: the API's own error body, else the gateway's."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = None
    info = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(info, dict) and isinstance(info.get("code"), str):
        return ApiError(
            str(info.get("message") or info["code"]),
            code=info["code"],
            suggestions=[str(s) for s in info.get("suggestions") or []],
            retryable=bool(info.get("retryable", False)),
            http_status=status,
            details={key: value for key, value in info.items() if key not in _ERROR_KEYS},
        )
    # Not our error body: API Gateway answered ({"message": "Unauthorized"}) or a proxy did.
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        message = payload["message"]
    else:
        message = body.decode("utf-8", "replace").strip()[:200] or "no details"
    suggestions: list[str] = []
    if status == 401:
        code = "unauthorized"
        suggestions.append(
            f"Pass a valid token with --token or {TOKEN_ENV}."
            if not token_given
            else "Your token was refused; get a fresh one."
        )
    elif status == 404:
        # Our routes answer 404 with our error body: this is the gateway's, no such route.
        code = "not_found"
        suggestions.append("The API may not offer this call yet: check its version and --api.")
    elif status == 413:
        code = "image_too_large"
        suggestions.append("Scale the sketch down (2048 pixels a side is plenty) and try again.")
    elif status == 429:
        code = "rate_limited"
    elif status >= 500:
        code = "unavailable"
    else:
        code = f"http_{status}"
    return ApiError(
        f"HTTP {status}: {message}",
        code=code,
        suggestions=suggestions,
        retryable=status in RETRYABLE_HTTP_STATUSES,
        http_status=status,
    )


def exchange(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    api_url: str,
    headers: Mapping[str, str],
    content: bytes | None = None,
    token_given: bool = True,
) -> Any:
    """Send one request; the answer's JSON (None for 204 No Content), or an ApiError."""
    import httpx

    try:
        response = http.request(method, url, content=content, headers=dict(headers))
    except httpx.TimeoutException as exc:
        raise ApiError(
            f"The API at {api_url} did not answer in time.", code="timeout", retryable=True
        ) from exc
    except httpx.HTTPError as exc:
        raise ApiError(
            f"Could not reach the API at {api_url}: {exc}",
            code="unreachable",
            suggestions=[
                "For the local stack, start it with `make run`.",
                "Check the address given with --api.",
            ],
            retryable=True,
        ) from exc
    if not response.is_success:
        raise error_from_response(response.status_code, response.content, token_given=token_given)
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        path = httpx.URL(url).path
        raise ApiError(
            f"The API answered {method} {path} with something that is not JSON.",
            code="bad_response",
        ) from exc


def with_query(url: str, query: Mapping[str, str | None] | None) -> str:
    """``url`` with the query's present values, sorted and %-encoded as SigV4 signs them."""
    present = {key: value for key, value in (query or {}).items() if value is not None}
    if not present:
        return url
    return url + "?" + urlencode(sorted(present.items()), quote_via=quote, safe="-_.~")


class HttpSession:
    """One httpx client for a command's calls, closed with it; a test hands in its own."""

    def __init__(self, http: httpx.Client | None) -> None:
        import httpx

        self._http = http or httpx.Client(timeout=HTTP_TIMEOUT_SECONDS)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send(
        self,
        method: str,
        url: str,
        *,
        api_url: str,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        token_given: bool = True,
        sign: Callable[[str, str, bytes, Mapping[str, str]], dict[str, str]] | None = None,
    ) -> Any:
        """``body`` as JSON to ``url``, signed by ``sign`` when given; the answer's JSON."""
        all_headers = {"Accept": "application/json", **(headers or {})}
        content = b""
        if body is not None:
            all_headers["Content-Type"] = "application/json"
            content = json.dumps(body).encode()
        if sign is not None:
            all_headers = sign(method, url, content, all_headers)
        return exchange(
            self._http,
            method,
            url,
            api_url=api_url,
            headers=all_headers,
            content=content,
            token_given=token_given,
        )
