"""A stand-in for Amazon Bedrock's runtime API, serving Stability AI's Control Sketch model.

It answers ``InvokeModel`` as bedrock-runtime's REST-JSON protocol does, so boto3 runs its
real code path against it (point it here with ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``):

    POST /model/{modelId}/invoke     body: the model's own JSON (raw bytes, not wrapped)
    GET  /foundation-models/{modelIdentifier}   the control plane's GetFoundationModel
                                     (``bedrock``, not ``bedrock-runtime``: reach it with
                                     ``AWS_ENDPOINT_URL_BEDROCK``), what the health probe calls:
                                     200 {"modelDetails": {...}} for a served model, else 404
                                     ``ResourceNotFoundException``; down, 503

    200  {"seeds": [n], "finish_reasons": [null], "images": ["<base64>"]}
    200  {"finish_reasons": ["Filter reason: prompt"]}          the content filter refused
    4xx/5xx  header ``x-amzn-ErrorType: <Code>:http://internal.amazon.com/coral/...``
             body ``{"message": "..."}``: botocore raises ``client.exceptions.<Code>``

Sources: the AWS Bedrock user guide ("Stability AI Image Services", request and response),
Stability's v2beta Control Sketch contract (``../shared/providers/stability.md``) and the
botocore 1.44.8 ``bedrock-runtime`` service model (error codes and statuses). The output has
the input image's size, as Stability documents for Control Sketch.

Every request must carry a SigV4 ``Authorization`` header; any credentials are accepted.
The control API (``local/standins/control.py``) scripts outcomes: ``moderation`` (optionally
``"reason": "output image"``) answers 200 with a filter reason; ``aborted`` is a 500
``InternalServerException``; ``slow_start`` holds the answer for ``s`` seconds; ``status``
answers exactly what was scripted, filling in only a missing ``x-amzn-ErrorType`` header and
body with what Bedrock sends for that status, so botocore still recognises the error.

Run alone: ``python -m local.standins.bedrock --port 4010``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import io
import json
import random
import time
import uuid
from collections.abc import Mapping
from typing import Any

from PIL import Image, UnidentifiedImageError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from local.server import BackgroundServer, listen
from local.standins.control import StandinControl, control_routes
from sketchbridge.providers.bedrock import BedrockConfig
from sketchbridge.providers.local_renderer import MAX_SIDE as RENDER_MAX_SIDE
from sketchbridge.providers.local_renderer import render_sketch

# Stability's limits for the Control Sketch input image (stability.md).
MIN_IMAGE_SIDE = 64
MAX_IMAGE_PIXELS = 9_437_184
MAX_ASPECT = 2.5
MAX_PROMPT_CHARS = 10_000
MAX_SEED = 4_294_967_294
ACCEPTED_KEYS = frozenset(
    {"prompt", "image", "control_strength", "negative_prompt", "seed", "output_format"}
)
OUTPUT_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
# The model has no steps parameter; the renderer needs one.
RENDER_STEPS = 20

# What Bedrock sends for each status when a script names only the status.
DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("ValidationException", "Malformed input request, please reformat your input."),
    403: ("AccessDeniedException", "You don't have access to the model with this model ID."),
    404: ("ResourceNotFoundException", "Could not resolve the foundation model."),
    408: ("ModelTimeoutException", "Model has timed out in processing the request."),
    424: ("ModelErrorException", "The model encountered an error processing the request."),
    429: ("ThrottlingException", "Too many requests, please wait before trying again."),
    500: ("InternalServerException", "The server encountered an internal error."),
    503: ("ServiceUnavailableException", "Bedrock is unable to process your request."),
}
FALLBACK_ERROR = ("InternalServerException", "The server encountered an error.")
_CORAL = "http://internal.amazon.com/coral/com.amazon.bedrock/"
# The stand-in's own price per image delivered (never Sketchbridge's table): pricing.md:58
# "Stability control sketch via Bedrock (stability.stable-image-control-sketch-v1:0) |
# $0.07 / image".
USD_PER_IMAGE = {"stability.stable-image-control-sketch-v1:0": 0.07}
DEFAULT_USD_PER_IMAGE = 0.07


def create_app(
    control: StandinControl | None = None, *, models: frozenset[str] | None = None
) -> Starlette:
    """The stand-in as an ASGI app; ``control`` lets a test script it and read its log.

    It serves ``models`` (default: the model the Bedrock adapter is configured with).
    """
    control = control or StandinControl()
    served = models if models is not None else frozenset({BedrockConfig().model_id})

    async def invoke(request: Request) -> Response:
        model_id = request.path_params["model_id"]
        control.record(request, model=model_id)
        refusal = _authentication_refusal(request.headers)
        if refusal is not None:
            return refusal
        if model_id not in served:
            return bedrock_error(
                400, "ValidationException", "The provided model identifier is invalid."
            )
        try:
            body = _parsed_body(await request.body())
            sketch = _decoded_image(body["image"])
        except _MalformedInput as malformed:
            return bedrock_error(400, "ValidationException", str(malformed))
        return await _answer(control.next_outcome(), body, sketch, control, model_id)

    async def get_foundation_model(request: Request) -> Response:
        model_id = request.path_params["model_id"]
        control.record(request, model=model_id)
        refusal = _authentication_refusal(request.headers)
        if refusal is not None:
            return refusal
        outcome = control.probe_outcome()
        if "status" in outcome:
            return scripted_response(outcome)
        if model_id not in served:
            return bedrock_error(
                404,
                "ResourceNotFoundException",
                "Could not resolve the foundation model from the provided model identifier.",
            )
        region = _signed_region(request.headers.get("authorization", ""))
        return _json(200, {"modelDetails": foundation_model(model_id, region)})

    routes = [
        Route("/model/{model_id:path}/invoke", invoke, methods=["POST"]),
        Route("/foundation-models/{model_id:path}", get_foundation_model, methods=["GET"]),
    ]
    return Starlette(routes=[*routes, *control_routes(control)])


async def _answer(
    outcome: dict[str, Any],
    body: dict[str, Any],
    sketch: Image.Image,
    control: StandinControl,
    model_id: str,
) -> Response:
    if "status" in outcome:
        return scripted_response(outcome)
    if "delay_s" in outcome:
        await asyncio.sleep(float(outcome["delay_s"]))
    kind = outcome.get("outcome")
    if kind == "slow_start":
        # Bedrock holds the connection while the model works: nothing arrives until it ends.
        await asyncio.sleep(float(outcome["s"]))
    if kind == "moderation":
        reason = str(outcome.get("reason", "prompt"))
        return _json(200, {"finish_reasons": [f"Filter reason: {reason}"]})
    if kind == "aborted":
        return bedrock_error(500, *DEFAULT_ERRORS[500])
    started = time.monotonic()
    image_b64, seed = await run_in_threadpool(_render, body, sketch)
    latency_ms = str(round((time.monotonic() - started) * 1000))
    request_id = str(uuid.uuid4())
    # Bedrock bills the Stability models per image delivered; a filtered answer delivers none.
    control.bill(
        request_id,
        model=model_id,
        usd=USD_PER_IMAGE.get(model_id, DEFAULT_USD_PER_IMAGE),
        basis="per_image",
        images=1,
    )
    return _json(
        200,
        {"seeds": [seed], "finish_reasons": [None], "images": [image_b64]},
        {"X-Amzn-Bedrock-Invocation-Latency": latency_ms, "x-amzn-RequestId": request_id},
    )


def foundation_model(model_id: str, region: str) -> dict[str, Any]:
    """``FoundationModelDetails`` as botocore 1.44.8's ``bedrock`` model shapes it."""
    return {
        "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model_id}",
        "modelId": model_id,
        "modelName": "Stable Image Control Sketch",
        "providerName": "Stability AI",
        "inputModalities": ["TEXT", "IMAGE"],
        "outputModalities": ["IMAGE"],
        "responseStreamingSupported": False,
        "customizationsSupported": [],
        "inferenceTypesSupported": ["ON_DEMAND"],
        "modelLifecycle": {"status": "ACTIVE"},
    }


def _signed_region(authorization: str) -> str:
    """The region in a SigV4 credential scope (``Credential=AKID/date/REGION/service/...``)."""
    scope = authorization.partition("Credential=")[2].split(",")[0].split("/")
    return scope[2] if len(scope) > 2 and scope[2] else "us-west-2"


def bedrock_error(status: int, code: str, message: str) -> Response:
    """An error as bedrock-runtime sends it: the code in a header, the message in the body."""
    return _json(status, {"message": message}, {"x-amzn-ErrorType": f"{code}:{_CORAL}"})


def scripted_response(outcome: Mapping[str, Any]) -> Response:
    """Exactly the scripted status, headers and body; an error keeps botocore's clues."""
    status = int(outcome["status"])
    headers = {str(name): str(value) for name, value in outcome.get("headers", {}).items()}
    body = outcome.get("body")
    if status >= 400:
        code, message = DEFAULT_ERRORS.get(status, FALLBACK_ERROR)
        if not any(name.lower() == "x-amzn-errortype" for name in headers):
            headers["x-amzn-ErrorType"] = f"{code}:{_CORAL}"
        if body is None:
            body = {"message": message}
    return _json(status, body if body is not None else {}, headers)


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse(
        body,
        status_code=status,
        headers={"x-amzn-RequestId": str(uuid.uuid4()), **(headers or {})},
    )


def _authentication_refusal(headers: Mapping[str, str]) -> Response | None:
    """Bedrock's answers to a request that is not SigV4-signed; any signed request passes."""
    authorization = headers.get("authorization")
    if authorization is None:
        return _json(
            403,
            {"message": "Missing Authentication Token"},
            {"x-amzn-ErrorType": "MissingAuthenticationTokenException"},
        )
    if not authorization.startswith("AWS4-HMAC-SHA256 Credential=") or "x-amz-date" not in headers:
        return _json(
            403,
            {"message": "Authorization header requires 'Credential', 'Signature' and a date."},
            {"x-amzn-ErrorType": "IncompleteSignatureException"},
        )
    return None


class _MalformedInput(ValueError):
    """The body breaks the model's input schema; Bedrock answers 400 ValidationException."""


def _malformed(detail: str) -> _MalformedInput:
    return _MalformedInput(
        f"Malformed input request: {detail}, please reformat your input and try again."
    )


def _parsed_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _malformed("#: the body is not JSON") from None
    if not isinstance(body, dict):
        raise _malformed("#: expected type: JSONObject")
    extraneous = sorted(set(body) - ACCEPTED_KEYS)
    if extraneous:
        raise _malformed(f"#: extraneous key [{extraneous[0]}] is not permitted")
    for key in ("prompt", "image"):
        if key not in body:
            raise _malformed(f"#: required key [{key}] not found")
    _check_field(body, "prompt", str, lambda p: 0 < len(p) <= MAX_PROMPT_CHARS)
    _check_field(body, "image", str, lambda image: len(image) > 0)
    _check_field(body, "negative_prompt", str, lambda p: len(p) <= MAX_PROMPT_CHARS)
    _check_field(body, "control_strength", (int, float), lambda s: 0 <= s <= 1)
    _check_field(body, "seed", int, lambda s: 0 <= s <= MAX_SEED)
    _check_field(body, "output_format", str, lambda f: f in OUTPUT_FORMATS)
    return body


def _check_field(body: dict[str, Any], key: str, kind: Any, valid: Any) -> None:
    if key not in body:
        return
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, kind) or not valid(value):
        raise _malformed(f"#/{key}: {value!r} is not a valid value")


def _decoded_image(encoded: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(base64.b64decode(encoded, validate=True)))
        image.load()
    except (binascii.Error, UnidentifiedImageError, OSError):
        raise _malformed("#/image: not a base64-encoded PNG, JPEG or WebP image") from None
    width, height = image.size
    if min(width, height) < MIN_IMAGE_SIDE:
        raise _malformed(f"#/image: every side must be at least {MIN_IMAGE_SIDE} pixels")
    if width * height > MAX_IMAGE_PIXELS:
        raise _malformed(f"#/image: at most {MAX_IMAGE_PIXELS} pixels")
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise _malformed("#/image: the aspect ratio must be between 1:2.5 and 2.5:1")
    return image.convert("RGB")


def _render(body: dict[str, Any], sketch: Image.Image) -> tuple[str, int]:
    # Seed 0 (or none) asks the model to draw one, and the answer says which it drew.
    seed = int(body.get("seed", 0)) or random.randint(1, MAX_SEED)
    control_strength = float(body.get("control_strength", 0.7))
    width, height = sketch.size
    scale = min(1.0, RENDER_MAX_SIDE / max(width, height))
    image = render_sketch(
        sketch,
        str(body["prompt"]),
        seed=seed,
        steps=RENDER_STEPS,
        # A firmer hold on the sketch keeps more of the drawing's own look.
        strength=1.0 - control_strength / 2,
        width=max(MIN_IMAGE_SIDE, round(width * scale)),
        height=max(MIN_IMAGE_SIDE, round(height * scale)),
    )
    if image.size != sketch.size:
        image = image.resize(sketch.size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format=OUTPUT_FORMATS[str(body.get("output_format", "png"))])
    return base64.b64encode(buffer.getvalue()).decode("ascii"), seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4010)
    port = parser.parse_args().port
    server = BackgroundServer(create_app(), listen(port))
    server.start()
    print(f"Bedrock stand-in on http://127.0.0.1:{server.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
