"""A stand-in for OpenAI's Images API, close enough on the wire for the ``openai`` SDK to run as is.

Point the SDK here with ``OPENAI_BASE_URL=http://127.0.0.1:<port>/v1`` (the ``/v1`` is part of
the base URL; the SDK's paths are relative to it):

    POST /v1/images/edits        multipart/form-data: ``image`` (one file) or repeated
                                 ``image[]`` parts, ``prompt``, and optionally ``model``,
                                 ``size``, ``quality``, ``n``, ``stream``, ``partial_images``,
                                 ``output_format``, ``output_compression``, ``background``, ``mask``
    POST /v1/images/generations  JSON, the same options without the images
    GET  /v1/models/{model}      200 Model {"id", "object": "model", "created", "owned_by",
                                 "shutdown_date"} for a GPT image model that is not shut down
                                 (what the health probe reads); 404 ``model_not_found`` else

    200  {"created", "data": [{"b64_json"}], "background", "output_format", "size",
          "quality", "usage"}                                          (ImagesResponse)
    200  text/event-stream when ``stream`` is true: ``partial_images`` events
         ``image_edit.partial_image`` (``image_generation.*`` for generations), then one
         ``image_edit.completed`` per image, framed as in the spec's example:
             event: image_edit.partial_image
             data: {"type": "image_edit.partial_image", "b64_json": ..., ...}
    4xx/5xx  {"error": {"message", "type", "param", "code"}} and an ``x-request-id`` header

The contract is ``../shared/providers/openai-images.md`` (spec, SDK 3.57.0 and observed
answers). Where it is silent, marked [?] there, the choice made here is marked [?] too.

Every request needs ``Authorization: Bearer <key>``; any key passes unless ``api_key`` is
given. Images are drawn by the local renderer; partial images are the final picture faded in
from the sketch. Scripted outcomes (``local/standins/control.py``):

    status      exactly that status, headers and body; a missing body becomes the error
                OpenAI sends for that status, so the SDK sees its usual clues
    delay_s     the answer waits that long
    slow_start  not one byte for ``s`` seconds, then the normal answer
    moderation  400 ``moderation_blocked`` (type ``image_generation_user_error``), as observed
    aborted     streaming: the first partial image, then the spec's ``ErrorEvent``
                (``event: error``, ``data: <Error>``) and the end of the stream;
                otherwise 500 ``server_error``

Run alone: ``python -m local.standins.openai --port 4020 [--seconds-per-partial 0.5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import math
import re
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from local.server import BackgroundServer, listen
from local.standins.control import StandinControl, control_routes
from sketchbridge.domain import clock
from sketchbridge.providers.local_renderer import MAX_SIDE as RENDER_MAX_SIDE
from sketchbridge.providers.local_renderer import MIN_SIDE as RENDER_MIN_SIDE
from sketchbridge.providers.local_renderer import render_sketch

# The spec's defaults (gpt-image-1.5 for edits, dall-e-2 for generations) are shut down; the
# current model answers instead, so a stand-in never refuses its own default as time passes.
DEFAULT_EDIT_MODEL = "gpt-image-2"
DEFAULT_GENERATION_MODEL = "gpt-image-2"
# Models the SDK 3.57.0 docstrings call retired or shut down, with the day they stopped.
SHUT_DOWN: Mapping[str, date] = {
    "dall-e-2": date(2026, 5, 12),
    "dall-e-3": date(2026, 5, 12),
    "gpt-image-1": date(2026, 10, 23),
    "gpt-image-1-mini": date(2026, 12, 1),
    "gpt-image-1.5": date(2026, 12, 1),
}
STANDARD_SIZES = ("1024x1024", "1536x1024", "1024x1536")
# gpt-image-2 and later take any WxH: sides divisible by 16, ratio 1:3..3:1, at most 3840x2160.
FREE_SIZE_MULTIPLE = 16
FREE_SIZE_MAX_RATIO = 3.0
FREE_SIZE_MAX_LONG, FREE_SIZE_MAX_SHORT = 3840, 2160
QUALITIES = ("low", "medium", "high", "auto")
EXTRA_QUALITIES = ("xhigh", "max")  # gpt-image-2.5-* only
OUTPUT_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
BACKGROUNDS = ("transparent", "opaque", "auto")
MAX_PROMPT_CHARS = 32_000
MAX_IMAGES = 16
MAX_PARTIAL_IMAGES = 3
# Image output tokens for a 1024x1024 picture by quality (pricing.md, gpt-image-1's table);
# other sizes scale with their pixels, and each partial image costs 100 more.
OUTPUT_TOKENS_1024 = {"low": 272, "medium": 1056, "high": 4160, "xhigh": 6240, "max": 8320}
PARTIAL_IMAGE_TOKENS = 100


@dataclass(frozen=True)
class TokenPrices:
    """USD per million tokens: text in, image in, image out (the stand-in's own bill)."""

    text_in: float
    image_in: float
    image_out: float


# What OpenAI charges per million tokens, by model (../shared/providers/pricing.md).
TOKEN_PRICES: Mapping[str, TokenPrices] = {
    # pricing.md:26 "gpt-image-2, -2.5-sunburst/flare, -2.6-* | 1M tokens | text in $5 ·
    # image in $8 · image out $30"
    "gpt-image-2": TokenPrices(5.00, 8.00, 30.00),
    # pricing.md:24 "gpt-image-1.5 tokens | 1M | text in $5 · text out $10 · image in $8 ·
    # image out $32"
    "gpt-image-1.5": TokenPrices(5.00, 8.00, 32.00),
    # pricing.md:25 "gpt-image-1-mini ... image out $8/1M, image in $2.50/1M, text in $2/1M"
    "gpt-image-1-mini": TokenPrices(2.00, 2.50, 8.00),
    # pricing.md:17 "gpt-image-1 tokens | 1M tokens | text in $5.00 · image in $10.00 ·
    # image out $40.00"
    "gpt-image-1": TokenPrices(5.00, 10.00, 40.00),
}
INPUT_IMAGE_TOKENS = 323  # [?] per input image; the real count depends on its size
RESOLVED_AUTO_QUALITY = "medium"  # [?] what "auto" turns into
RENDER_STEPS = 12
# [?] when a model was created: not something a health probe reads; any fixed time will do.
MODEL_CREATED = 1_745_000_000
RENDER_STRENGTH = 0.9

# What OpenAI sends for each status when a script names only the status: (type, code, message).
DEFAULT_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: sk-****. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model does not exist or you do not have access to it.",
    ),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit exceeded for images per minute in organization org-standin. Limit: 5/1min. "
        "Current: 6/1min. Please visit https://platform.openai.com/docs/guides/rate-limits to "
        "learn how to increase your rate limit.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    503: ("server_error", None, "The engine is currently overloaded, please try again later"),
}
MODERATION_MESSAGE = (
    "Your request was rejected by the safety system. If you believe this is an error, "
    "contact us at help.openai.com and include the request ID {request_id}. "
    "safety_violations=[sexual]."
)


class _InvalidRequest(ValueError):
    """The request breaks the contract; OpenAI answers 400 (or ``status``) with this error."""

    def __init__(
        self, message: str, *, param: str | None, code: str | None, status: int = 400
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status


@dataclass(frozen=True)
class _Job:
    """One validated request: what to draw and how to answer."""

    kind: str  # "image_edit" | "image_generation": the stream events' prefix
    model: str
    prompt: str
    sketch: Image.Image
    input_images: int
    size: str  # as requested, "auto" included
    width: int
    height: int
    quality: str  # as requested
    n: int
    stream: bool
    partial_images: int
    output_format: str
    output_compression: int
    background: str
    seed: int


def create_app(
    control: StandinControl | None = None,
    *,
    api_key: str | None = None,
    seconds_per_partial: float = 0.0,
) -> Starlette:
    """The stand-in as an ASGI app; ``control`` lets a test script it and read its log.

    ``api_key``: the only key accepted (any non-empty key when None).
    ``seconds_per_partial``: how long each streamed partial image takes, as a real model would.
    """
    control = control or StandinControl()

    async def edits(request: Request) -> Response:
        return await _handle(request, "image_edit")

    async def generations(request: Request) -> Response:
        return await _handle(request, "image_generation")

    async def _handle(request: Request, kind: str) -> Response:
        request_id = f"req_{uuid.uuid4().hex}"
        raw = await request.body()
        try:
            fields, files = _parsed_form(request.headers.get("content-type", ""), raw, kind)
        except _InvalidRequest as invalid:
            control.record(request)
            return _invalid(invalid, request_id)
        model = fields.get("model") or (
            DEFAULT_EDIT_MODEL if kind == "image_edit" else DEFAULT_GENERATION_MODEL
        )
        control.record(request, model=model)
        refusal = _authentication_refusal(request.headers.get("authorization"), api_key)
        if refusal is not None:
            return _error(401, *refusal, request_id=request_id)
        try:
            job = _validated(kind, model, fields, files)
        except _InvalidRequest as invalid:
            return _invalid(invalid, request_id)
        return await _answer(control.next_outcome(), job, request_id, seconds_per_partial, control)

    async def retrieve_model(request: Request) -> Response:
        request_id = f"req_{uuid.uuid4().hex}"
        model = request.path_params["model"]
        control.record(request, model=model)
        refusal = _authentication_refusal(request.headers.get("authorization"), api_key)
        if refusal is not None:
            return _error(401, *refusal, request_id=request_id)
        outcome = control.probe_outcome()
        if "status" in outcome:
            return scripted_response(outcome, request_id)
        try:
            _check_model(model)
        except _InvalidRequest:
            # Only image models are played here; any other is as unknown as a retired one.
            return _error(
                404,
                "invalid_request_error",
                "model_not_found",
                f"The model `{model}` does not exist or you do not have access to it.",
                request_id=request_id,
            )
        return JSONResponse(_model_json(model), headers=_headers(request_id))

    routes = [
        Route("/v1/models/{model}", retrieve_model, methods=["GET"]),
        Route("/v1/images/edits", edits, methods=["POST"]),
        Route("/v1/images/generations", generations, methods=["POST"]),
    ]
    return Starlette(routes=[*routes, *control_routes(control)])


async def _answer(
    outcome: dict[str, Any],
    job: _Job,
    request_id: str,
    seconds_per_partial: float,
    control: StandinControl,
) -> Response:
    if "status" in outcome:
        return scripted_response(outcome, request_id)
    if "delay_s" in outcome:
        await asyncio.sleep(float(outcome["delay_s"]))
    kind = outcome.get("outcome")
    if kind == "slow_start":
        await asyncio.sleep(float(outcome["s"]))
    if kind == "moderation":
        return openai_error(
            400,
            "image_generation_user_error",
            "moderation_blocked",
            MODERATION_MESSAGE.format(request_id=request_id),
            request_id=request_id,
            extra={"moderation_details": {"moderation_stage": "output", "categories": ["sexual"]}},
        )
    aborted = kind == "aborted"
    if aborted and not job.stream:
        return _error(500, *DEFAULT_ERRORS[500], request_id=request_id)
    started = time.monotonic()
    images = await run_in_threadpool(_render, job)
    headers = _headers(request_id, processing_ms=round((time.monotonic() - started) * 1000))
    if job.stream:
        events = _stream_events(
            job,
            images,
            aborted=aborted,
            seconds_per_partial=seconds_per_partial,
            bill=lambda usage, partials: _bill(control, request_id, job, usage, partials),
        )
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)
    answer = images_response(job, images.finals)
    _bill(control, request_id, job, answer["usage"], 0)
    return JSONResponse(answer, headers=headers)


def _bill(
    control: StandinControl,
    request_id: str,
    job: _Job,
    usage: Mapping[str, Any] | None,
    partials_sent: int,
) -> None:
    """What OpenAI bills: the answer's usage tokens at the model's token prices; a stream that
    broke off before its completed event (which alone carries usage), the previews it sent."""
    rates = TOKEN_PRICES.get(job.model, TOKEN_PRICES["gpt-image-2"])
    if usage is not None:
        details = usage["input_tokens_details"]
        usd = (
            details["text_tokens"] * rates.text_in
            + details["image_tokens"] * rates.image_in
            + usage["output_tokens"] * rates.image_out
        ) / 1_000_000
        control.bill(
            request_id,
            model=job.model,
            usd=usd,
            basis="usage_tokens",
            input_text_tokens=details["text_tokens"],
            input_image_tokens=details["image_tokens"],
            output_tokens=usage["output_tokens"],
        )
    elif partials_sent:
        tokens = partials_sent * PARTIAL_IMAGE_TOKENS
        control.bill(
            request_id,
            model=job.model,
            usd=tokens * rates.image_out / 1_000_000,
            basis="partial_images",
            partial_images=partials_sent,
            output_tokens=tokens,
        )


@dataclass(frozen=True)
class _Rendered:
    finals: list[Image.Image]
    partials: list[Image.Image]  # of the first image, faintest first


def _render(job: _Job) -> _Rendered:
    finals = [_draw(job, job.seed + index) for index in range(job.n)]
    paper = ImageOps.pad(job.sketch, (job.width, job.height), color=(255, 255, 255))
    steps = job.partial_images + 1
    partials = [
        Image.blend(paper, finals[0], (index + 1) / steps) for index in range(job.partial_images)
    ]
    return _Rendered(finals, partials)


def _draw(job: _Job, seed: int) -> Image.Image:
    # The renderer draws at most RENDER_MAX_SIDE a side; bigger sizes are scaled up after.
    scale = min(1.0, RENDER_MAX_SIDE / max(job.width, job.height))
    image = render_sketch(
        job.sketch,
        job.prompt,
        seed=seed,
        steps=RENDER_STEPS,
        strength=RENDER_STRENGTH,
        width=max(RENDER_MIN_SIDE, round(job.width * scale)),
        height=max(RENDER_MIN_SIDE, round(job.height * scale)),
    )
    if image.size != (job.width, job.height):
        image = image.resize((job.width, job.height), Image.Resampling.LANCZOS)
    return image


async def _stream_events(
    job: _Job,
    images: _Rendered,
    *,
    aborted: bool,
    seconds_per_partial: float,
    bill: Callable[[Mapping[str, Any] | None, int], None],
) -> AsyncIterator[bytes]:
    common = {
        "size": job.size,
        "quality": job.quality,
        "background": job.background,
        "output_format": job.output_format,
    }
    sent = 0
    try:
        for index, partial in enumerate(images.partials):
            await asyncio.sleep(seconds_per_partial)
            yield sse_event(
                f"{job.kind}.partial_image",
                {
                    "type": f"{job.kind}.partial_image",
                    "b64_json": _encoded(partial, job),
                    "created_at": int(clock.epoch_seconds()),
                    **common,
                    "partial_image_index": index,
                },
            )
            sent += 1
            if aborted:
                break
    except (asyncio.CancelledError, GeneratorExit):
        # The client closed the stream (a canceled job: OpenAI has no cancel call). [?] What
        # OpenAI bills then is not documented; the stand-in bills the previews it sent, as
        # for a stream that broke off.
        bill(None, sent)
        raise
    if aborted:
        bill(None, min(1, len(images.partials)))
        # The spec's ErrorEvent: ``data`` is a bare Error object. [?] The images API's real
        # mid-stream error payload is not documented.
        yield sse_event("error", _error_body(*DEFAULT_ERRORS[500], param=None))
        return
    await asyncio.sleep(seconds_per_partial)
    bill(_usage(job), 0)
    for final in images.finals:
        yield sse_event(
            f"{job.kind}.completed",
            {
                "type": f"{job.kind}.completed",
                "b64_json": _encoded(final, job),
                "created_at": int(clock.epoch_seconds()),
                **common,
                "size": _size_of(final),
                "usage": _usage(job),
            },
        )


def sse_event(event: str, data: Mapping[str, Any]) -> bytes:
    """One server-sent event as the spec frames it: an ``event:`` line, a ``data:`` line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def images_response(job: _Job, finals: list[Image.Image]) -> dict[str, Any]:
    """The non-streaming answer (``ImagesResponse``): GPT image models always send base64."""
    return {
        "created": int(clock.epoch_seconds()),
        "data": [{"b64_json": _encoded(image, job)} for image in finals],
        "background": "transparent" if job.background == "transparent" else "opaque",
        "output_format": job.output_format,
        "size": _size_of(finals[0]),
        "quality": _resolved_quality(job.quality),
        "usage": _usage(job),
    }


def _usage(job: _Job) -> dict[str, Any]:
    text_tokens = max(1, len(job.prompt) // 4)
    image_in = INPUT_IMAGE_TOKENS * job.input_images
    per_image = OUTPUT_TOKENS_1024[_resolved_quality(job.quality)] * job.width * job.height
    image_out = round(per_image / (1024 * 1024)) * job.n + PARTIAL_IMAGE_TOKENS * (
        job.partial_images if job.stream else 0
    )
    return {
        "input_tokens": text_tokens + image_in,
        "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_in},
        "output_tokens": image_out,
        "output_tokens_details": {"image_tokens": image_out, "text_tokens": 0},
        "total_tokens": text_tokens + image_in + image_out,
    }


def _resolved_quality(quality: str) -> str:
    return RESOLVED_AUTO_QUALITY if quality == "auto" else quality


def _size_of(image: Image.Image) -> str:
    return f"{image.width}x{image.height}"


def _encoded(image: Image.Image, job: _Job) -> str:
    buffer = io.BytesIO()
    image_format = OUTPUT_FORMATS[job.output_format]
    options: dict[str, Any] = {}
    if image_format != "PNG":
        options["quality"] = max(1, job.output_compression)
    image.save(buffer, format=image_format, **options)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# --- the request -----------------------------------------------------------------------------


def _parsed_form(content_type: str, raw: bytes, kind: str) -> tuple[dict[str, str], list[bytes]]:
    """(text fields, image files): multipart for edits, JSON for generations."""
    if kind == "image_generation":
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _InvalidRequest(
                "We could not parse the JSON body of your request.", param=None, code=None
            ) from None
        if not isinstance(body, dict):
            raise _InvalidRequest("The body must be a JSON object.", param=None, code=None)
        return {key: _form_text(value) for key, value in body.items()}, []
    boundary = _boundary(content_type)
    fields: dict[str, str] = {}
    files: list[bytes] = []
    for headers, content in _multipart_parts(raw, boundary):
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        if name in ("image", "image[]"):
            files.append(content)
        elif headers.get_filename() is None:
            fields[name] = content.decode("utf-8", errors="replace")
    return fields, files


def _form_text(value: Any) -> str:
    # JSON values become what the multipart form would carry: lowercase booleans, plain numbers.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _boundary(content_type: str) -> bytes:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or match is None:
        raise _InvalidRequest(
            "Invalid Content-Type header (expected multipart/form-data).", param=None, code=None
        )
    return match.group(1).encode("latin-1")


def _multipart_parts(raw: bytes, boundary: bytes) -> list[tuple[Message, bytes]]:
    """The parts of a multipart/form-data body, each (headers, exact content bytes)."""
    parts: list[tuple[Message, bytes]] = []
    for chunk in raw.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, separator, content = chunk.partition(b"\r\n\r\n")
        if not separator:
            continue
        headers = BytesHeaderParser().parsebytes(head.lstrip(b"\r\n") + b"\r\n\r\n")
        parts.append((headers, content.removesuffix(b"\r\n")))
    return parts


def _authentication_refusal(
    authorization: str | None, api_key: str | None
) -> tuple[str, str | None, str] | None:
    """(type, code, message) of OpenAI's 401 for this Authorization header, or None if it passes."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        # [?] code: null for a missing key, as third-party fixtures show.
        return (
            "invalid_request_error",
            None,
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    if api_key is not None and token.strip() != api_key:
        masked = f"{token[:3]}****{token[-4:]}" if len(token) > 8 else "****"
        return (
            "invalid_request_error",
            "invalid_api_key",
            f"Incorrect API key provided: {masked}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
        )
    return None


def _validated(kind: str, model: str, fields: Mapping[str, str], files: list[bytes]) -> _Job:
    _check_model(model)
    prompt = fields.get("prompt", "")
    if not prompt:
        raise _InvalidRequest("Missing required parameter: 'prompt'.", param="prompt", code=None)
    if len(prompt) > MAX_PROMPT_CHARS:
        raise _InvalidRequest(
            f"Invalid 'prompt': string too long. Expected a string with maximum length "
            f"{MAX_PROMPT_CHARS}, but got a string with length {len(prompt)} instead.",
            param="prompt",
            code="string_above_max_length",
        )
    if kind == "image_edit":
        if not files:
            raise _InvalidRequest("Missing required parameter: 'image'.", param="image", code=None)
        if len(files) > MAX_IMAGES:
            raise _invalid_value("image", f"{len(files)} images", f"at most {MAX_IMAGES}")
        sketch = _decoded_image(files[0])
    else:
        sketch = Image.new("RGB", (1024, 1024), (255, 255, 255))
    size = fields.get("size") or "auto"
    width, height = _dimensions(model, size, sketch.size)
    quality = fields.get("quality") or "auto"
    qualities = QUALITIES + (EXTRA_QUALITIES if model.startswith("gpt-image-2.5") else ())
    if quality not in qualities:
        raise _invalid_value("quality", quality, _listed(qualities))
    output_format = fields.get("output_format") or "png"
    if output_format not in OUTPUT_FORMATS:
        raise _invalid_value("output_format", output_format, _listed(tuple(OUTPUT_FORMATS)))
    background = fields.get("background") or "auto"
    if background not in BACKGROUNDS:
        raise _invalid_value("background", background, _listed(BACKGROUNDS))
    n = _integer(fields, "n", default=1, low=1, high=10)
    partial_images = _integer(fields, "partial_images", default=0, low=0, high=MAX_PARTIAL_IMAGES)
    stream = fields.get("stream", "false").lower() == "true"
    compression = _integer(fields, "output_compression", default=100, low=0, high=100)
    # No seed in this API: the same sketch and prompt draw the same picture here.
    seed = zlib.crc32(files[0] if files else b"") ^ zlib.crc32(prompt.encode())
    return _Job(
        kind=kind,
        model=model,
        prompt=prompt,
        sketch=sketch,
        input_images=len(files),
        size=size,
        width=width,
        height=height,
        quality=quality,
        n=n,
        stream=stream,
        partial_images=partial_images if stream else 0,
        output_format=output_format,
        output_compression=compression,
        background=background,
        seed=seed,
    )


def _model_json(model: str) -> dict[str, Any]:
    """The spec's ``Model``; ``shutdown_date`` is null unless a shutdown is announced."""
    shutdown = SHUT_DOWN.get(model)
    return {
        "id": model,
        "object": "model",
        "created": MODEL_CREATED,
        "owned_by": "system",
        "shutdown_date": shutdown.isoformat() if shutdown else None,
    }


def _check_model(model: str) -> None:
    stopped = SHUT_DOWN.get(model)
    if stopped is not None and clock.today() >= stopped:
        # [?] what the live API answers for a retired model is not documented; this is the
        # usual answer for a model that does not exist.
        raise _InvalidRequest(
            f"The model `{model}` does not exist or you do not have access to it.",
            param=None,
            code="model_not_found",
            status=404,
        )
    if not model.startswith(("gpt-image-", "chatgpt-image-")):
        raise _invalid_value("model", model, "a GPT image model")


def _dimensions(model: str, size: str, input_size: tuple[int, int]) -> tuple[int, int]:
    if size == "auto":
        # [?] "auto" here picks the standard size nearest the input's aspect.
        return _nearest_standard(input_size)
    if size in STANDARD_SIZES:
        width, height = (int(side) for side in size.split("x"))
        return width, height
    match = re.fullmatch(r"(\d+)x(\d+)", size)
    if not model.startswith("gpt-image-2") or match is None:
        raise _invalid_value("size", size, _listed((*STANDARD_SIZES, "auto")))
    width, height = int(match.group(1)), int(match.group(2))
    long_side, short_side = max(width, height), min(width, height)
    if (
        short_side == 0
        or width % FREE_SIZE_MULTIPLE
        or height % FREE_SIZE_MULTIPLE
        or long_side / short_side > FREE_SIZE_MAX_RATIO
        or long_side > FREE_SIZE_MAX_LONG
        or short_side > FREE_SIZE_MAX_SHORT
    ):
        # [?] wording: the SDK documents the rule, not the message.
        raise _InvalidRequest(
            f"Invalid value: '{size}'. Width and height must both be divisible by 16, the aspect "
            "ratio must be between 1:3 and 3:1 and the size at most 3840x2160.",
            param="size",
            code="invalid_value",
        )
    return width, height


def _nearest_standard(input_size: tuple[int, int]) -> tuple[int, int]:
    aspect = input_size[0] / input_size[1]
    sizes = [tuple(int(side) for side in size.split("x")) for size in STANDARD_SIZES]
    width, height = min(sizes, key=lambda wh: abs(math.log(wh[0] / wh[1] / aspect)))
    return width, height


def _integer(fields: Mapping[str, str], name: str, *, default: int, low: int, high: int) -> int:
    text = fields.get(name)
    if text is None or text in ("", "null"):
        return default
    try:
        value = int(text)
    except ValueError:
        raise _invalid_value(name, text, "an integer") from None
    if not low <= value <= high:
        raise _InvalidRequest(
            f"Invalid '{name}': integer {'below minimum' if value < low else 'above maximum'} "
            f"value. Expected a value between {low} and {high}, but got {value} instead.",
            param=name,
            code="integer_below_min_value" if value < low else "integer_above_max_value",
        )
    return value


def _invalid_value(param: str, value: str, supported: str) -> _InvalidRequest:
    # The observed form: "Invalid value: '512x512'. Supported values are: '1024x1024', ...".
    return _InvalidRequest(
        f"Invalid value: '{value}'. Supported values are: {supported}.",
        param=param,
        code="invalid_value",
    )


def _listed(values: tuple[str, ...]) -> str:
    quoted = [f"'{value}'" for value in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _decoded_image(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError):
        # [?] code: the documented constraint is "png, webp or jpg", not the error it gives.
        raise _InvalidRequest(
            "Invalid image file or mode for image 1, please check your image file.",
            param="image",
            code="invalid_image_format",
        ) from None
    if image.format not in ("PNG", "JPEG", "WEBP"):
        raise _invalid_value(
            "image", f"image/{(image.format or 'unknown').lower()}", "png, webp, jpg"
        )
    if image.mode in ("RGBA", "LA", "P"):
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")


# --- errors ----------------------------------------------------------------------------------


def openai_error(
    status: int,
    error_type: str,
    code: str | None,
    message: str,
    *,
    request_id: str,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """``{"error": {"message", "type", "param", "code"}}`` with its status and ``x-request-id``."""
    body = {**_error_body(error_type, code, message, param=param), **(extra or {})}
    return JSONResponse(
        {"error": body}, status_code=status, headers={**_headers(request_id), **(headers or {})}
    )


def scripted_response(outcome: Mapping[str, Any], request_id: str) -> Response:
    """Exactly the scripted status, headers and body; an error with no body gets OpenAI's."""
    status = int(outcome["status"])
    headers = {str(name): str(value) for name, value in outcome.get("headers", {}).items()}
    body = outcome.get("body")
    if body is None and status >= 400:
        error_type, code, message = _default_error(status)
        body = {"error": _error_body(error_type, code, message, param=None)}
    return JSONResponse(
        body if body is not None else {},
        status_code=status,
        headers={**_headers(request_id), **headers},
    )


def _default_error(status: int) -> tuple[str, str | None, str]:
    if status in DEFAULT_ERRORS:
        return DEFAULT_ERRORS[status]
    return DEFAULT_ERRORS[500] if status >= 500 else DEFAULT_ERRORS[400]


def _error(
    status: int, error_type: str, code: str | None, message: str, *, request_id: str
) -> Response:
    return openai_error(status, error_type, code, message, request_id=request_id)


def _invalid(invalid: _InvalidRequest, request_id: str) -> Response:
    return openai_error(
        invalid.status,
        "invalid_request_error",
        invalid.code,
        invalid.message,
        param=invalid.param,
        request_id=request_id,
    )


def _error_body(
    error_type: str, code: str | None, message: str, *, param: str | None
) -> dict[str, Any]:
    return {"message": message, "type": error_type, "param": param, "code": code}


def _headers(request_id: str, *, processing_ms: int = 1) -> dict[str, str]:
    return {
        "x-request-id": request_id,
        "openai-version": "2020-10-01",
        "openai-processing-ms": str(processing_ms),
        "openai-organization": "org-standin",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4020)
    parser.add_argument("--api-key", default=None, help="the only key accepted (default: any)")
    parser.add_argument(
        "--seconds-per-partial", type=float, default=0.0, help="pace of streamed previews"
    )
    arguments = parser.parse_args()
    app = create_app(api_key=arguments.api_key, seconds_per_partial=arguments.seconds_per_partial)
    server = BackgroundServer(app, listen(arguments.port))
    server.start()
    print(f"OpenAI stand-in on http://127.0.0.1:{server.port}  (OPENAI_BASE_URL=…/v1)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
