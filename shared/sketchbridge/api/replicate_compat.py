"""Replicate's predictions API over our jobs: inputs, the prediction object, errors.

Models are ``sketchbridge/auto`` and ``sketchbridge/<provider>``; the input takes
``prompt``, ``image`` (a data URI, or the URL ``POST /v1/files`` answered, which is what the
``replicate`` SDK sends for a file) and our parameters under their usual Replicate names.
A prediction's ``status`` maps from the job's, ``output`` is the result's URL and ``logs``
are the job's progress, written as tqdm lines so the SDK's ``Prediction.progress`` reads them.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sketchbridge.api.http import STATUS_BY_CODE
from sketchbridge.domain.errors import (
    InvalidParamsError,
    InvalidRequestError,
    QuotaExceededError,
    SketchbridgeError,
)
from sketchbridge.domain.models import (
    MAX_SEED,
    GenerationParams,
    GenerationRequest,
    JobResponse,
    JobStatus,
)
from sketchbridge.services.webhooks import WebhookEvent

MODEL_OWNER = "sketchbridge"
# What Replicate's own "official model" predictions show as their version.
VERSION = "hidden"
_MODEL = re.compile(r"sketchbridge/(?P<name>[a-z0-9][a-z0-9_-]{0,63})(?::[A-Za-z0-9_-]{1,128})?")
_FILE_PATH = re.compile(r"/replicate/v1/files/(?P<id>[0-9a-f]{32})")
_PREFER_WAIT = re.compile(r"^\s*wait(?:\s*=\s*(\d{1,3}))?\s*$")
# Prefer: wait alone: Replicate waits up to 60 s; we wait what the HTTP API allows.
DEFAULT_WAIT_S = 60

_STATUS = {
    JobStatus.QUEUED: "starting",
    JobStatus.RUNNING: "processing",
    JobStatus.SUCCEEDED: "succeeded",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "canceled",
}


class PredictionInput(BaseModel):
    """``input`` of a prediction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(min_length=1, max_length=2000)
    image: str = Field(min_length=1, max_length=12 * 1024 * 1024)
    negative_prompt: str | None = Field(default=None, max_length=2000)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    num_inference_steps: int | None = Field(default=None, ge=1, le=100)
    guidance_scale: float | None = Field(default=None, ge=0.0, le=30.0)
    prompt_strength: float | None = Field(default=None, ge=0.0, le=1.0)
    width: int | None = None
    height: int | None = None


class PredictionRequest(BaseModel):
    """Body of ``POST /v1/predictions`` (``version`` or ``model``) and of the model route."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: dict[str, Any]
    version: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=200)
    webhook: str | None = Field(default=None, max_length=2048)
    webhook_events_filter: list[WebhookEvent] | None = Field(default=None, max_length=4)
    # Deprecated on Replicate; we have no token stream to offer.
    stream: bool | None = None


class PredictionResponse(BaseModel):
    """Replicate's prediction object."""

    id: str
    model: str
    version: str
    input: dict[str, Any]
    output: str | None
    logs: str
    error: str | None
    status: str
    created_at: str
    started_at: str | None = None
    completed_at: str | None = None
    data_removed: bool = False
    source: str = "api"
    urls: dict[str, str]
    metrics: dict[str, float] = Field(default_factory=dict)

    def body(self) -> str:
        """As Replicate writes it: ``output`` and ``error`` always there (null until set),
        ``started_at`` and ``completed_at`` absent until they happen."""
        return self.model_dump_json(
            exclude={name for name in ("started_at", "completed_at") if getattr(self, name) is None}
        )


class ReplicateFileResponse(BaseModel):
    """Replicate's file object, as ``POST /v1/files`` answers it."""

    id: str
    name: str
    content_type: str
    size: int
    etag: str
    checksums: dict[str, str]
    metadata: dict[str, Any]
    created_at: str
    expires_at: str
    urls: dict[str, str]


class WebhookSecretResponse(BaseModel):
    """The secret that signs your webhooks."""

    key: str


class ProblemResponse(BaseModel):
    """Replicate's errors: RFC 7807 problem details."""

    title: str
    detail: str
    status: int


def provider_of(model: str) -> str:
    """``sketchbridge/<name>`` (optionally ``:<version>``) → ``<name>`` (``auto`` included)."""
    found = _MODEL.fullmatch(model)
    if found is None:
        raise InvalidParamsError(
            f"There is no model {model!r}: use sketchbridge/auto or sketchbridge/<provider>.",
            details={"field": "model"},
        )
    return found["name"]


def parse_request(payload: Any) -> PredictionRequest:
    try:
        request = PredictionRequest.model_validate(payload)
    except ValidationError as exc:
        raise _invalid(exc, prefix="") from exc
    if request.webhook is not None and not request.webhook.startswith(("https://", "http://")):
        raise InvalidParamsError("webhook must be an http(s) URL.", details={"field": "webhook"})
    return request


def parse_input(payload: dict[str, Any]) -> PredictionInput:
    try:
        return PredictionInput.model_validate(payload)
    except ValidationError as exc:
        raise _invalid(exc, prefix="input.") from exc


def uploaded_file_id(image: str, *, host: str) -> str | None:
    """The id of a file uploaded here (``POST /v1/files`` → ``urls.get``), else None."""
    if not image.startswith(("https://", "http://")):
        return None
    rest = image.split("://", 1)[1]
    url_host, slash, path = rest.partition("/")
    if url_host.lower() != host.lower():
        return None
    found = _FILE_PATH.fullmatch(slash + path)
    return found["id"] if found else None


def generation_request(
    provider: str, given: PredictionInput, *, sketch: str | None, upload_id: str | None
) -> GenerationRequest:
    params: dict[str, Any] = {}
    for ours, value in (
        ("seed", given.seed),
        ("steps", given.num_inference_steps),
        ("guidance_scale", given.guidance_scale),
        ("strength", given.prompt_strength),
        ("width", given.width),
        ("height", given.height),
    ):
        if value is not None:
            params[ours] = value
    try:
        return GenerationRequest(
            sketch=sketch,
            sketch_upload_id=upload_id,
            prompt=given.prompt,
            negative_prompt=given.negative_prompt,
            provider=provider,
            params=GenerationParams(**params),
        )
    except ValidationError as exc:
        raise _invalid(exc, prefix="input.") from exc


def wait_seconds(prefer: str | None) -> float | None:
    """``Prefer: wait`` / ``wait=n`` (1-60) → seconds to wait; None: answer at once."""
    if not prefer:
        return None
    for preference in prefer.split(","):
        found = _PREFER_WAIT.match(preference)
        if found is None:
            continue
        seconds = int(found[1]) if found[1] else DEFAULT_WAIT_S
        if not 1 <= seconds <= 60:
            raise InvalidRequestError(
                "Prefer: wait=n takes 1 to 60 seconds.", details={"field": "Prefer"}
            )
        return float(seconds)
    return None


def prediction(
    job: JobResponse,
    *,
    model: str,
    given_input: dict[str, Any],
    base_url: str,
    waited_out: bool = False,
) -> PredictionResponse:
    """The job as Replicate's prediction. ``waited_out``: a ``Prefer: wait`` that ended before
    the job: Replicate then answers ``starting``, which tells its SDK to poll."""
    status = "starting" if waited_out and not job.status.is_final else _STATUS[job.status]
    url = f"{base_url}/replicate/v1/predictions/{job.id}"
    metrics = {"predict_time": job.duration_s} if job.duration_s is not None else {}
    return PredictionResponse(
        id=job.id,
        model=model,
        version=VERSION,
        input=given_input,
        output=job.result.url if job.result is not None else None,
        logs=logs(job),
        error=job.error.message if job.error is not None else None,
        status=status,
        created_at=job.created_at,
        started_at=job.created_at if job.status is not JobStatus.QUEUED else None,
        completed_at=job.updated_at if job.status.is_final else None,
        urls={"get": url, "cancel": f"{url}/cancel", "web": f"{base_url}/generations/{job.id}"},
        metrics=metrics,
    )


def logs(job: JobResponse) -> str:
    """The job's progress as log lines; the last progress line is tqdm's, as models print."""
    lines = [f"sketchbridge job {job.id}: {job.status.value} (provider {job.provider})"]
    for hop in job.hops:
        lines.append(
            f"{hop.provider}: {hop.outcome} after {hop.seconds:.1f}s"
            + (f" ({hop.message})" if hop.message else "")
        )
    if job.cached:
        lines.append("answered from the cache: no provider was called")
    total = job.params.steps
    done = round(job.progress * total)
    bar = ("#" * round(job.progress * 10)).ljust(10)
    lines.append(f"{round(job.progress * 100):3d}%|{bar}| {done}/{total}")
    return "\n".join(lines) + "\n"


def error_response(error: SketchbridgeError) -> Response[str]:
    status = STATUS_BY_CODE.get(error.code, 500)
    if isinstance(error, InvalidRequestError) and status == 400:
        # Replicate answers input problems with 422.
        status = 422
    body = ProblemResponse(title=error.code, detail=error.message, status=status)
    headers = (
        {"Retry-After": str(error.retry_after_s)} if isinstance(error, QuotaExceededError) else None
    )
    return Response(
        status_code=status,
        content_type="application/problem+json",
        body=body.model_dump_json(),
        headers=headers,
    )


def _invalid(exc: ValidationError, *, prefix: str) -> InvalidParamsError:
    problem = exc.errors()[0]
    field = prefix + (".".join(str(part) for part in problem["loc"]) or "body")
    return InvalidParamsError(f"{field}: {problem['msg']}", details={"field": field})


def file_response(
    file_id: str,
    *,
    name: str,
    content_type: str,
    data: bytes,
    created_at: datetime,
    base_url: str,
) -> ReplicateFileResponse:
    """What Replicate answers for an upload; ``urls.get`` is what the SDK puts in the input."""
    return ReplicateFileResponse(
        id=file_id,
        name=name[:255],
        content_type=content_type,
        size=len(data),
        etag=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        checksums={
            "sha256": hashlib.sha256(data).hexdigest(),
            "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        },
        metadata={},
        created_at=created_at.isoformat(),
        # The bucket's lifecycle deletes uploads after a day, as Replicate's files expire.
        expires_at=(created_at + timedelta(days=1)).isoformat(),
        urls={"get": f"{base_url}/replicate/v1/files/{file_id}"},
    )
