"""``ReplicateProvider``: one catalog model on Replicate, from request to picture.

The flow: refuse what the model cannot run; send the picture the model reads (inline as a
data URL, or uploaded when large); create the prediction with ``Prefer: wait=N`` (a short
hold) and ``Cancel-After`` (so Replicate itself stops billing at our deadline, even if this
process dies); then poll until a final status, turning each new tqdm step of the logs into a
progress event, and asking ``request.should_stop`` between polls. Past the budget it cancels
and raises ``ProviderTimeoutError``; when the job's owner canceled, it calls the
prediction's cancel URL and raises ``JobCanceledError`` with what was billed. Outputs expire
after an hour, so the picture is fetched at once and handed on as PNG bytes.

Billing. ``result.usage`` carries the prediction's id, outputs and ``metrics.predict_time``
(the final prediction's: a held answer that was still "processing" is read once more). A
failure whose prediction ran (failed, or canceled: the cancel answer carries its
predict_time) carries that usage on the error, since a model version bills its seconds
whatever the outcome; one that never ran (aborted, refused at create) carries none. How the
model bills (per image, per second) is its catalog entry's price (``domain/pricing.py``).
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sketchbridge.domain.billing import ProviderUsage
from sketchbridge.domain.errors import (
    AuthFailedError,
    InvalidParamsError,
    JobCanceledError,
    ProviderError,
)
from sketchbridge.providers.base import (
    DEFAULT_PROBE_TIMEOUT_S,
    ProgressCallback,
    ProviderCapabilities,
    ProviderRequest,
    ProviderResult,
)
from sketchbridge.providers.replicate.catalog import ReplicateModel
from sketchbridge.providers.replicate.client import ReplicateSession
from sketchbridge.providers.replicate.config import ReplicateConfig
from sketchbridge.providers.replicate.errors import (
    PROVIDER_NAME,
    BudgetSpentError,
    PredictionEndedError,
    translatable_failures,
    translate_failure,
)
from sketchbridge.providers.replicate.picture import as_png, model_picture
from sketchbridge.providers.replicate.prediction import (
    FINAL_STATUSES,
    Budget,
    Prediction,
    picture_url,
    resumable,
)
from sketchbridge.providers.replicate.progress import StepReporter


class _StopRequestedError(Exception):
    """The job's owner canceled while the prediction ran (``request.should_stop``)."""


class ReplicateProvider:
    name = PROVIDER_NAME
    is_ai = True

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
        self._chosen = self._config.chosen
        self._clock = clock
        self._sleep = sleep

    @property
    def model(self) -> str:
        return self._chosen.name

    @property
    def entry(self) -> ReplicateModel:
        """The catalog entry this adapter runs."""
        return self._chosen.entry

    @property
    def capabilities(self) -> ProviderCapabilities:
        return self.entry.capabilities

    @property
    def image_target(self) -> str:
        """The preprocessing target (``preprocessing/targets.py``) its model wants."""
        return self.entry.image_target

    @property
    def description(self) -> str:
        return f"Replicate, running {self.model}: {self.entry.summary}"

    def with_model(self, model: str) -> ReplicateProvider:
        """This adapter running another catalog model (``owner/name[:version]``); the
        configured version pin is dropped. ValueError for a model the catalog lacks."""
        config = replace(self._config, model=model, version=None)
        return ReplicateProvider(self._api_key, config, clock=self._clock, sleep=self._sleep)

    def native_parameters(self, request: ProviderRequest) -> dict[str, Any]:
        """The request's parameters as the model runs them, under its own names."""
        return self.entry.native_parameters(request)

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        budget = Budget(started_at=self._clock(), seconds=request.timeout_s, clock=self._clock)
        _check_request(request, self.entry)
        token = self._token()
        picture = model_picture(request.sketch, self.entry, request.width, request.height)
        session: ReplicateSession | None = None
        try:
            with ReplicateSession(self._config, token, budget) as session:
                image_url = self._image_url(session, picture)
                prediction = self._run_to_the_end(session, request, image_url, budget, on_progress)
                image = session.download(picture_url(prediction))
                prediction = session.finished(prediction)
        except _StopRequestedError:
            billed = self._billed_failure(session.latest if session else None)
            raise JobCanceledError(
                "Canceled: Replicate was asked to stop the picture.", usage=billed
            ) from None
        except translatable_failures() as exc:
            error = translate_failure(exc, model=self.model, budget=budget)
            if isinstance(error, ProviderError) and session is not None:
                error.with_usage(self._billed_failure(session.latest))
            raise error from exc
        return ProviderResult(
            image_png=as_png(image, request.width, request.height),
            width=request.width,
            height=request.height,
            model=self.model,
            seed=request.seed,
            usage=self._usage(prediction, request),
        )

    def _usage(self, prediction: Prediction, request: ProviderRequest) -> ProviderUsage:
        """What Replicate reports for the prediction: its outputs and ``metrics.predict_time``
        (absent if it was not final yet; the actual cost then says it is estimated)."""
        return ProviderUsage(
            provider=PROVIDER_NAME,
            model=self.model,
            images=1 if prediction.has_output else 0,
            predict_time_s=prediction.predict_time_s,
            external_id=prediction.id,
            width=request.width,
            height=request.height,
        )

    def _billed_failure(self, prediction: Prediction | None) -> ProviderUsage | None:
        """What a failed or canceled call was billed: a prediction that ran reports its
        predict_time, which a time-billed model bills; one that never ran (aborted,
        refused at create, canceled while starting) bills nothing."""
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
        budget = Budget(started_at=self._clock(), seconds=timeout_s, clock=self._clock)
        token = self._token()
        config = replace(self._config, status_retries=0, cancel_grace_s=0.0)
        try:
            with ReplicateSession(config, token, budget) as session:
                session.look_up_model(self.model)
        except translatable_failures() as exc:
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

    def _image_url(self, session: ReplicateSession, picture_png: bytes) -> str:
        # Replicate's docs: data URLs for small files, an uploaded file's URL for larger ones.
        if len(picture_png) <= self._config.inline_max_bytes:
            return "data:image/png;base64," + base64.b64encode(picture_png).decode("ascii")
        return session.upload(picture_png, filename="sketch.png")

    def _resumed(self, session: ReplicateSession, resume_id: str | None) -> Prediction | None:
        """The prediction an earlier delivery started, if it can still give us the picture.

        Outputs are kept for an hour; a prediction that failed, was canceled or is
        gone is not resumed, and a new one is created instead.
        """
        if not resume_id:
            return None
        try:
            prediction = session.get(resume_id)
        except translatable_failures():
            return None
        if not resumable(prediction):
            session.latest = None  # billed to the delivery that ran it, not to this call
            return None
        return prediction

    def _create_path_and_body(self, model_input: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """An official model runs by name; a community one by its version (the spec's
        ``owner/name:version`` form, which also tells a reader which model it is)."""
        if self._chosen.version is None:
            return f"/v1/models/{self.model}/predictions", {"input": model_input}
        version = f"{self.model}:{self._chosen.version}"
        return "/v1/predictions", {"version": version, "input": model_input}

    def _run_to_the_end(
        self,
        session: ReplicateSession,
        request: ProviderRequest,
        image_url: str,
        budget: Budget,
        on_progress: ProgressCallback,
    ) -> Prediction:
        """Create the prediction and follow it to a final state; on any failure or a stop,
        cancel it."""

        def stop_requested() -> bool:
            return request.should_stop is not None and request.should_stop()

        steps = StepReporter(on_progress)
        model_input = self.entry.model_input(
            request, image_url, output_format=self._config.output_format
        )
        path, body = self._create_path_and_body(model_input)
        if stop_requested():
            raise _StopRequestedError  # nothing started, nothing billed
        prediction = self._resumed(session, request.resume_id)
        if prediction is None:
            wait_s = min(self._config.prefer_wait_s, math.floor(budget.remaining() - 1))
            prediction = session.create(
                path, body, wait_s=wait_s, cancel_after=budget.cancel_after()
            )
            if request.on_started is not None:
                request.on_started(prediction.id)
        try:
            steps.feed(prediction.logs, final=prediction.status in FINAL_STATUSES)
            while not prediction.is_done:
                if stop_requested():
                    raise _StopRequestedError
                if budget.remaining() <= 0:
                    raise BudgetSpentError(prediction)
                self._sleep(min(self._config.poll_interval_s, max(budget.remaining(), 0.0)))
                prediction = session.get(prediction.id)
                steps.feed(prediction.logs, final=prediction.status in FINAL_STATUSES)
        except BaseException:
            session.cancel_quietly(prediction)
            raise
        if prediction.status in ("failed", "canceled", "aborted") or not prediction.has_output:
            raise PredictionEndedError(prediction)
        steps.complete(request.steps)
        return prediction


def _check_request(request: ProviderRequest, entry: ReplicateModel) -> None:
    """Refuse what the model cannot do rather than quietly change it."""
    limits = entry.capabilities
    problems = []
    ranges = limits.parameters
    for generic, value in (
        ("steps", request.steps),
        ("guidance_scale", request.guidance_scale),
        ("seed", request.seed),
    ):
        allowed = ranges.get(generic)
        if allowed is not None and not allowed.contains(value):
            problems.append(
                f"{generic} must be in {allowed.describe()} ({allowed.native_name} here)"
            )
    for side_name, side in (("width", request.width), ("height", request.height)):
        if not limits.min_side <= side <= limits.max_side or side % limits.size_multiple:
            problems.append(
                f"{side_name} must be a multiple of {limits.size_multiple} between "
                f"{limits.min_side} and {limits.max_side}"
            )
    if problems:
        raise InvalidParamsError(
            f"Replicate ({entry.name}) cannot run this request: {'; '.join(problems)}."
        )
