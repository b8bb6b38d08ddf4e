"""Read the words on a sketch with the OCR function; fall back to the heuristic, openly.

The model (PP-OCRv4, rapidocr-onnxruntime) cannot run beside this package's NumPy on the
python3.11 runtime, so it runs as its own function, ``OcrFunction`` (functions/ocr/,
docs/preprocessing.md). ``LambdaTextDetector`` is the ``TextDetector`` that calls it:

    detect(image) ─ PNG, base64 ─ invoke(event) ─ regions with the recognised words
                                       └ any failure ─ HeuristicTextDetector (no words)

Reading is an enhancement, so a failing, slow or unreachable OCR function never fails a
submission. It never hides either: ``name`` says which detector produced the last result,
and the pipeline puts that name in the settings the cache fingerprint hashes, so a
degraded result is never served for a request that the model could have read.

``invoke`` is any callable from the event to the function's result: on AWS
``ocr_function_invoker`` (boto3 ``lambda.invoke``); in tests and the local stack, the
handler itself.
"""

from __future__ import annotations

import base64
import io
import json
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config
from PIL import Image

from sketchbridge.preprocessing.text import (
    Box,
    HeuristicTextDetector,
    TextDetector,
    TextRegion,
)

logger = Logger(child=True)

OcrInvoke = Callable[[dict[str, Any]], Mapping[str, Any]]

# Names that end up in the preprocessing settings (and so in the fingerprint).
OCR_FUNCTION_NAME_PREFIX = "ocr-function"
# What the default fallback reports: "<fallback's name> (ocr-function failed)".
FALLBACK_NAME = "heuristic (ocr-function failed)"

# Lambda takes synchronous requests up to 6 MB and base64 grows the PNG by a third; the
# sketches are ~1 MB at most, so only an unusually noisy one is scaled down to fit.
MAX_REQUEST_PNG_BYTES = 4 * 1024 * 1024
# Below this the words would be unreadable anyway; send it and let the model say so.
MIN_SENT_SIDE = 64
# A cold start loads the models in ~1 s; a 1024 px sketch takes ~1.3 s on one core. The
# submit handler's whole budget is 28 s. One attempt only: the fallback is the retry.
OCR_CONNECT_TIMEOUT_SECONDS = 2
OCR_READ_TIMEOUT_SECONDS = 8


class OcrFunctionError(Exception):
    """The OCR function answered with an error or with something that is not its result."""


def ocr_lambda_client() -> Any:
    """A Lambda client whose timeouts fit inside the submit handler's budget."""
    config = Config(
        connect_timeout=OCR_CONNECT_TIMEOUT_SECONDS,
        read_timeout=OCR_READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": 1},
    )
    return boto3.session.Session().client("lambda", config=config)


def ocr_function_invoker(lambda_client: Any, function_name: str) -> OcrInvoke:
    """Invoke the OCR function synchronously through the Lambda API."""

    def invoke(event: dict[str, Any]) -> Mapping[str, Any]:
        response = lambda_client.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode(),
        )
        body = response["Payload"].read()
        if response.get("FunctionError"):
            # Lambda answers 200 with the handler's exception as the payload.
            raise OcrFunctionError(f"{function_name} raised: {body[:500]!r}")
        result = json.loads(body)
        if not isinstance(result, Mapping):
            raise OcrFunctionError(f"{function_name} returned {type(result).__name__}")
        return result

    return invoke


class LambdaTextDetector:
    """Text regions with their words from the OCR function; the heuristic's when it fails."""

    def __init__(
        self,
        invoke: OcrInvoke,
        *,
        fallback: TextDetector | None = None,
        max_request_png_bytes: int = MAX_REQUEST_PNG_BYTES,
    ) -> None:
        self._invoke = invoke
        self._fallback = fallback or HeuristicTextDetector()
        self._max_request_png_bytes = max_request_png_bytes
        # Per thread: the local stack runs submissions concurrently in one process.
        self._last = threading.local()

    @property
    def name(self) -> str:
        """Which detector produced this thread's last result (the model, or the fallback)."""
        return getattr(self._last, "name", OCR_FUNCTION_NAME_PREFIX)

    @property
    def last_failure(self) -> str | None:
        """Why this thread's last detection fell back to the heuristic, if it did."""
        failure: str | None = getattr(self._last, "failure", None)
        return failure

    def detect(self, image: Image.Image) -> tuple[TextRegion, ...]:
        try:
            regions, model = self._read(image)
        except Exception as exc:
            # Reading is an enhancement: whatever failed (a timeout, throttling, a missing
            # function, a crash inside it, a malformed answer), the submission goes on with
            # the heuristic, the settings say so and the log says why.
            failure = f"{type(exc).__name__}: {exc}"[:500]
            logger.warning("OCR function failed; using the heuristic", extra={"error": failure})
            self._last.name = f"{self._fallback.name} ({OCR_FUNCTION_NAME_PREFIX} failed)"
            self._last.failure = failure
            return self._fallback.detect(image)
        self._last.name, self._last.failure = f"{OCR_FUNCTION_NAME_PREFIX} {model}", None
        return regions

    def _read(self, image: Image.Image) -> tuple[tuple[TextRegion, ...], str]:
        sent, scale = _png_within(image, self._max_request_png_bytes)
        result = self._invoke({"png_base64": base64.b64encode(sent).decode("ascii")})
        model = result.get("model")
        raw_regions = result.get("regions")
        if not isinstance(model, str) or not model or not isinstance(raw_regions, list):
            raise OcrFunctionError("the answer has no model name or no list of regions")
        regions = [_region(raw, scale, image.size) for raw in raw_regions]
        ordered = sorted(
            (region for region in regions if region is not None),
            key=lambda region: (region.box[1], region.box[0]),
        )
        return tuple(ordered), model


def _png_within(image: Image.Image, max_bytes: int) -> tuple[bytes, float]:
    """The image as PNG under ``max_bytes``, and the factor from sent pixels to ``image``'s."""
    rgb = image if image.mode in ("L", "RGB") else image.convert("RGB")
    sent = rgb
    while True:
        buffer = io.BytesIO()
        sent.save(buffer, format="PNG", compress_level=6)
        png = buffer.getvalue()
        if len(png) <= max_bytes or max(sent.size) <= MIN_SENT_SIDE:
            return png, rgb.width / sent.width
        # PNG size grows roughly with the pixel count; shrink a little more than that says.
        shrink = max(1.25, math.sqrt(len(png) / max_bytes) * 1.05)
        smaller = (max(1, round(sent.width / shrink)), max(1, round(sent.height / shrink)))
        sent = rgb.resize(smaller, Image.Resampling.LANCZOS)


def _region(raw: Any, scale: float, size: tuple[int, int]) -> TextRegion | None:
    """One region of the answer in the caller's pixels; an unreadable one fails the answer."""
    if not isinstance(raw, Mapping):
        raise OcrFunctionError(f"a region is {type(raw).__name__}, not an object")
    box, text, score = raw.get("box"), raw.get("text"), raw.get("score", 0.0)
    if (
        not isinstance(box, list)
        or len(box) != 4
        or not all(isinstance(value, int | float) and math.isfinite(value) for value in box)
        or not (text is None or isinstance(text, str))
        or not isinstance(score, int | float)
    ):
        raise OcrFunctionError(f"unreadable region: {raw!r}"[:300])
    left, top, right, bottom = (float(value) * scale for value in box)
    width, height = size
    clipped: Box = (
        max(0, math.floor(left)),
        max(0, math.floor(top)),
        min(width, math.ceil(right)),
        min(height, math.ceil(bottom)),
    )
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        return None
    words = (text.strip() or None) if text else None
    return TextRegion(clipped, words, round(float(score), 3))
