"""The ``openai`` provider: OpenAI's GPT image models redraw the sketch through ``images.edit``.

The module is not called ``openai.py`` so that it can never shadow the SDK it imports.

The call. The sketch, padded to the chosen size, goes up as the one input image (PNG) of
``images.edit`` with the prompt, the configured model and quality, ``output_format="png"``,
and ``stream=True, partial_images=N``: each partial image the model streams becomes a progress
event carrying it as ``preview_png``, and the ``completed`` event carries the picture. The
picture is handed on as OpenAI returns it, with its real width and height.

What the unified parameters become:

    prompt              the prompt
    width x height      the configured size nearest their aspect ratio (1024x1024, 1536x1024
                        or 1024x1536 by default); the sketch is padded to it, never stretched,
                        and the first progress event says which size was asked for
    seed                not supported: ``capabilities.seed`` is False and ``result.seed`` None
    negative_prompt     not supported (``capabilities.negative_prompt`` is False)
    steps, strength,    not supported: the model decides. ``max_steps`` is 1 and
    guidance_scale      ``unsupported_parameters`` names them all
Whatever the request sets that OpenAI cannot use is named in the first progress event's
message, so the person at the canvas is told rather than left to guess.

Retries. The SDK's own retries are off (``max_retries=0``) and this module retries instead,
because the SDK decides on the HTTP status alone: it would retry a 429 that means the credit is
used up (``insufficient_quota``) like a rate limit, three attempts each bound to fail; it waits
for any ``Retry-After`` up to 120 s whatever is left of our budget; and it gives each attempt
the full timeout again. Here a rate limit, a 5xx or a lost connection is retried up to
``max_attempts`` times, only while the answer has not started streaming, and only when the
pause (``Retry-After`` when OpenAI sends one, else an exponential backoff) ends before the
request's deadline; quota, auth, policy and input errors are final. Every attempt's timeout is
what is left of ``request.timeout_s``, which is the whole budget: past it the stream is closed
(OpenAI has no cancel endpoint; closing the connection is how a stream is abandoned) and
``ProviderTimeoutError`` is raised.

Billing. OpenAI bills tokens: ``result.usage`` carries the completed event's ``usage`` (input
text and image tokens, output tokens, the partial images' tokens included by OpenAI) and the
``x-request-id``; ``openai_usage`` reads a non-streamed ``ImagesResponse.usage`` the same way.
A stream that ends without its completed event reports no usage, so the error's ``usage``
counts the previews it sent (each billed as 100 output tokens, pricing.md), or is None if none.

Errors: ``openai_error`` is the one table that turns every SDK exception and every error event
in the stream into Sketchbridge's error tree.

Configuration (environment, all optional; ``OpenAIConfig.from_env``):

    OPENAI_BASE_URL            the API root, ``/v1`` included       https://api.openai.com/v1
    OPENAI_IMAGE_MODEL         the image model                      gpt-image-2
    OPENAI_IMAGE_QUALITY       low | medium | high | auto (| xhigh | max on gpt-image-2.5)  medium
    OPENAI_IMAGE_SIZES         comma-separated WxH to choose from   1024x1024,1536x1024,1024x1536
    OPENAI_PARTIAL_IMAGES      partial images streamed as previews (0..3)                   2
    OPENAI_MAX_ATTEMPTS        attempts per picture, the first included                     3
    OPENAI_RETRY_BACKOFF_S     first pause between attempts; doubles up to 8 s              0.5
    OPENAI_CONNECT_TIMEOUT_S   per connection                                               5
    OPENAI_MODEL_RETIREMENTS   model=YYYY-MM-DD,... added to the known retirement dates

The key is not configuration: it comes from the ``api_key`` reader the caller passes
(Secrets Manager, or ``OPENAI_API_KEY`` locally), and is never logged or put in an error.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import io
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from PIL import Image, ImageOps, UnidentifiedImageError

from sketchbridge.domain import clock
from sketchbridge.domain.billing import ProviderUsage
from sketchbridge.domain.errors import (
    AuthFailedError,
    ContentPolicyError,
    InvalidRequestError,
    JobCanceledError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    QuotaExhaustedError,
    RateLimitedError,
    SketchbridgeError,
)
from sketchbridge.domain.parameters import ParameterRanges
from sketchbridge.preprocessing.decode import encode_png
from sketchbridge.providers.base import (
    DEFAULT_PROBE_TIMEOUT_S,
    ProgressCallback,
    ProgressUpdate,
    ProviderCapabilities,
    ProviderRequest,
    ProviderResult,
)

if TYPE_CHECKING:
    from openai import OpenAI

log = logging.getLogger(__name__)

PROVIDER_NAME = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-image-2"
DEFAULT_SIZES = ("1024x1024", "1536x1024", "1024x1536")
# When OpenAI's models stopped or stop answering (openai 3.57.0's docstrings, DESIGN.md): data
# for whoever chooses models, and the reason a 404 for one of them is explained as retirement.
DEFAULT_RETIREMENTS: Mapping[str, date] = MappingProxyType(
    {
        "dall-e-2": date(2026, 5, 12),
        "dall-e-3": date(2026, 5, 12),
        "gpt-image-1": date(2026, 10, 23),
        "gpt-image-1-mini": date(2026, 12, 1),
        "gpt-image-1.5": date(2026, 12, 1),
    }
)
Quality = Literal["low", "medium", "high", "auto", "xhigh", "max"]
QUALITIES: tuple[Quality, ...] = get_args(Quality)
MAX_PARTIAL_IMAGES = 3  # the API's limit
UNSUPPORTED_PARAMETERS = ("seed", "negative_prompt", "steps", "strength", "guidance_scale")
_MAX_BACKOFF_S = 8.0
_PAPER = (255, 255, 255)


@dataclass(frozen=True)
class OpenAIConfig:
    base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    quality: Quality = "medium"
    sizes: tuple[str, ...] = DEFAULT_SIZES
    partial_images: int = 2
    max_attempts: int = 3
    retry_backoff_s: float = 0.5
    connect_timeout_s: float = 5.0
    retirements: Mapping[str, date] = field(default_factory=lambda: DEFAULT_RETIREMENTS)

    def __post_init__(self) -> None:
        if not self.base_url.rstrip("/").endswith("/v1"):
            raise ValueError(
                f"OPENAI_BASE_URL must end with /v1 (the SDK's paths are relative to it), "
                f"not {self.base_url!r}"
            )
        if self.quality not in QUALITIES:
            raise ValueError(f"OPENAI_IMAGE_QUALITY must be one of {', '.join(QUALITIES)}")
        if not self.sizes:
            raise ValueError("OPENAI_IMAGE_SIZES needs at least one WIDTHxHEIGHT")
        for size in self.sizes:
            parse_size(size)
        if not 0 <= self.partial_images <= MAX_PARTIAL_IMAGES:
            raise ValueError(f"OPENAI_PARTIAL_IMAGES must be between 0 and {MAX_PARTIAL_IMAGES}")
        if self.max_attempts < 1:
            raise ValueError("OPENAI_MAX_ATTEMPTS must be at least 1")
        if self.retry_backoff_s < 0 or self.connect_timeout_s <= 0:
            raise ValueError("OpenAI backoff and timeouts must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OpenAIConfig:
        import os

        env = os.environ if environ is None else environ
        defaults = cls()
        sizes = env.get("OPENAI_IMAGE_SIZES")
        return cls(
            base_url=env.get("OPENAI_BASE_URL") or defaults.base_url,
            model=env.get("OPENAI_IMAGE_MODEL") or defaults.model,
            # Any text may arrive here; __post_init__ refuses what is not a Quality.
            quality=cast(Quality, env.get("OPENAI_IMAGE_QUALITY") or defaults.quality),
            sizes=tuple(s.strip() for s in sizes.split(",") if s.strip())
            if sizes
            else defaults.sizes,
            partial_images=int(env.get("OPENAI_PARTIAL_IMAGES") or defaults.partial_images),
            max_attempts=int(env.get("OPENAI_MAX_ATTEMPTS") or defaults.max_attempts),
            retry_backoff_s=float(env.get("OPENAI_RETRY_BACKOFF_S") or defaults.retry_backoff_s),
            connect_timeout_s=float(
                env.get("OPENAI_CONNECT_TIMEOUT_S") or defaults.connect_timeout_s
            ),
            retirements=MappingProxyType(
                {**DEFAULT_RETIREMENTS, **_parse_retirements(env.get("OPENAI_MODEL_RETIREMENTS"))}
            ),
        )

    @property
    def retires_on(self) -> date | None:
        """When the configured model stops (or stopped) answering, if that is known."""
        return self.retirements.get(self.model)


def parse_size(size: str) -> tuple[int, int]:
    """``"1536x1024"`` → (1536, 1024)."""
    width, separator, height = size.partition("x")
    if not (separator and width.isdigit() and height.isdigit()) or "0" in (width[:1], height[:1]):
        raise ValueError(f"an OpenAI image size is WIDTHxHEIGHT, like 1024x1024, not {size!r}")
    return int(width), int(height)


def _parse_retirements(text: str | None) -> dict[str, date]:
    retirements: dict[str, date] = {}
    for entry in (text or "").split(","):
        if entry.strip():
            model, _, day = entry.partition("=")
            retirements[model.strip()] = date.fromisoformat(day.strip())
    return retirements


def nearest_size(width: int, height: int, sizes: tuple[str, ...]) -> tuple[int, int]:
    """The size among ``sizes`` whose aspect ratio is nearest width:height (then the largest)."""

    def distance(size: tuple[int, int]) -> tuple[float, int]:
        return abs(math.log((size[0] * height) / (size[1] * width))), -size[0] * size[1]

    return min((parse_size(size) for size in sizes), key=distance)


def capabilities_for(config: OpenAIConfig) -> ProviderCapabilities:
    """What the configured sizes allow; everything else OpenAI decides for itself."""
    sides = [side for size in config.sizes for side in parse_size(size)]
    return ProviderCapabilities(
        image_input=True,
        seed=False,
        negative_prompt=False,
        min_side=min(sides),
        max_side=max(sides),
        size_multiple=math.gcd(*sides),
        # No steps parameter: one "step" is the whole picture.
        max_steps=1,
        progress="partial_images" if config.partial_images else "none",
        # images.edit takes none of steps, strength, guidance or seed: all ignored.
        parameters=ParameterRanges(),
    )


class OpenAIProvider:
    """OpenAI's GPT image model, editing the sketch into a picture."""

    name = PROVIDER_NAME
    is_ai = True
    unsupported_parameters = UNSUPPORTED_PARAMETERS

    def __init__(
        self, config: OpenAIConfig | None = None, *, api_key: Callable[[], str | None]
    ) -> None:
        self._config = config or OpenAIConfig()
        self._api_key = api_key
        self._lock = threading.Lock()
        self._client: OpenAI | None = None
        self._client_key_digest: bytes | None = None

    @property
    def model(self) -> str:
        return self._config.model

    def with_model(self, model: str) -> OpenAIProvider:
        """This adapter running another image model, with the same key and settings."""
        return OpenAIProvider(replace(self._config, model=model), api_key=self._api_key)

    @property
    def retires_on(self) -> date | None:
        """The configured model's retirement date, for the provider manager's health."""
        return self._config.retires_on

    @property
    def quality(self) -> str:
        """The configured quality, which sets the price per image."""
        return self._config.quality

    @property
    def description(self) -> str:
        return (
            f"OpenAI {self._config.model}: redraws the sketch as the prompt describes, "
            "streaming previews as it works. No seed (results cannot be reproduced), no "
            "negative prompt; steps, strength and guidance are left to the model."
        )

    @property
    def capabilities(self) -> ProviderCapabilities:
        return capabilities_for(self._config)

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        deadline = time.monotonic() + request.timeout_s
        key = self._key()
        width, height = nearest_size(request.width, request.height, self._config.sizes)
        sketch_png = encode_png(
            ImageOps.pad(request.sketch, (width, height), Image.Resampling.LANCZOS, color=_PAPER)
        )
        total = self._config.partial_images + 1
        opening = ProgressUpdate(0, total, _opening_message(request, self.model, width, height))
        client = self._client_for(key)
        tally = _StreamTally()
        try:
            picture = self._stream_picture(
                client,
                request,
                sketch_png,
                f"{width}x{height}",
                deadline,
                on_progress,
                tally,
                opening=opening,
            )
        except _DeadlinePassed:
            raise _timed_out(request.timeout_s).with_usage(self._broken_off(tally)) from None
        except _StopAsked:
            # The stream is closed (``with stream``): OpenAI has no cancel call, and a closed
            # stream is all it offers. Billed: the previews it had sent, if any.
            raise JobCanceledError(
                "Canceled while OpenAI was drawing.", usage=self._broken_off(tally)
            ) from None
        except (_StreamFailure, _openai_errors()) as exc:
            error = self._error(exc, request.timeout_s)
            if isinstance(error, ProviderError):
                error.with_usage(self._broken_off(tally))
            raise error from exc
        image_png, picture_width, picture_height = _png_of(picture)
        on_progress(ProgressUpdate(total, total, "OpenAI finished the picture."))
        return ProviderResult(
            image_png=image_png,
            width=picture_width,
            height=picture_height,
            model=self.model,
            seed=None,
            usage=openai_usage(
                tally.usage,
                model=self.model,
                images=1,
                width=picture_width,
                height=picture_height,
                quality=tally.quality or self._config.quality,
                partial_images=tally.partial_images,
                external_id=tally.request_id,
            ),
        )

    def _broken_off(self, tally: _StreamTally) -> ProviderUsage | None:
        """What a stream that ended without its picture was billed: the previews it sent
        (usage comes only with the completed event); nothing if it sent none."""
        if tally.partial_images == 0:
            return None
        return ProviderUsage(
            provider=PROVIDER_NAME,
            model=self.model,
            partial_images=tally.partial_images,
            external_id=tally.request_id,
        )

    def probe(self, *, timeout_s: float = DEFAULT_PROBE_TIMEOUT_S) -> None:
        """Look the configured model up (``models.retrieve``): no picture, nothing billed.

        A retired or withdrawn model answers 404, which says so (``openai_error``).
        """
        import openai

        client = self._client_for(self._key())
        timeout = openai.Timeout(timeout_s, connect=min(self._config.connect_timeout_s, timeout_s))
        try:
            client.models.retrieve(self._config.model, timeout=timeout)
        except _openai_errors() as exc:
            raise self._error(exc, timeout_s) from exc

    def _key(self) -> str:
        key = self._api_key()
        if not key:
            raise AuthFailedError(
                "OpenAI is not set up: Sketchbridge has no API key for it.",
                provider=PROVIDER_NAME,
                suggestions=(
                    "Choose another provider for now.",
                    'Admin: add an "openai" key to the provider-keys secret '
                    "(OPENAI_API_KEY when running locally).",
                ),
            )
        return key

    def _stream_picture(
        self,
        client: OpenAI,
        request: ProviderRequest,
        sketch_png: bytes,
        size: str,
        deadline: float,
        on_progress: ProgressCallback,
        tally: _StreamTally,
        *,
        opening: ProgressUpdate,
    ) -> bytes:
        """The final picture's bytes, streamed; partial images reported on the way, and
        counted with the completed event's usage in ``tally``.

        ``opening`` is reported once the stream has opened (OpenAI sent its headers): that
        is the provider's first sign of life, which the first-byte deadline waits for."""
        import openai

        config = self._config
        attempt = 0
        while True:
            attempt += 1
            _stop_if_asked(request)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _DeadlinePassed
            try:
                stream = client.images.edit(
                    image=("sketch.png", sketch_png, "image/png"),
                    prompt=request.prompt,
                    model=config.model,
                    size=size,
                    quality=config.quality,
                    output_format="png",
                    n=1,
                    stream=True,
                    partial_images=config.partial_images,
                    timeout=openai.Timeout(
                        remaining, connect=min(config.connect_timeout_s, remaining)
                    ),
                )
            except _openai_errors() as exc:
                pause = self._pause_before_retry(exc, attempt, deadline, request.timeout_s)
                if pause is None:
                    raise
                log.info(
                    "OpenAI attempt %d failed (%s); retrying in %.2f s",
                    attempt,
                    type(exc).__name__,
                    pause,
                )
                time.sleep(pause)
                continue
            # Once the answer streams, a failure is final for this call: a new attempt would
            # be billed again and replay the previews from the start.
            with stream:
                tally.request_id = _request_id(stream)
                on_progress(opening)
                return _read_stream(
                    stream,
                    config.partial_images,
                    deadline,
                    on_progress,
                    tally,
                    should_stop=request.should_stop,
                )

    def _pause_before_retry(
        self, exc: Exception, attempt: int, deadline: float, timeout_s: float
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when this failure is final."""
        if attempt >= self._config.max_attempts:
            return None
        error = self._error(exc, timeout_s)
        status = getattr(exc, "status_code", None)
        # Rate limits, outages and lost connections pass; a missing model (404) does not.
        if isinstance(error, RateLimitedError):
            pause = error.retry_after_s
        elif isinstance(error, ProviderUnavailableError) and (status is None or status >= 409):
            pause = None
        else:
            return None
        if pause is None:
            pause = min(self._config.retry_backoff_s * 2 ** (attempt - 1), _MAX_BACKOFF_S)
        # A pause that ends at the deadline leaves no time to draw: hand the error on instead.
        return pause if time.monotonic() + pause < deadline else None

    def _error(self, exc: Exception, timeout_s: float) -> SketchbridgeError:
        return openai_error(
            exc, model=self.model, retired_on=self._config.retires_on, timeout_s=timeout_s
        )

    def close(self) -> None:
        """Close the SDK client's connections (for tests and orderly shutdowns)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
                self._client_key_digest = None

    def _client_for(self, key: str) -> OpenAI:
        """One SDK client per key, built on first use (the import alone takes ~0.45 s)."""
        digest = hashlib.sha256(key.encode()).digest()
        with self._lock:
            if self._client is None or self._client_key_digest != digest:
                from openai import OpenAI, Timeout

                if self._client is not None:
                    self._client.close()
                self._client = OpenAI(
                    api_key=key,
                    base_url=self._config.base_url,
                    max_retries=0,  # this module retries; see the module docstring
                    timeout=Timeout(60.0, connect=self._config.connect_timeout_s),
                )
                self._client_key_digest = digest
            return self._client


def _opening_message(request: ProviderRequest, model: str, width: int, height: int) -> str:
    unused = ["seed", "steps", "strength", "guidance"]
    if request.negative_prompt and request.negative_prompt.strip():
        unused.insert(0, "the negative prompt")
    return (
        f"Sent to OpenAI {model} at {width}x{height}. It does not use "
        f"{', '.join(unused[:-1])} or {unused[-1]}."
    )


@dataclass
class _StreamTally:
    """What one stream said about its billing: the completed event's usage (and the quality
    ``auto`` became), the previews sent before it, and OpenAI's id for the request."""

    usage: Any = None
    quality: str | None = None
    partial_images: int = 0
    request_id: str | None = None


def _request_id(stream: Any) -> str | None:
    response = getattr(stream, "response", None)
    value = response.headers.get("x-request-id") if response is not None else None
    return str(value) if value else None


def openai_usage(
    usage: Any,
    *,
    model: str,
    images: int,
    width: int | None = None,
    height: int | None = None,
    quality: str | None = None,
    partial_images: int = 0,
    external_id: str | None = None,
) -> ProviderUsage:
    """``ProviderUsage`` from OpenAI's ``ImagesUsage`` (a non-streamed response's ``usage`` or
    the completed event's, as the SDK's model or a plain dict). Its ``output_tokens`` already
    count the partial images' tokens; a missing usage leaves the tokens None."""

    def read(source: Any, name: str) -> Any:
        if isinstance(source, Mapping):
            return source.get(name)
        return getattr(source, name, None)

    def count(value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    details = read(usage, "input_tokens_details") if usage is not None else None
    return ProviderUsage(
        provider=PROVIDER_NAME,
        model=model,
        images=images,
        input_tokens=count(read(usage, "input_tokens")) if usage is not None else None,
        output_tokens=count(read(usage, "output_tokens")) if usage is not None else None,
        input_text_tokens=count(read(details, "text_tokens")) if details is not None else None,
        input_image_tokens=count(read(details, "image_tokens")) if details is not None else None,
        width=width,
        height=height,
        quality=quality,
        partial_images=partial_images,
        external_id=external_id,
    )


def _read_stream(
    stream: Iterable[Any],
    partial_images: int,
    deadline: float,
    on_progress: ProgressCallback,
    tally: _StreamTally,
    *,
    should_stop: Callable[[], bool] | None = None,
) -> bytes:
    """The picture's bytes; ``should_stop`` is asked after every event (``_StopAsked``)."""
    total = partial_images + 1
    for event in stream:
        kind = str(getattr(event, "type", ""))
        if kind.endswith(".completed"):
            tally.usage = getattr(event, "usage", None)
            quality = getattr(event, "quality", None)
            tally.quality = quality if isinstance(quality, str) else None
            return _decoded(str(event.b64_json))
        if kind.endswith(".partial_image"):
            tally.partial_images += 1
            index = int(event.partial_image_index)
            on_progress(
                ProgressUpdate(
                    step=min(index + 1, partial_images),
                    total_steps=total,
                    message=f"Preview {index + 1} of {partial_images}.",
                    preview_png=_preview(event.b64_json),
                )
            )
        else:
            raise _StreamFailure.from_event(event)
        if should_stop is not None and should_stop():
            raise _StopAsked
        if time.monotonic() > deadline:
            raise _DeadlinePassed
    raise _StreamFailure(code=None, error_type=None, message="the stream ended without a picture")


def _preview(b64_json: Any) -> bytes | None:
    # A preview that cannot be read is dropped: it must never fail the picture itself.
    try:
        return _decoded(str(b64_json))
    except _StreamFailure:
        return None


def _decoded(b64_json: str) -> bytes:
    try:
        return base64.b64decode(b64_json, validate=True)
    except (binascii.Error, ValueError):
        raise _StreamFailure(
            code=None, error_type=None, message="the picture was not valid base64"
        ) from None


def _png_of(picture: bytes) -> tuple[bytes, int, int]:
    """(PNG bytes, width, height) of what OpenAI sent; anything but PNG is converted."""
    try:
        with Image.open(io.BytesIO(picture)) as image:
            image.load()
            if image.format == "PNG":
                return picture, image.width, image.height
            return encode_png(image.convert("RGB")), image.width, image.height
    except (UnidentifiedImageError, OSError):
        raise ProviderUnavailableError(
            "OpenAI sent a picture Sketchbridge could not read.",
            provider=PROVIDER_NAME,
            suggestions=_TRY_AGAIN,
        ) from None


class _DeadlinePassed(Exception):
    """The request's budget ran out while the picture was streaming."""


class _StopAsked(Exception):
    """The job was canceled (``ProviderRequest.should_stop``): stop before the next event."""


def _stop_if_asked(request: ProviderRequest) -> None:
    if request.should_stop is not None and request.should_stop():
        raise _StopAsked


class _StreamFailure(Exception):
    """An error event in the stream that the SDK passed on as an event, or a broken stream.

    The spec frames a stream error as ``event: error`` with a bare ``Error`` object as data;
    the SDK only raises for a ``data`` that wraps it in ``{"error": ...}``, so the bare form
    arrives here as an event of an unknown type.
    """

    def __init__(self, *, code: str | None, error_type: str | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.error_type = error_type
        self.message = message

    @classmethod
    def from_event(cls, event: Any) -> _StreamFailure:
        fields = dict(getattr(event, "model_extra", None) or {})
        nested = fields.get("error")
        if isinstance(nested, Mapping):
            fields = dict(nested)
        code = fields.get("code")
        return cls(
            code=str(code) if code is not None else None,
            error_type=str(getattr(event, "type", "") or fields.get("type") or "") or None,
            message=str(fields.get("message") or "the stream reported an error"),
        )


def _openai_errors() -> type[Exception]:
    import openai

    return openai.OpenAIError


# --- Errors: every way OpenAI fails, in one table ---------------------------------------------

_TRY_AGAIN = ("Try again in a moment, or choose another provider.",)
_ADMIN_KEY = (
    "Choose another provider for now.",
    'Admin: check the "openai" key in the provider-keys secret (OPENAI_API_KEY locally).',
)
_ADMIN_BILLING = (
    "Choose another provider for now.",
    "Admin: add credit or raise the limit at platform.openai.com (Settings, Billing).",
)
_REPHRASE = (
    "Reword the prompt without anything violent, sexual or hateful, or change the sketch, "
    "and try again.",
)
# error.code values (and one error.type) that mean the account's money ran out, not its rate.
_QUOTA_CODES = frozenset(
    {"insufficient_quota", "billing_hard_limit_reached", "credit_balance_exhausted",
     "billing_not_active"}
)  # fmt: skip
_POLICY_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
# In 2023 a safety refusal came with code null; its message is the only clue.
_POLICY_MESSAGE_MARKER = "safety system"
_MAX_VENDOR_TEXT = 300


def openai_error(
    exc: Exception, *, model: str, timeout_s: float, retired_on: date | None = None
) -> SketchbridgeError:
    """The Sketchbridge error for anything the SDK raised or the stream reported.

    ``retired_on``: when ``model`` was retired, if known, to explain a 404 for it.
    """
    import openai

    if isinstance(exc, _StreamFailure):
        return _stream_error(exc.code, exc.error_type, exc.message, model=model)
    if isinstance(exc, openai.APITimeoutError):  # before APIConnectionError: it is one
        return _timed_out(timeout_s)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderUnavailableError(
            "Sketchbridge could not reach OpenAI.", provider=PROVIDER_NAME, suggestions=_TRY_AGAIN
        )
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, model=model, retired_on=retired_on)
    if isinstance(exc, openai.APIError):
        # The SDK raises this, with no status, for a stream event carrying {"error": {...}}.
        return _stream_error(exc.code, exc.type, exc.message, model=model)
    return ProviderUnavailableError(
        "The OpenAI client failed before it could ask OpenAI.",
        provider=PROVIDER_NAME,
        suggestions=_TRY_AGAIN,
        details={"reason": type(exc).__name__},
    )


def _status_error(exc: Any, *, model: str, retired_on: date | None) -> SketchbridgeError:
    status = int(exc.status_code)
    code = exc.code or None
    error_type = exc.type or None
    said = _vendor_text(exc.body, exc.message)
    details: dict[str, Any] = {"status": status, "code": code, "request_id": exc.request_id}
    if code in _QUOTA_CODES or error_type == "insufficient_quota":
        # 429 today; billing_hard_limit_reached came as a 400.
        return QuotaExhaustedError(
            "Sketchbridge's OpenAI credit is used up.",
            provider=PROVIDER_NAME,
            suggestions=_ADMIN_BILLING,
            details=details,
        )
    if status == 400 and (code in _POLICY_CODES or _POLICY_MESSAGE_MARKER in said.lower()):
        return _policy_error(exc.body, details)
    if status == 401:
        return AuthFailedError(
            "OpenAI did not accept Sketchbridge's API key.",
            provider=PROVIDER_NAME,
            suggestions=_ADMIN_KEY,
            details=details,
        )
    if status == 403:
        return AuthFailedError(
            "OpenAI refused this account access (region or project permissions).",
            provider=PROVIDER_NAME,
            suggestions=(
                "Choose another provider for now.",
                "Admin: check the OpenAI project's model access and the region it is used from.",
            ),
            details=details,
        )
    if status == 404:
        return _model_unavailable(model, retired_on, details)
    if status == 429:
        retry_after_s = retry_after_seconds(exc.response.headers)
        wait = f"in {math.ceil(retry_after_s)} s" if retry_after_s else "in a moment"
        return RateLimitedError(
            "OpenAI is getting too many requests from Sketchbridge right now.",
            provider=PROVIDER_NAME,
            suggestions=(f"Try again {wait}, or choose another provider.",),
            details=details,
            retry_after_s=retry_after_s,
        )
    if status in (400, 413, 415, 422):
        return InvalidRequestError(
            f"OpenAI could not use this request: {said}",
            suggestions=("Try a different prompt or sketch, or choose another provider.",),
            details={**details, "param": exc.param},
        )
    if status == 408:
        return ProviderTimeoutError(
            "OpenAI gave up waiting for the request.",
            provider=PROVIDER_NAME,
            suggestions=_TRY_AGAIN,
            details=details,
        )
    return ProviderUnavailableError(
        "OpenAI is having trouble right now"
        + (" (it is overloaded)." if status == 503 else f" (it answered {status})."),
        provider=PROVIDER_NAME,
        suggestions=_TRY_AGAIN,
        details=details,
    )


def _stream_error(
    code: str | None, error_type: str | None, message: str, *, model: str
) -> ProviderError:
    details: dict[str, Any] = {"code": code, "type": error_type}
    if code in _POLICY_CODES or _POLICY_MESSAGE_MARKER in message.lower():
        return _policy_error(None, details)
    if code in _QUOTA_CODES or error_type == "insufficient_quota":
        return QuotaExhaustedError(
            "Sketchbridge's OpenAI credit is used up.",
            provider=PROVIDER_NAME,
            suggestions=_ADMIN_BILLING,
            details=details,
        )
    if code == "rate_limit_exceeded":
        return RateLimitedError(
            "OpenAI is getting too many requests from Sketchbridge right now.",
            provider=PROVIDER_NAME,
            details=details,
        )
    return ProviderUnavailableError(
        f"OpenAI stopped while drawing the picture ({message[:_MAX_VENDOR_TEXT]}).",
        provider=PROVIDER_NAME,
        suggestions=_TRY_AGAIN,
        details={**details, "model": model},
    )


def _policy_error(body: Any, details: dict[str, Any]) -> ContentPolicyError:
    categories: list[str] = []
    moderation = body.get("moderation_details") if isinstance(body, Mapping) else None
    if isinstance(moderation, Mapping) and isinstance(moderation.get("categories"), list):
        categories = [str(category) for category in moderation["categories"]]
    flagged = f" (flagged: {', '.join(categories)})" if categories else ""
    return ContentPolicyError(
        f"OpenAI's safety system refused this request{flagged}.",
        provider=PROVIDER_NAME,
        suggestions=_REPHRASE,
        details={**details, "categories": categories},
    )


def _model_unavailable(
    model: str, retired_on: date | None, details: dict[str, Any]
) -> ProviderUnavailableError:
    why = f" (it was retired on {retired_on.isoformat()})" if retired_on else ""
    return ProviderUnavailableError(
        f"OpenAI's model {model} is not available to Sketchbridge{why}.",
        provider=PROVIDER_NAME,
        suggestions=(
            "Choose another provider for now.",
            f"Admin: set OPENAI_IMAGE_MODEL to a current image model (the default is "
            f"{DEFAULT_MODEL}).",
        ),
        details={**details, "model": model},
    )


def _timed_out(timeout_s: float) -> ProviderTimeoutError:
    return ProviderTimeoutError(
        f"OpenAI did not finish the picture within {timeout_s:g} seconds.",
        provider=PROVIDER_NAME,
        suggestions=("Try again, or choose a faster provider.",),
    )


def _vendor_text(body: Any, fallback: str) -> str:
    """OpenAI's own explanation, shortened; for a 4xx it says what to change."""
    message = body.get("message") if isinstance(body, Mapping) else None
    text = message if isinstance(message, str) and message else fallback
    return text[:_MAX_VENDOR_TEXT]


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """How long OpenAI asked us to wait: ``retry-after-ms``, else ``retry-after`` (s or date)."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - clock.epoch_seconds())
