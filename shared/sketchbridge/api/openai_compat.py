"""OpenAI's Images API over our jobs: the request forms, the answers and the errors.

``POST /openai/v1/images/edits`` (multipart, as the ``openai`` SDK sends it) and
``POST /openai/v1/images/generations`` (JSON) become a ``GenerationRequest``; the answer
is OpenAI's ``ImagesResponse`` or, with ``stream=true``, its server-sent events
(``image_edit.partial_image`` … ``image_edit.completed``). Errors are OpenAI's
``{"error": {"type", "code", "message", "param"}}`` with our codes and statuses. The shapes
are those of ``../shared/providers/openai-images-subset.yaml`` (a contract test checks).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Literal

from aws_lambda_powertools.event_handler import Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sketchbridge.api.http import STATUS_BY_CODE
from sketchbridge.api.multipart import Form
from sketchbridge.domain.errors import (
    InvalidParamsError,
    InvalidRequestError,
    InvalidSketchError,
    QuotaExceededError,
    SketchbridgeError,
)
from sketchbridge.domain.models import MAX_SIDE, MIN_SIDE, GenerationParams, GenerationRequest

# OpenAI's own limit is 10; ours is the variations a request may ask for.
MAX_IMAGES = 4
MAX_PARTIAL_IMAGES = 3
_SIZE = re.compile(r"(\d{2,5})x(\d{2,5})")
# Form fields OpenAI's SDK may send that we accept and do not act on: the picture is ours
# (PNG, our quality), so they change nothing; anything else is refused by name.
_IGNORED_FIELDS = frozenset(
    {
        "quality",
        "background",
        "output_compression",
        "moderation",
        "input_fidelity",
        "user",
        "safety_identifier",
    }
)


class ImagesRequest(BaseModel):
    """What images/edits (its form's text fields) and images/generations (JSON) take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(min_length=1, max_length=2000)
    model: str = Field(default="auto", min_length=1, max_length=64)
    n: int = Field(default=1, ge=1, le=MAX_IMAGES)
    size: str = "auto"
    response_format: Literal["url", "b64_json"] = "b64_json"
    output_format: Literal["png"] = "png"
    stream: bool = False
    partial_images: int = Field(default=0, ge=0, le=MAX_PARTIAL_IMAGES)
    negative_prompt: str | None = Field(default=None, max_length=2000)
    seed: int | None = None
    # images/generations only (our extension): the sketch as a data URL.
    image: str | None = None

    @model_validator(mode="after")
    def _one_image_per_stream(self) -> ImagesRequest:
        if self.stream and self.n > 1:
            raise ValueError("stream=true draws one image: n must be 1")
        return self

    @field_validator("size")
    @classmethod
    def _size_is_known(cls, size: str) -> str:
        if size != "auto" and _dimensions(size) is None:
            raise ValueError(f"size is 'auto' or WIDTHxHEIGHT, each {MIN_SIDE} to {MAX_SIDE}")
        return size


def _dimensions(size: str) -> tuple[int, int] | None:
    found = _SIZE.fullmatch(size)
    if found is None:
        return None
    width, height = int(found[1]), int(found[2])
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        return None
    return width, height


def edit_request(form: Form) -> tuple[ImagesRequest, bytes]:
    """The edit's options and the sketch's bytes (the first ``image``/``image[]`` file)."""
    images = form.files("image", "image[]")
    if not images:
        raise InvalidSketchError(
            "images/edits takes the sketch as the image file.", details={"field": "image"}
        )
    if form.files("mask"):
        raise InvalidParamsError(
            "mask is not supported: the whole sketch is drawn on.", details={"field": "mask"}
        )
    fields = {
        name: value for name, value in form.text_fields().items() if name not in _IGNORED_FIELDS
    }
    return images_request(fields), images[0].data


def images_request(payload: Any) -> ImagesRequest:
    if isinstance(payload, dict):
        payload = {name: value for name, value in payload.items() if name not in _IGNORED_FIELDS}
    try:
        return ImagesRequest.model_validate(payload)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"]) or "body"
        error_type = (
            "unknown_parameter" if problem["type"] == "extra_forbidden" else "invalid_value"
        )
        raise InvalidParamsError(
            f"{field}: {problem['msg']}", details={"field": field, "openai_code": error_type}
        ) from exc


# OpenAI's own image models: code that names one keeps working and is served by our openai
# provider (with failover, as any named provider).
_OPENAI_MODELS = ("gpt-image", "dall-e", "chatgpt-image")


def provider_for(model: str) -> str:
    """``auto``, a provider's name, or one of OpenAI's model ids (→ ``openai``)."""
    return "openai" if model.startswith(_OPENAI_MODELS) else model


def generation_request(request: ImagesRequest, sketch_data_url: str) -> GenerationRequest:
    width_height = _dimensions(request.size)
    params: dict[str, Any] = {}
    if width_height is not None:
        params["width"], params["height"] = width_height
    if request.seed is not None:
        params["seed"] = request.seed
    try:
        return GenerationRequest(
            sketch=sketch_data_url,
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            provider=provider_for(request.model),
            params=GenerationParams(**params),
            variations=request.n,
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"]) or "body"
        raise InvalidRequestError(f"{field}: {problem['msg']}", details={"field": field}) from exc


def as_data_url(image: bytes) -> str:
    """The sketch file as the data URL submit decodes (the decoder finds the real format)."""
    return "data:image/png;base64," + base64.b64encode(image).decode()


# -- answers ----------------------------------------------------------------------------------


class OpenAIImage(BaseModel):
    b64_json: str | None = None
    url: str | None = None


class OpenAIImagesResponse(BaseModel):
    """OpenAI's ImagesResponse."""

    created: int
    data: list[OpenAIImage]
    output_format: str = "png"
    size: str | None = None


class OpenAIError(BaseModel):
    type: str
    code: str | None
    message: str
    param: str | None


class OpenAIErrorResponse(BaseModel):
    """OpenAI's error envelope."""

    error: OpenAIError


# The sizes OpenAI's schema names; another size is reported as "auto" (events) or left out.
SPEC_SIZES = frozenset({"1024x1024", "1024x1536", "1536x1024"})


def spec_size(size: str) -> str | None:
    return size if size in SPEC_SIZES else None


def json_answer(model: BaseModel) -> Response[str]:
    """An answer as OpenAI writes it: absent fields left out, never null."""
    return Response(
        status_code=200,
        content_type="application/json",
        body=model.model_dump_json(exclude_none=True),
    )


def images_response(
    *, created: int, images: list[bytes | str], size: str | None
) -> OpenAIImagesResponse:
    """bytes become ``b64_json``; strings are URLs."""
    size = spec_size(size) if size else None
    return OpenAIImagesResponse(
        created=created,
        data=[
            OpenAIImage(url=image)
            if isinstance(image, str)
            else OpenAIImage(b64_json=base64.b64encode(image).decode())
            for image in images
        ],
        size=size,
    )


_NO_USAGE = {
    "input_tokens": 0,
    "output_tokens": 0,
    "total_tokens": 0,
    "input_tokens_details": {"text_tokens": 0, "image_tokens": 0},
}


def stream_events(
    *,
    kind: Literal["image_edit", "image_generation"],
    created: int,
    size: str,
    partials: list[bytes],
    final: bytes,
) -> str:
    """The SSE body: each partial image, then the completed one (OpenAI's framing)."""
    common = {
        "created_at": created,
        "size": spec_size(size) or "auto",
        "quality": "auto",
        "background": "auto",
        "output_format": "png",
    }
    frames = [
        _sse(
            f"{kind}.partial_image",
            {
                "type": f"{kind}.partial_image",
                "b64_json": base64.b64encode(partial).decode(),
                **common,
                "partial_image_index": index,
            },
        )
        for index, partial in enumerate(partials)
    ]
    frames.append(
        _sse(
            f"{kind}.completed",
            {
                "type": f"{kind}.completed",
                "b64_json": base64.b64encode(final).decode(),
                **common,
                # We bill per image, not in tokens; OpenAI's schema requires the object.
                "usage": _NO_USAGE,
            },
        )
    )
    return "".join(frames)


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def sse_response(body: str) -> Response[str]:
    return Response(
        status_code=200,
        content_type="text/event-stream",
        body=body,
        headers={"Cache-Control": "no-store"},
    )


# -- errors -----------------------------------------------------------------------------------

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    402: "insufficient_quota",
    403: "invalid_request_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "image_generation_user_error",
    429: "rate_limit_error",
}


def error_response(error: SketchbridgeError) -> Response[str]:
    status = STATUS_BY_CODE.get(error.code, 500)
    field = error.details.get("field") if isinstance(error.details, dict) else None
    code = error.details.get("openai_code") if isinstance(error.details, dict) else None
    body = OpenAIErrorResponse(
        error=OpenAIError(
            type=_TYPE_BY_STATUS.get(status, "server_error"),
            code=str(code or error.code),
            message=error.message,
            param=str(field) if field else None,
        )
    )
    headers: dict[str, str] = {}
    if isinstance(error, QuotaExceededError):
        headers["Retry-After"] = str(error.retry_after_s)
    if not error.retryable and status >= 500:
        # The SDK retries 5xx by itself; an outage it cannot outwait is said at once.
        headers["x-should-retry"] = "false"
    return Response(
        status_code=status,
        content_type="application/json",
        body=body.model_dump_json(),
        headers=headers,
    )
