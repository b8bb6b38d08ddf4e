"""The one error table: every failure of Replicate, its SDK and the wire, in our words.

    Exception (raised inside this package, translated before it leaves the adapter)
    ├── ApiError                an HTTP error answer, read by the SDK's ReplicateError
    ├── UnexpectedAnswerError   an answer this adapter cannot read
    ├── PredictionEndedError    a final prediction with no picture (failed, canceled, ...)
    └── BudgetSpentError        the time budget ran out while following the prediction

``translate_failure`` turns those, and the SDK's and httpx's own exceptions, into the
project's ``ProviderError`` subclasses (``domain/errors.py``); nothing else escapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sketchbridge.domain import clock
from sketchbridge.domain.errors import (
    AuthFailedError,
    ContentPolicyError,
    ImageTooLargeError,
    InvalidParamsError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    QuotaExhaustedError,
    RateLimitedError,
    SketchbridgeError,
)

if TYPE_CHECKING:
    import httpx

    from sketchbridge.providers.replicate.prediction import Budget, Prediction

PROVIDER_NAME = "replicate"

# Words in a failed prediction's error that mean a safety filter refused it.
_SAFETY_MARKERS = ("nsfw", "safety", "sensitive", "content policy", "e005")
_QUOTA_MARKERS = ("insufficient credit", "out of credit", "billing", "quota", "payment")
_MAX_VENDOR_TEXT = 300


class UnexpectedAnswerError(Exception):
    """Replicate answered with something this adapter cannot read."""


@dataclass
class ApiError(Exception):
    """An HTTP error answer, as the SDK reads it, plus what it asked us to wait."""

    status: int
    title: str | None
    detail: str | None
    retry_after_s: float | None

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        from replicate.exceptions import ReplicateError

        error = ReplicateError.from_response(response)
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        if retry_after is None:
            retry_after = _body_retry_after(response)
        return cls(response.status_code, error.title, error.detail, retry_after)


def _body_retry_after(response: httpx.Response) -> float | None:
    # Replicate's 429 body carries "retry_after" (seconds) even when no header does.
    try:
        value = response.json().get("retry_after")
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) and value >= 0 else None


class PredictionEndedError(Exception):
    """The prediction reached a final state without a picture."""

    def __init__(self, prediction: Prediction) -> None:
        super().__init__(prediction.status)
        self.prediction = prediction


class BudgetSpentError(Exception):
    def __init__(self, prediction: Prediction) -> None:
        super().__init__(prediction.status)
        self.prediction = prediction


def translatable_failures() -> tuple[type[BaseException], ...]:
    """Every failure of the SDK and the wire that `translate_failure` knows."""
    import httpx
    from pydantic import v1 as pydantic_v1
    from replicate.exceptions import ReplicateException

    return (
        ReplicateException,
        httpx.HTTPError,
        httpx.InvalidURL,
        pydantic_v1.ValidationError,  # the SDK's models (File) rejecting an answer
        ApiError,
        UnexpectedAnswerError,
        PredictionEndedError,
        BudgetSpentError,
    )


def translate_failure(exc: BaseException, *, model: str, budget: Budget) -> SketchbridgeError:
    """The one table: every Replicate failure as the error a person at the canvas reads."""
    import httpx
    from replicate.exceptions import ReplicateError

    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, ReplicateError):  # raised by the SDK's own calls (uploads)
        exc = ApiError(exc.status or 0, exc.title, exc.detail, None)
    if isinstance(exc, ApiError):
        return _from_http_status(exc, model)
    if isinstance(exc, httpx.TimeoutException):
        return _request_timed_out(exc, budget)
    if isinstance(exc, BudgetSpentError):
        return _timed_out(budget)
    if isinstance(exc, PredictionEndedError):
        return _from_final_prediction(exc.prediction, budget)
    if isinstance(exc, httpx.HTTPError | httpx.InvalidURL):
        return ProviderUnavailableError(
            "Could not reach Replicate.",
            provider=PROVIDER_NAME,
            details={"reason": type(exc).__name__},
        )
    return ProviderUnavailableError(
        "Replicate sent an answer we could not read.",
        provider=PROVIDER_NAME,
        details={"reason": type(exc).__name__},
    )


def _from_http_status(error: ApiError, model: str) -> SketchbridgeError:
    status = error.status
    said = _vendor_text(error.detail or error.title)
    details: dict[str, Any] = {"provider_status": status, "provider_detail": said}
    if status in (401, 403):
        return AuthFailedError(
            "Replicate did not accept our API key.", provider=PROVIDER_NAME, details=details
        )
    if status == 402 or (status == 429 and _mentions(said, _QUOTA_MARKERS)):
        return QuotaExhaustedError(
            "Replicate has no credit left for this account.",
            provider=PROVIDER_NAME,
            details=details,
        )
    if status == 429:
        wait = error.retry_after_s
        return RateLimitedError(
            "Replicate is receiving too many requests from us right now.",
            provider=PROVIDER_NAME,
            details=details,
            retry_after_s=wait,
            suggestions=(
                f"Try again in {math.ceil(wait)} seconds, or choose another provider."
                if wait is not None
                else "Try again in a moment, or choose another provider.",
            ),
        )
    if status == 413:
        return ImageTooLargeError("The sketch is larger than Replicate accepts.", details=details)
    if status in (400, 422):
        if _mentions(said, ("version", "not permitted")):
            return InvalidParamsError(
                f"Replicate does not offer the configured model {model} (or not to this account).",
                details=details,
                suggestions=(
                    "Choose another provider.",
                    "Admin: check REPLICATE_MODEL and REPLICATE_MODEL_VERSION.",
                ),
            )
        return InvalidParamsError(f"Replicate refused the parameters: {said}", details=details)
    if status == 404:
        return ProviderUnavailableError(
            f"Replicate could not find what we asked for ({said}).",
            provider=PROVIDER_NAME,
            details=details,
            suggestions=(
                "Choose another provider.",
                "Admin: check REPLICATE_MODEL and REPLICATE_BASE_URL.",
            ),
        )
    return ProviderUnavailableError(
        f"Replicate is having trouble right now (HTTP {status}).",
        provider=PROVIDER_NAME,
        details=details,
    )


def _from_final_prediction(prediction: Prediction, budget: Budget) -> SketchbridgeError:
    said = _vendor_text(prediction.error)
    details: dict[str, Any] = {
        "prediction_id": prediction.id,
        "prediction_status": prediction.status,
    }
    if said:
        details["provider_detail"] = said
    if prediction.status == "failed" and _mentions(said, _SAFETY_MARKERS):
        return ContentPolicyError(
            "Replicate's safety filter refused to draw this.",
            provider=PROVIDER_NAME,
            details=details,
        )
    if prediction.status in ("canceled", "aborted") and budget.remaining() <= 1.0:
        # Cancel-After fired at our deadline (or just before it, by Replicate's clock).
        return _timed_out(budget, details)
    messages = {
        "failed": "Replicate's model failed while drawing this picture.",
        "canceled": "The job was canceled on Replicate's side before it finished.",
        "aborted": "Replicate gave up on the job before it started.",
        "succeeded": "Replicate finished but sent back no picture.",
    }
    return ProviderUnavailableError(
        messages.get(prediction.status, f"Replicate ended the job as {prediction.status!r}."),
        provider=PROVIDER_NAME,
        details=details,
    )


def _request_timed_out(exc: httpx.TimeoutException, budget: Budget) -> ProviderTimeoutError:
    """An HTTP timeout, named for the deadline that fired (issue 12: a 3 s read timeout was
    reported as "did not finish within 90 seconds", the whole budget)."""
    import httpx

    phases: dict[type[Exception], str] = {
        httpx.ConnectTimeout: "connect",
        httpx.ReadTimeout: "read",
        httpx.WriteTimeout: "write",
        httpx.PoolTimeout: "pool",
    }
    phase = phases.get(type(exc))
    if budget.remaining() <= 1.0:
        return _timed_out(budget)  # the whole budget is what ran out
    try:
        limits = exc.request.extensions.get("timeout", {})
    except RuntimeError:  # an exception raised without its request
        limits = {}
    fired = limits.get(phase) if phase is not None else None
    if not isinstance(fired, int | float):
        return _timed_out(budget)
    what = "connect to" if phase == "connect" else "answer"
    return ProviderTimeoutError(
        f"Replicate did not {what} within {fired:.1f} seconds (its {phase} timeout).",
        provider=PROVIDER_NAME,
        details={"timeout": phase, "seconds": round(float(fired), 3)},
    )


def _timed_out(budget: Budget, details: dict[str, Any] | None = None) -> ProviderTimeoutError:
    return ProviderTimeoutError(
        f"Replicate did not finish within {budget.seconds:.0f} seconds.",
        provider=PROVIDER_NAME,
        details=details,
    )


def _vendor_text(text: str | None) -> str:
    return " ".join((text or "").split())[:_MAX_VENDOR_TEXT]


def _mentions(text: str, markers: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in markers)


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header as seconds: delta-seconds or an HTTP date; None if absent or odd."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - clock.epoch_seconds())
