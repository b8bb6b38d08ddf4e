"""The ``replicate`` provider: FLUX.1 Canny [dev] on Replicate, through the ``replicate`` SDK.

The model. ``black-forest-labs/flux-canny-dev`` is the default because it is an *official*
Replicate model: it runs through the models endpoint with no version to pin, it is kept warm
(community ControlNet scribble models such as ``rossjillian/controlnet`` cold-boot for minutes,
past any budget a person at a canvas will wait), it is priced per image, and its canny
conditioning follows a pen drawing's lines closely. Its inputs, and how the unified
parameters map onto them:

    prompt                   the prompt
    control_image            the sketch, padded to width x height, as PNG (data URL or upload)
    num_inference_steps      steps (1..50)
    guidance                 guidance_scale x 4: FLUX canny's recommended 30 is classic CFG 7.5
    seed                     seed (honoured: the same seed gives the same picture)
    megapixels               "match_input": the output takes the control image's size
    output_format            "png" (configurable; anything else is converted to PNG here)

It has no negative prompt and no strength: ``capabilities`` says so for the negative prompt,
and the description for the strength (the Protocol has no flag for it).

The wire. Every call goes through the SDK's own client: ``replicate.Client`` builds the httpx
client (base URL from ``REPLICATE_BASE_URL``, ``Authorization: Bearer``, user agent, its retry
transport) and uploads go through ``client.files.create``. Predictions are created, polled and
canceled with that client's low-level httpx client and read as raw JSON, not through
``client.predictions``, for two reasons: the SDK's create cannot send ``Cancel-After``, and its
pydantic ``Prediction`` model rejects the ``aborted`` status Replicate now sends, which would
crash the job with a validation error and lose the prediction's id. Errors still come out as
the SDK's own ``ReplicateError.from_response``. A transport of ours sits under the SDK's retry
transport and keeps every attempt, and every retry pause, inside the request's budget.

The flow: create with ``Prefer: wait=N`` (a short hold) and ``Cancel-After`` (so Replicate
itself stops billing at our deadline, even if this process dies), then poll ``GET`` until a
final status, turning each new tqdm step in the logs into a progress event; past the budget,
cancel and raise ``ProviderTimeoutError``. Outputs expire after an hour, so the image is
fetched at once and handed on as PNG bytes.

Billing. ``result.usage`` carries the prediction's id, outputs and ``metrics.predict_time``
(the final prediction's: a held answer that was still "processing" is read once more). A
failure whose prediction ran (failed, or canceled at our deadline: the cancel answer carries
its predict_time) carries that usage on the error, since a model version bills its seconds
whatever the outcome; one that never ran (aborted, refused at create) carries none. Whether
the model bills by image or by second is the price table's to say (``domain/pricing.py``).

Configuration (environment, all optional):

    REPLICATE_MODEL              owner/name            black-forest-labs/flux-canny-dev
    REPLICATE_MODEL_VERSION      a version id; set, predictions go to /v1/predictions
    REPLICATE_BASE_URL           the API's host root, without /v1  https://api.replicate.com
    REPLICATE_PREFER_WAIT_S      seconds create holds for the result (1..60)       2
    REPLICATE_POLL_INTERVAL      seconds between polls (the SDK's own variable)     0.5
    REPLICATE_CONNECT_TIMEOUT_S  per connection                                     5
    REPLICATE_READ_TIMEOUT_S     per answer (polls, uploads, downloads)             30
    REPLICATE_CONNECT_RETRIES    retries of a connection that could not be opened   1
    REPLICATE_STATUS_RETRIES     retries of a poll answered 429/503/504             3
    REPLICATE_INLINE_MAX_BYTES   larger sketches are uploaded, not sent inline      262144
    REPLICATE_OUTPUT_FORMAT      png | webp | jpg                                   png
    REPLICATE_CANCEL_GRACE_S     time allowed past the budget to cancel             3

The key is not configuration: it comes from the ``api_key`` reader the caller passes.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageOps, UnidentifiedImageError

from sketchbridge.domain import clock
from sketchbridge.domain.billing import ProviderUsage
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
from sketchbridge.domain.parameters import ParameterRange, ParameterRanges
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
    import httpx
    from replicate.client import Client as ReplicateClient

PROVIDER_NAME = "replicate"

REPLICATE_CAPABILITIES = ProviderCapabilities(
    image_input=True,
    seed=True,
    negative_prompt=False,
    # FLUX works on 16-pixel latents; "match_input" caps the output at 1440 x 1440.
    min_side=256,
    max_side=1440,
    size_multiple=16,
    max_steps=50,
    progress="steps",
    # FLUX canny [dev]: num_inference_steps 1..50 (28 by default), guidance 1..100 (a request's
    # guidance_scale x 4, see model_input), any seed; it has no strength.
    parameters=ParameterRanges(
        steps=ParameterRange(1, 50, 28, "num_inference_steps", integer=True),
        guidance_scale=ParameterRange(0.25, 25.0, 7.5, "guidance", to_native=lambda g: g * 4.0),
        seed=ParameterRange(0, 2**32 - 1, 0, "seed", integer=True),
    ),
)

# FLUX canny [dev]'s guidance scale is four times classic CFG (its recommended 30 ~ CFG 7.5).
_GUIDANCE_FACTOR = 4.0
_MAX_GUIDANCE = 100.0
# Replicate's own bounds: Prefer: wait=1..60, and Cancel-After of at least 5 s.
_MAX_PREFER_WAIT_S = 60
_MIN_CANCEL_AFTER_S = 5
# An answer to a create request held by Prefer: wait comes this long after the hold at most.
_WAIT_ANSWER_GRACE_S = 2.0

_FINAL_STATUSES = frozenset({"succeeded", "failed", "canceled", "aborted"})
# What the SDK's RetryTransport retries (replicate 1.0.7); our transport bounds those retries.
_SDK_RETRIED_METHODS = frozenset({"HEAD", "GET", "PUT", "DELETE", "OPTIONS", "TRACE"})
_SDK_RETRIED_STATUSES = frozenset({429, 503, 504})
_SDK_BACKOFF_S = 0.1
# Hosts that may see our token when we fetch an output (besides the API's own host).
_DELIVERY_DOMAIN = "replicate.delivery"
# Words in a failed prediction's error that mean a safety filter refused it.
_SAFETY_MARKERS = ("nsfw", "safety", "sensitive", "content policy", "e005")
_QUOTA_MARKERS = ("insufficient credit", "out of credit", "billing", "quota", "payment")
_MAX_VENDOR_TEXT = 300


@dataclass(frozen=True)
class ReplicateConfig:
    model: str = "black-forest-labs/flux-canny-dev"
    version: str | None = None
    base_url: str = "https://api.replicate.com"
    # A short hold keeps the first byte inside the 5 s first-byte deadline (provider_profile).
    prefer_wait_s: int = 2
    poll_interval_s: float = 0.5
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    connect_retries: int = 1
    status_retries: int = 3
    inline_max_bytes: int = 256 * 1024
    output_format: str = "png"
    cancel_grace_s: float = 3.0

    def __post_init__(self) -> None:
        if self.model.count("/") != 1:
            raise ValueError(f"REPLICATE_MODEL must be owner/name, not {self.model!r}")
        if not 1 <= self.prefer_wait_s <= _MAX_PREFER_WAIT_S:
            raise ValueError("REPLICATE_PREFER_WAIT_S must be between 1 and 60")
        if self.output_format not in ("png", "webp", "jpg"):
            raise ValueError("REPLICATE_OUTPUT_FORMAT must be png, webp or jpg")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ReplicateConfig:
        defaults = cls()

        def text(name: str, default: str) -> str:
            return environ.get(name, "").strip() or default

        def number(name: str, default: float) -> float:
            return float(text(name, str(default)))

        return cls(
            model=text("REPLICATE_MODEL", defaults.model),
            version=text("REPLICATE_MODEL_VERSION", "") or None,
            base_url=text("REPLICATE_BASE_URL", defaults.base_url).rstrip("/"),
            prefer_wait_s=int(number("REPLICATE_PREFER_WAIT_S", defaults.prefer_wait_s)),
            poll_interval_s=number("REPLICATE_POLL_INTERVAL", defaults.poll_interval_s),
            connect_timeout_s=number("REPLICATE_CONNECT_TIMEOUT_S", defaults.connect_timeout_s),
            read_timeout_s=number("REPLICATE_READ_TIMEOUT_S", defaults.read_timeout_s),
            connect_retries=int(number("REPLICATE_CONNECT_RETRIES", defaults.connect_retries)),
            status_retries=int(number("REPLICATE_STATUS_RETRIES", defaults.status_retries)),
            inline_max_bytes=int(number("REPLICATE_INLINE_MAX_BYTES", defaults.inline_max_bytes)),
            output_format=text("REPLICATE_OUTPUT_FORMAT", defaults.output_format),
            cancel_grace_s=number("REPLICATE_CANCEL_GRACE_S", defaults.cancel_grace_s),
        )


class ReplicateProvider:
    name = PROVIDER_NAME
    is_ai = True
    capabilities = REPLICATE_CAPABILITIES

    def __init__(
        self,
        api_key: Callable[[], str | None],
        config: ReplicateConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api_key = api_key
        self._config = config or ReplicateConfig()
        self._clock = clock
        self._sleep = sleep

    @property
    def model(self) -> str:
        return self._config.model

    def with_model(self, model: str) -> ReplicateProvider:
        """This adapter running another model (``owner/name``); its version pin is dropped."""
        config = replace(self._config, model=model, version=None)
        return ReplicateProvider(self._api_key, config, clock=self._clock, sleep=self._sleep)

    @property
    def description(self) -> str:
        return (
            f"Replicate, running {self._config.model}: follows the lines of the sketch and "
            "paints what the prompt describes. Honours the seed; has no negative prompt and "
            "no strength setting (the drawing's lines always lead)."
        )

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        budget = _Budget(started_at=self._clock(), seconds=request.timeout_s, clock=self._clock)
        _check_request(request)
        token = self._token()
        sketch_png = encode_png(
            ImageOps.pad(request.sketch, (request.width, request.height), color=(255, 255, 255))
        )
        session: _ReplicateSession | None = None
        try:
            with _ReplicateSession(self._config, token, budget) as session:
                control_image = self._control_image(session, sketch_png)
                prediction = self._run_to_the_end(
                    session, request, control_image, budget, on_progress
                )
                image = session.download(_first_output_url(prediction))
                prediction = session.finished(prediction)
        except _translatable_failures() as exc:
            error = translate_failure(exc, model=self.model, budget=budget)
            if isinstance(error, ProviderError) and session is not None:
                error.with_usage(self._billed_failure(session.latest))
            raise error from exc
        return ProviderResult(
            image_png=_as_png(image, request.width, request.height),
            width=request.width,
            height=request.height,
            model=self.model,
            seed=request.seed,
            usage=self._usage(prediction, request),
        )

    def _usage(self, prediction: _Prediction, request: ProviderRequest) -> ProviderUsage:
        """What Replicate reports for the prediction: its outputs and ``metrics.predict_time``
        (absent if it was not final yet; the actual cost then says it is estimated)."""
        return ProviderUsage(
            provider=PROVIDER_NAME,
            model=self.model,
            images=prediction.output_count,
            predict_time_s=prediction.predict_time_s,
            external_id=prediction.id,
            width=request.width,
            height=request.height,
        )

    def _billed_failure(self, prediction: _Prediction | None) -> ProviderUsage | None:
        """What a failed call was billed: a prediction that ran (failed, canceled at our
        deadline) reports its predict_time, which a time-billed model bills; one that never
        ran (aborted, refused at create) bills nothing."""
        if prediction is None or prediction.predict_time_s is None:
            return None
        return ProviderUsage(
            provider=PROVIDER_NAME,
            model=self.model,
            images=prediction.output_count,
            predict_time_s=prediction.predict_time_s,
            external_id=prediction.id,
        )

    def probe(self, *, timeout_s: float = DEFAULT_PROBE_TIMEOUT_S) -> None:
        """Look the configured model up (``GET /v1/models/{owner}/{name}``): no prediction,
        so nothing is billed. One attempt: a health check wants the answer, not a retry."""
        budget = _Budget(started_at=self._clock(), seconds=timeout_s, clock=self._clock)
        token = self._token()
        config = replace(self._config, status_retries=0, cancel_grace_s=0.0)
        try:
            with _ReplicateSession(config, token, budget) as session:
                session.look_up_model(self._config.model)
        except _translatable_failures() as exc:
            raise translate_failure(exc, model=self.model, budget=budget) from exc

    def _token(self) -> str:
        token = self._api_key()
        if not token:
            raise AuthFailedError(
                "Replicate is not set up: no API key is configured.",
                provider=PROVIDER_NAME,
                suggestions=(
                    "Choose another provider.",
                    "Admin: put a Replicate API token under the 'replicate' key of the provider "
                    "keys secret (REPLICATE_API_TOKEN when running locally).",
                ),
            )
        return token

    def _control_image(self, session: _ReplicateSession, sketch_png: bytes) -> str:
        # Replicate's docs: data URLs for small files, an uploaded file's URL for larger ones.
        if len(sketch_png) <= self._config.inline_max_bytes:
            return "data:image/png;base64," + base64.b64encode(sketch_png).decode("ascii")
        return session.upload(sketch_png, filename="sketch.png")

    def _resumed(self, session: _ReplicateSession, resume_id: str | None) -> _Prediction | None:
        """The prediction an earlier delivery started, if it can still give us the picture.

        Outputs are kept for an hour; a prediction that failed, was canceled or is
        gone is not resumed, and a new one is created instead.
        """
        if not resume_id:
            return None
        try:
            prediction = session.get(resume_id)
        except _translatable_failures():
            return None
        if not _resumable(prediction):
            session.latest = None  # billed to the delivery that ran it, not to this call
            return None
        return prediction

    def _run_to_the_end(
        self,
        session: _ReplicateSession,
        request: ProviderRequest,
        control_image: str,
        budget: _Budget,
        on_progress: ProgressCallback,
    ) -> _Prediction:
        """Create the prediction and follow it to a final state; on any failure, cancel it."""
        steps = _StepReporter(on_progress)
        body: dict[str, Any] = {"input": model_input(request, control_image, self._config)}
        if self._config.version:
            body["version"] = self._config.version
            path = "/v1/predictions"
        else:
            path = f"/v1/models/{self._config.model}/predictions"
        prediction = self._resumed(session, request.resume_id)
        if prediction is None:
            wait_s = min(self._config.prefer_wait_s, math.floor(budget.remaining() - 1))
            prediction = session.create(
                path, body, wait_s=wait_s, cancel_after=budget.cancel_after()
            )
            if request.on_started is not None:
                request.on_started(prediction.id)
        try:
            steps.feed(prediction.logs, final=prediction.status in _FINAL_STATUSES)
            while not prediction.is_done:
                if budget.remaining() <= 0:
                    raise _BudgetSpentError(prediction)
                self._sleep(min(self._config.poll_interval_s, max(budget.remaining(), 0.0)))
                prediction = session.get(prediction.id)
                steps.feed(prediction.logs, final=prediction.status in _FINAL_STATUSES)
        except BaseException:
            session.cancel_quietly(prediction.id)
            raise
        if prediction.status in ("failed", "canceled", "aborted") or not prediction.has_output:
            raise _PredictionEndedError(prediction)
        steps.complete(request.steps)
        return prediction


def _resumable(prediction: _Prediction) -> bool:
    """A prediction worth following again: still running, or done with its output."""
    return prediction.status not in ("failed", "canceled", "aborted")


@dataclass(frozen=True)
class _Prediction:
    """What we read of a prediction's raw JSON; any status string is accepted."""

    id: str
    status: str
    logs: str
    output: Any
    error: str | None
    predict_time_s: float | None = None  # metrics.predict_time, once the prediction is final

    @classmethod
    def from_json(cls, payload: Any) -> _Prediction:
        if not isinstance(payload, dict):
            raise _UnexpectedAnswerError("a prediction is a JSON object")
        prediction_id, status = payload.get("id"), payload.get("status")
        if not isinstance(prediction_id, str) or not isinstance(status, str):
            raise _UnexpectedAnswerError("a prediction has a string id and status")
        logs, error = payload.get("logs"), payload.get("error")
        metrics = payload.get("metrics")
        predict_time = metrics.get("predict_time") if isinstance(metrics, dict) else None
        return cls(
            id=prediction_id,
            status=status,
            logs=logs if isinstance(logs, str) else "",
            output=payload.get("output"),
            error=None if error is None else str(error),
            predict_time_s=(
                float(predict_time)
                if isinstance(predict_time, int | float) and not isinstance(predict_time, bool)
                else None
            ),
        )

    @property
    def output_count(self) -> int:
        """Pictures the prediction produced (what an official model bills by)."""
        if isinstance(self.output, list):
            return sum(1 for item in self.output if isinstance(item, str))
        return 1 if isinstance(self.output, str) else 0

    @property
    def has_output(self) -> bool:
        return _first_output_url_or_none(self.output) is not None

    @property
    def is_done(self) -> bool:
        # Prefer: wait answers "processing" with the output already there (recorded, see
        # replicate-examples/02); an image model's output is complete once it appears.
        if self.status in _FINAL_STATUSES:
            return True
        return self.status == "processing" and self.has_output


def model_input(
    request: ProviderRequest, control_image: str, config: ReplicateConfig
) -> dict[str, Any]:
    """FLUX canny [dev]'s input for a request (the sketch already padded to the size)."""
    return {
        "prompt": request.prompt,
        "control_image": control_image,
        "num_inference_steps": request.steps,
        "guidance": min(request.guidance_scale * _GUIDANCE_FACTOR, _MAX_GUIDANCE),
        "seed": request.seed,
        "megapixels": "match_input",
        "num_outputs": 1,
        "output_format": config.output_format,
    }


def _check_request(request: ProviderRequest) -> None:
    """Refuse what the model cannot do rather than quietly change it."""
    limits = REPLICATE_CAPABILITIES
    problems = []
    if not 1 <= request.steps <= limits.max_steps:
        problems.append(f"steps must be between 1 and {limits.max_steps}")
    for side_name, side in (("width", request.width), ("height", request.height)):
        if not limits.min_side <= side <= limits.max_side or side % limits.size_multiple:
            problems.append(
                f"{side_name} must be a multiple of {limits.size_multiple} between "
                f"{limits.min_side} and {limits.max_side}"
            )
    if problems:
        raise InvalidParamsError(f"Replicate cannot run this request: {'; '.join(problems)}.")


# --- progress ---------------------------------------------------------------------------------

# The SDK's own pattern for tqdm lines (Prediction.Progress), e.g.
# " 45%|████▌     | 9/20 [00:02<00:02,  4.1it/s]".
_TQDM_LINE = re.compile(r"^\s*(\d+)%\s*\|.+?\|\s*(\d+)/(\d+)")


def tqdm_steps(lines: str) -> list[tuple[int, int]]:
    """Every (step, total) a chunk of logs reports, in order."""
    found = []
    for line in re.split(r"[\r\n]", lines):
        match = _TQDM_LINE.match(line)
        if match:
            step, total = int(match.group(2)), int(match.group(3))
            if total > 0 and 0 <= step <= total:
                found.append((step, total))
    return found


@dataclass
class _StepReporter:
    """Reads growing logs and reports each step they show once, in order.

    Steps the logs skip (tqdm prints at most every so often) are not made up: each event
    is a step the model reported, and every one of them costs the processor a push.
    """

    on_progress: ProgressCallback
    _read: int = 0
    _bar_total: int = 0
    _last_step: int = 0

    def feed(self, logs: str, *, final: bool) -> None:
        if len(logs) < self._read:
            self._read = 0  # the logs were replaced; steps already reported stay reported
        # Only whole lines: a line still being written may read "9/2" for "9/20".
        last_line_end = max(logs.rfind("\n", self._read), logs.rfind("\r", self._read)) + 1
        end = len(logs) if final else last_line_end
        if end <= self._read:
            return
        chunk, self._read = logs[self._read : end], end
        for step, total in tqdm_steps(chunk):
            if total != self._bar_total:
                self._bar_total, self._last_step = total, 0  # a new progress bar began
            if step > self._last_step:
                self._last_step = step
                self.on_progress(ProgressUpdate(step=step, total_steps=total))

    def complete(self, steps: int) -> None:
        """The picture is there: say so, if the logs (empty on a held answer) stopped short."""
        total = self._bar_total or steps
        if self._last_step < total:
            self._last_step = total
            self.on_progress(ProgressUpdate(step=total, total_steps=total))


# --- time budget ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Budget:
    started_at: float
    seconds: float
    clock: Callable[[], float] = field(compare=False)

    @property
    def ends_at(self) -> float:
        return self.started_at + self.seconds

    def remaining(self) -> float:
        return self.ends_at - self.clock()

    def cancel_after(self) -> str:
        """Replicate's Cancel-After: lifetime from creation, whole seconds, at least 5."""
        return f"{max(_MIN_CANCEL_AFTER_S, math.ceil(self.seconds))}s"


class _BudgetTransport:
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
                raise _ApiError.from_response(response)
        return response

    def close(self) -> None:
        self._inner.close()


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


# --- HTTP -------------------------------------------------------------------------------------


class _ReplicateSession:
    """One generation's conversation with Replicate through the SDK's client."""

    def __init__(self, config: ReplicateConfig, token: str, budget: _Budget) -> None:
        import httpx
        from replicate.client import Client

        self._config = config
        self._budget = budget
        self._transport = _BudgetTransport(
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
        self.latest: _Prediction | None = None

    def _seen(self, prediction: _Prediction) -> _Prediction:
        self.latest = prediction
        return prediction

    def finished(self, prediction: _Prediction) -> _Prediction:
        """The prediction in its final state, which alone carries ``metrics.predict_time``: a
        held answer comes "processing" with its output, so it is read once more. If that read
        fails or it is still not final, the prediction as it was (the cost is then estimated)."""
        if prediction.status in _FINAL_STATUSES:
            return prediction
        try:
            final = self.get(prediction.id)
        except _translatable_failures():
            return prediction
        return final if final.status in _FINAL_STATUSES else prediction

    def __enter__(self) -> _ReplicateSession:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def create(
        self, path: str, body: dict[str, Any], *, wait_s: int, cancel_after: str
    ) -> _Prediction:
        headers = {"Cancel-After": cancel_after}
        read_s = self._config.read_timeout_s
        if wait_s >= 1:
            headers["Prefer"] = f"wait={wait_s}"
            read_s = wait_s + _WAIT_ANSWER_GRACE_S
        response = self._http.post(path, json=body, headers=headers, timeout=self._timeout(read_s))
        return self._seen(_Prediction.from_json(_json_of(response)))

    def look_up_model(self, model: str) -> None:
        """The model's page exists and is ours to run (an error answer raises)."""
        timeout = self._timeout(self._config.read_timeout_s)
        if not isinstance(_json_of(self._http.get(f"/v1/models/{model}", timeout=timeout)), dict):
            raise _UnexpectedAnswerError("a model is a JSON object")

    def get(self, prediction_id: str) -> _Prediction:
        path = f"/v1/predictions/{prediction_id}"
        timeout = self._timeout(self._config.read_timeout_s)
        return self._seen(_Prediction.from_json(_json_of(self._http.get(path, timeout=timeout))))

    def _timeout(self, read_s: float) -> httpx.Timeout:
        """Timeouts for a call that must end with the budget (the transport adds only grace)."""
        import httpx

        left = max(self._budget.remaining(), 0.05)
        return httpx.Timeout(min(read_s, left), connect=min(self._config.connect_timeout_s, left))

    def cancel_quietly(self, prediction_id: str) -> None:
        """Stop the billing if we can; Cancel-After ends it at the deadline if we cannot.
        The answer is the canceled prediction, with the predict_time it was billed."""
        try:
            self._seen(
                _Prediction.from_json(
                    _json_of(self._http.post(f"/v1/predictions/{prediction_id}/cancel"))
                )
            )
        except _translatable_failures():
            pass

    def upload(self, content: bytes, *, filename: str) -> str:
        uploaded = self._client.files.create(
            io.BytesIO(content), filename=filename, content_type="image/png"
        )
        return str(uploaded.urls["get"])

    def download(self, url: str) -> bytes:
        if url.startswith("data:"):
            return _data_url_bytes(url)
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
            raise _ApiError.from_response(response)
        return response.content


def _json_of(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise _ApiError.from_response(response)
    try:
        return response.json()
    except ValueError as exc:
        raise _UnexpectedAnswerError("the answer is not JSON") from exc


def _first_output_url_or_none(output: Any) -> str | None:
    candidates = output if isinstance(output, list) else [output]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.startswith(("data:", "https:", "http:")):
            return candidate
    return None


def _first_output_url(prediction: _Prediction) -> str:
    url = _first_output_url_or_none(prediction.output)
    if url is None:
        raise _PredictionEndedError(prediction)
    return url


def _data_url_bytes(url: str) -> bytes:
    header, _, data = url.partition(",")
    if not header.endswith(";base64"):
        raise _UnexpectedAnswerError("an output data URL is not base64")
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error as exc:
        raise _UnexpectedAnswerError("an output data URL does not decode") from exc


def _as_png(image_bytes: bytes, width: int, height: int) -> bytes:
    """The output as PNG at the requested size; a PNG of that size is handed on untouched."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as opened:
            if opened.format == "PNG" and opened.size == (width, height):
                return image_bytes
            image = opened.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise ProviderUnavailableError(
            "Replicate finished, but what it sent back is not a picture we can read.",
            provider=PROVIDER_NAME,
        ) from exc
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return encode_png(image)


# --- the error table --------------------------------------------------------------------------


class _UnexpectedAnswerError(Exception):
    """Replicate answered with something this adapter cannot read."""


@dataclass
class _ApiError(Exception):
    """An HTTP error answer, as the SDK reads it, plus what it asked us to wait."""

    status: int
    title: str | None
    detail: str | None
    retry_after_s: float | None

    @classmethod
    def from_response(cls, response: httpx.Response) -> _ApiError:
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


class _PredictionEndedError(Exception):
    """The prediction reached a final state without a picture."""

    def __init__(self, prediction: _Prediction) -> None:
        super().__init__(prediction.status)
        self.prediction = prediction


class _BudgetSpentError(Exception):
    def __init__(self, prediction: _Prediction) -> None:
        super().__init__(prediction.status)
        self.prediction = prediction


def _translatable_failures() -> tuple[type[BaseException], ...]:
    """Every failure of the SDK and the wire that `translate_failure` knows."""
    import httpx
    from pydantic import v1 as pydantic_v1
    from replicate.exceptions import ReplicateException

    return (
        ReplicateException,
        httpx.HTTPError,
        httpx.InvalidURL,
        pydantic_v1.ValidationError,  # the SDK's models (File) rejecting an answer
        _ApiError,
        _UnexpectedAnswerError,
        _PredictionEndedError,
        _BudgetSpentError,
    )


def translate_failure(exc: BaseException, *, model: str, budget: _Budget) -> SketchbridgeError:
    """The one table: every Replicate failure as the error a person at the canvas reads."""
    import httpx
    from replicate.exceptions import ReplicateError

    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, ReplicateError):  # raised by the SDK's own calls (uploads)
        exc = _ApiError(exc.status or 0, exc.title, exc.detail, None)
    if isinstance(exc, _ApiError):
        return _from_http_status(exc, model)
    if isinstance(exc, httpx.TimeoutException):
        return _request_timed_out(exc, budget)
    if isinstance(exc, _BudgetSpentError):
        return _timed_out(budget)
    if isinstance(exc, _PredictionEndedError):
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


def _from_http_status(error: _ApiError, model: str) -> SketchbridgeError:
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


def _from_final_prediction(prediction: _Prediction, budget: _Budget) -> SketchbridgeError:
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


def _request_timed_out(exc: httpx.TimeoutException, budget: _Budget) -> ProviderTimeoutError:
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


def _timed_out(budget: _Budget, details: dict[str, Any] | None = None) -> ProviderTimeoutError:
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
