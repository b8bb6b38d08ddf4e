"""The prediction client: create, poll, cancel, upload and download through the SDK's client.

Every call goes through ``replicate.Client`` (imported on first use, never at import time):
it builds the httpx client (base URL, ``Authorization: Bearer``, user agent, its retry
transport) and uploads go through ``client.files.create``. Predictions are created, polled
and canceled with that client's low-level httpx client and read as raw JSON, not through
``client.predictions``, for two reasons: the SDK's create cannot send ``Cancel-After``, and
its pydantic ``Prediction`` rejects the ``aborted`` status. Errors still come out as the
SDK's own ``ReplicateError.from_response``. ``BudgetTransport`` sits under the SDK's retry
transport and keeps every attempt, and every retry pause, inside the request's budget.
"""

from __future__ import annotations

import io
import math
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sketchbridge.providers.replicate.config import ReplicateConfig
from sketchbridge.providers.replicate.errors import (
    ApiError,
    UnexpectedAnswerError,
    retry_after_seconds,
    translatable_failures,
)
from sketchbridge.providers.replicate.prediction import (
    FINAL_STATUSES,
    Budget,
    Prediction,
    data_url_bytes,
)

if TYPE_CHECKING:
    import httpx
    from replicate.client import Client as ReplicateClient

# An answer to a create request held by Prefer: wait comes this long after the hold at most.
WAIT_ANSWER_GRACE_S = 2.0
# What the SDK's RetryTransport retries (replicate 1.0.7); our transport bounds those retries.
_SDK_RETRIED_METHODS = frozenset({"HEAD", "GET", "PUT", "DELETE", "OPTIONS", "TRACE"})
_SDK_RETRIED_STATUSES = frozenset({429, 503, 504})
_SDK_BACKOFF_S = 0.1
# Hosts that may see our token when we fetch an output (besides the API's own host).
_DELIVERY_DOMAIN = "replicate.delivery"


class BudgetTransport:
    """Sits under the SDK's retry transport and keeps every attempt inside the budget.

    Each attempt's timeouts shrink to the time left; an attempt past the end is not made;
    and a 429/503/504 the SDK would retry is handed back as a failure instead when its pause
    (Retry-After, or the SDK's backoff) would not fit, or after ``status_retries`` retries:
    the SDK itself would try ten times and sleep however long Retry-After asks.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        ends_at: float,
        status_retries: int,
        clock: Callable[[], float],
    ) -> None:
        self._inner = inner
        self._ends_at = ends_at
        self._status_retries = status_retries
        self._clock = clock
        self._attempts: dict[int, int] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import httpx

        remaining = self._ends_at - self._clock()
        if remaining <= 0:
            raise httpx.ConnectTimeout(
                "the time budget for this generation is spent", request=request
            )
        timeouts = request.extensions.get("timeout", {})
        request.extensions["timeout"] = {
            name: min(remaining, value if value is not None else math.inf)
            for name, value in {
                **dict.fromkeys(("connect", "read", "write", "pool")),
                **timeouts,
            }.items()
        }
        response = self._inner.handle_request(request)
        if request.method in _SDK_RETRIED_METHODS and response.status_code in _SDK_RETRIED_STATUSES:
            attempt = self._attempts[id(request)] = self._attempts.get(id(request), 0) + 1
            pause = retry_after_seconds(response.headers.get("retry-after"))
            if pause is None:
                pause = _SDK_BACKOFF_S * 2 ** (attempt - 1) * 1.1
            if attempt > self._status_retries or pause >= self._ends_at - self._clock():
                response.read()
                raise ApiError.from_response(response)
        return response

    def close(self) -> None:
        self._inner.close()


class ReplicateSession:
    """One generation's conversation with Replicate through the SDK's client."""

    def __init__(self, config: ReplicateConfig, token: str, budget: Budget) -> None:
        import httpx
        from replicate.client import Client

        self._config = config
        self._budget = budget
        self._transport = BudgetTransport(
            httpx.HTTPTransport(retries=config.connect_retries),
            ends_at=budget.ends_at + config.cancel_grace_s,
            status_retries=config.status_retries,
            clock=budget.clock,
        )
        self._client: ReplicateClient = Client(
            api_token=token,
            base_url=config.base_url,
            timeout=httpx.Timeout(config.read_timeout_s, connect=config.connect_timeout_s),
            transport=self._transport,
        )
        # The SDK's own httpx client: base URL, Authorization, user agent, retry transport.
        self._http: httpx.Client = self._client._client
        self._api_host = urllib.parse.urlsplit(str(self._http.base_url)).hostname
        # The last state Replicate reported of our prediction: what a failure was billed.
        self.latest: Prediction | None = None

    def _seen(self, prediction: Prediction) -> Prediction:
        self.latest = prediction
        return prediction

    def finished(self, prediction: Prediction) -> Prediction:
        """The prediction in its final state, which alone carries ``metrics.predict_time``: a
        held answer comes "processing" with its output, so it is read once more. If that read
        fails or it is still not final, the prediction as it was (the cost is then estimated)."""
        if prediction.status in FINAL_STATUSES:
            return prediction
        try:
            final = self.get(prediction.id)
        except translatable_failures():
            return prediction
        return final if final.status in FINAL_STATUSES else prediction

    def __enter__(self) -> ReplicateSession:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def create(
        self, path: str, body: dict[str, Any], *, wait_s: int, cancel_after: str
    ) -> Prediction:
        headers = {"Cancel-After": cancel_after}
        read_s = self._config.read_timeout_s
        if wait_s >= 1:
            headers["Prefer"] = f"wait={wait_s}"
            read_s = wait_s + WAIT_ANSWER_GRACE_S
        response = self._http.post(path, json=body, headers=headers, timeout=self._timeout(read_s))
        return self._seen(Prediction.from_json(json_of(response)))

    def look_up_model(self, model: str) -> None:
        """The model's page exists and is ours to run (an error answer raises)."""
        timeout = self._timeout(self._config.read_timeout_s)
        if not isinstance(json_of(self._http.get(f"/v1/models/{model}", timeout=timeout)), dict):
            raise UnexpectedAnswerError("a model is a JSON object")

    def get(self, prediction_id: str) -> Prediction:
        path = f"/v1/predictions/{prediction_id}"
        timeout = self._timeout(self._config.read_timeout_s)
        return self._seen(Prediction.from_json(json_of(self._http.get(path, timeout=timeout))))

    def _timeout(self, read_s: float) -> httpx.Timeout:
        """Timeouts for a call that must end with the budget (the transport adds only grace)."""
        import httpx

        left = max(self._budget.remaining(), 0.05)
        return httpx.Timeout(min(read_s, left), connect=min(self._config.connect_timeout_s, left))

    def cancel_quietly(self, prediction: Prediction) -> None:
        """Stop the billing if we can; Cancel-After ends it at the deadline if we cannot.

        Posts to the prediction's own cancel URL (``urls.cancel``) when it is on the API's
        host, the only host our token goes to; else to the path the API documents. The
        answer is the canceled prediction, with the predict_time it was billed.
        """
        url = f"/v1/predictions/{prediction.id}/cancel"
        if prediction.cancel_url and self._on_api_host(prediction.cancel_url):
            url = prediction.cancel_url
        try:
            self._seen(Prediction.from_json(json_of(self._http.post(url))))
        except translatable_failures():
            pass

    def _on_api_host(self, url: str) -> bool:
        return urllib.parse.urlsplit(url).hostname == self._api_host

    def upload(self, content: bytes, *, filename: str) -> str:
        uploaded = self._client.files.create(
            io.BytesIO(content), filename=filename, content_type="image/png"
        )
        return str(uploaded.urls["get"])

    def download(self, url: str) -> bytes:
        if url.startswith("data:"):
            return data_url_bytes(url)
        request = self._http.build_request("GET", url)
        host = urllib.parse.urlsplit(url).hostname or ""
        if (
            host != self._api_host
            and host != _DELIVERY_DOMAIN
            and not host.endswith("." + _DELIVERY_DOMAIN)
        ):
            del request.headers["Authorization"]  # our token goes only to Replicate's hosts
        response = self._http.send(request)
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response.content


def json_of(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise ApiError.from_response(response)
    try:
        return response.json()
    except ValueError as exc:
        raise UnexpectedAnswerError("the answer is not JSON") from exc
