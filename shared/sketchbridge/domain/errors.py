"""The one error tree of Sketchbridge.

Every failure a user or an admin can see is one of these, each with a stable
``code``, a message written for the person who reads it, whether retrying the
same request may help (``retryable``), whether another provider may succeed
(``failover``) and suggestions of what to do next. HTTP statuses are mapped in
one table at the API edge (``sketchbridge.api.http``), never here.

    SketchbridgeError
    ├── InvalidRequestError            invalid_input and its kin: the request itself is wrong (4xx)
    │   ├── InvalidBodyError           invalid_body: not UTF-8, not JSON, nested too deep
    │   │   └── BodyTooLargeError      body_too_large: more bytes than any request needs (413)
    │   ├── InvalidHeaderError         invalid_header: a header too long or with bad characters
    │   ├── InvalidSketchError         sketch missing, malformed data URL, unreadable image
    │   │   ├── UnsupportedFormatError unsupported_format: not PNG, JPEG or WebP
    │   │   ├── ImageTooLargeError     image_too_large: too many bytes or pixels
    │   │   ├── CorruptImageError      corrupt_image: truncated or undecodable
    │   │   ├── AnimatedImageError     animated_image: more than one frame
    │   │   └── EmptySketchError       empty_sketch: nothing drawn
    │   ├── InvalidPromptError         invalid_prompt: empty or too long
    │   ├── InvalidParamsError         invalid_params: a parameter out of range or unknown
    │   ├── UnknownProviderError       unknown_provider
    │   ├── IdempotencyConflictError   idempotency_conflict (409)
    │   └── IdempotencyInProgressError idempotency_in_progress (409): the first is still storing
    ├── UnauthorizedError              unauthorized: no or bad token (401)
    ├── ForbiddenError                 forbidden: an admin route without an IAM principal (403)
    ├── NotFoundError                  not_found: no such job, or not yours (404)
    ├── JobFinishedError               job_finished: cancel of a job that already ended (409)
    ├── NotRefinableError              not_refinable: no picture to refine (409)
    ├── JobInProgressError             job_in_progress: deleting a job still queued or running (409)
    ├── ProviderError                  a provider refused or failed
    │   ├── ContentPolicyError         content_policy: final, no failover
    │   ├── RateLimitedError           rate_limited: retry after a pause, or fail over
    │   ├── QuotaExhaustedError        quota_exhausted: fail over, an admin must top up
    │   ├── AuthFailedError            auth_failed: fail over, an admin must fix the key
    │   ├── ProviderUnavailableError   provider_unavailable: retry, fail over
    │   └── ProviderTimeoutError       timeout: retry, fail over
    ├── JobCanceledError               canceled: the owner canceled it mid-call (never a failure)
    ├── BudgetExceededError            budget_exceeded: the quote does not fit a hard limit (402)
    ├── QuotaExceededError             rate_limited: a per-user quota, with Retry-After (429)
    └── InternalError                  internal: a bug or an outage of ours
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

from sketchbridge.domain.billing import ProviderUsage

if TYPE_CHECKING:
    from sketchbridge.domain.models import BudgetLimitInfo


class SketchbridgeError(Exception):
    """Base of every error a user or admin may see.

    ``retryable``: the same request to the same place may succeed later.
    ``failover``: another provider may succeed now (``failover_helps``).
    """

    code: ClassVar[str] = "internal"
    retryable: ClassVar[bool] = False
    failover: ClassVar[bool] = False
    default_suggestions: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        message: str,
        *,
        suggestions: tuple[str, ...] | list[str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.suggestions = (
            tuple(suggestions) if suggestions is not None else self.default_suggestions
        )
        self.details = details or {}

    @property
    def failover_helps(self) -> bool:
        return self.failover


class InvalidRequestError(SketchbridgeError):
    code = "invalid_input"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Check the request against the API reference and send it again.",
    )


class InvalidBodyError(InvalidRequestError):
    code = "invalid_body"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Send a UTF-8 JSON object (Content-Type: application/json) as the API reference shows.",
    )


class BodyTooLargeError(InvalidBodyError):
    code = "body_too_large"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Send a smaller sketch: the API takes sketches up to 8 MB.",
    )


class InvalidHeaderError(InvalidRequestError):
    code = "invalid_header"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Send header values of printable ASCII within the documented length.",
    )


class InvalidSketchError(InvalidRequestError):
    code = "invalid_sketch"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        'Send the sketch as a data URL: "data:image/png;base64,<base64 of the PNG>".',
        "Export the canvas with canvas.toDataURL('image/png').",
    )


class UnsupportedFormatError(InvalidSketchError):
    code = "unsupported_format"
    default_suggestions: ClassVar[tuple[str, ...]] = ("Export the sketch as PNG, JPEG or WebP.",)


class ImageTooLargeError(InvalidSketchError):
    code = "image_too_large"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Scale the sketch down (2048 pixels a side is plenty) and try again.",
    )


class CorruptImageError(InvalidSketchError):
    code = "corrupt_image"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "The file looks damaged: export the sketch again as PNG and resend it.",
    )


class AnimatedImageError(InvalidSketchError):
    code = "animated_image"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Send a single still frame as PNG, JPEG or WebP.",
    )


class EmptySketchError(InvalidSketchError):
    code = "empty_sketch"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Draw something first: the canvas looks blank.",
    )


class InvalidPromptError(InvalidRequestError):
    code = "invalid_prompt"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Describe what you want in a few words, up to 2000 characters.",
    )


class InvalidParamsError(InvalidRequestError):
    code = "invalid_params"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Check the ranges listed by GET /providers and send it again.",
    )


class UnknownProviderError(InvalidRequestError):
    code = "unknown_provider"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        'Use "auto", or one of the providers listed by GET /providers.',
    )


class IdempotencyConflictError(InvalidRequestError):
    code = "idempotency_conflict"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Use a new Idempotency-Key for a different request.",
    )


class IdempotencyInProgressError(InvalidRequestError):
    code = "idempotency_in_progress"
    retryable = True
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Retry with the same Idempotency-Key in a few seconds.",
    )


class UnauthorizedError(SketchbridgeError):
    code = "unauthorized"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Sign in again; your token may have expired.",
    )


class ForbiddenError(SketchbridgeError):
    code = "forbidden"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Sign the request with SigV4 (service execute-api) as an IAM principal allowed to "
        "invoke the admin routes; a user's token is not enough.",
    )


class NotFoundError(SketchbridgeError):
    code = "not_found"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Check the generation id; you can only see your own generations.",
    )


class JobFinishedError(SketchbridgeError):
    """A cancel of a job that already succeeded or failed: there is nothing left to stop."""

    code = "job_finished"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Nothing to cancel: the generation has ended; read it with GET /generations/{id}.",
    )

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message)
        # The status it ended with, in the error object (``ErrorInfo.status``).
        self.status = status


class NotRefinableError(SketchbridgeError):
    code = "not_refinable"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        'Refine a generation that succeeded, or send "from": "sketch" to start from its sketch.',
    )


class JobInProgressError(SketchbridgeError):
    code = "job_in_progress"
    retryable = True
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Wait for the generation to end (or cancel it), then delete it.",
    )


class ProviderError(SketchbridgeError):
    code = "provider_error"
    retryable = True
    failover = True

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        suggestions: tuple[str, ...] | list[str] | None = None,
        details: dict[str, Any] | None = None,
        retry_after_s: float | None = None,
        usage: ProviderUsage | None = None,
    ) -> None:
        super().__init__(message, suggestions=suggestions, details=details)
        self.provider = provider
        # What the provider asked for (Retry-After), when it said.
        self.retry_after_s = retry_after_s
        # What the provider billed although the call failed (a Replicate prediction canceled
        # at our deadline still bills its predict_time); None when it billed nothing.
        self.usage = usage

    def with_usage(self, usage: ProviderUsage | None) -> Self:
        """This error, saying what the failed call was billed (for the adapters' tables)."""
        self.usage = usage
        return self


class ContentPolicyError(ProviderError):
    code = "content_policy"
    retryable = False
    failover = False
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Rephrase the prompt or change the sketch; the provider refused it.",
    )


class RateLimitedError(ProviderError):
    code = "rate_limited"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Try again in a moment, or choose another provider.",
    )


class QuotaExhaustedError(ProviderError):
    code = "quota_exhausted"
    retryable = False
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Choose another provider; an admin has to top up this one's credit.",
    )


class AuthFailedError(ProviderError):
    code = "auth_failed"
    retryable = False
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Choose another provider; an admin has to fix this one's API key.",
    )


class ProviderUnavailableError(ProviderError):
    code = "provider_unavailable"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Try again shortly, or choose another provider.",
    )


class ProviderTimeoutError(ProviderError):
    code = "timeout"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Try again with fewer steps, or choose a faster provider.",
    )


class JobCanceledError(SketchbridgeError):
    """The job's owner canceled it while a provider was working on it.

    Raised by an adapter when ``ProviderRequest.should_stop()`` turned true: it has already
    asked the provider to stop where the provider can (Replicate's cancel URL; OpenAI's stream
    closed). Not a provider failure: no failover, no retry, no breaker count. ``usage`` is what
    the provider billed for the work done before the stop, for the ledger.
    """

    code = "canceled"
    default_suggestions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, message: str, *, usage: ProviderUsage | None = None) -> None:
        super().__init__(message)
        self.usage = usage


class BudgetExceededError(SketchbridgeError):
    code = "budget_exceeded"
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Ask an admin to raise the budget, or try again next period.",
    )

    def __init__(
        self,
        message: str,
        *,
        budget: BudgetLimitInfo | None = None,
        suggestions: tuple[str, ...] | list[str] | None = None,
    ) -> None:
        super().__init__(message, suggestions=suggestions)
        # Which budget refused, what it holds and when it resets (the 402's body says so).
        self.budget = budget


class QuotaExceededError(SketchbridgeError):
    """A user's own quota (requests per minute, jobs in flight), not a provider's limit."""

    code = "rate_limited"
    retryable = True
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Wait a moment before sending more requests.",
    )

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: int,
        suggestions: tuple[str, ...] | list[str] | None = None,
    ) -> None:
        super().__init__(message, suggestions=suggestions)
        # Whole seconds, as the Retry-After header carries them.
        self.retry_after_s = retry_after_s


class InternalError(SketchbridgeError):
    code = "internal"
    retryable = True
    default_suggestions: ClassVar[tuple[str, ...]] = (
        "Try again; if it keeps failing, tell us the generation id.",
    )
