"""Read the words on a preprocessed sketch: PP-OCRv4 through rapidocr-onnxruntime.

This function runs on its own runtime (python3.12, Amazon Linux 2023) with its own
dependencies (requirements.txt, built by the Makefile here) and without the sketchbridge
layers: the onnxruntime wheels that work beside NumPy 2 need a newer glibc than the
python3.11 runtime has (docs/preprocessing.md). So it imports nothing from sketchbridge.

    event  {"png_base64": "<PNG bytes, base64>"}
    result {"regions": [{"box": [left, top, right, bottom], "text": "TURTLE", "score": 0.93}],
            "model": "PP-OCRv4 (rapidocr-onnxruntime 1.4.4)"}

Boxes are in pixels of the image sent, right and bottom exclusive, sorted top to bottom then
left to right. A request this function cannot read raises ``InvalidOcrRequestError``, which
Lambda reports to the caller as a function error.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import math
import threading
import time
from importlib import metadata
from typing import Any

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

# Lambda's synchronous request limit is 6 MB; nothing larger can arrive, so nothing larger
# is worth decoding. The sketches sent are about 1 MB at most.
MAX_PNG_BASE64_CHARS = 6 * 1024 * 1024
# Checked from the PNG header before any pixel is decoded (the sketchbridge decoder's caps).
MAX_SIDE = 4096
MAX_PIXELS = 16 * 1024 * 1024

# The models, loaded by the first invocation of each container (not at import).
_engine: Any = None
_engine_lock = threading.Lock()


class InvalidOcrRequestError(ValueError):
    """The event carries no PNG this function will read."""


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    image = decode_png(event.get("png_base64") if isinstance(event, dict) else None)
    started = time.perf_counter()
    regions = read_text(image)
    logger.info(
        "read %d text regions on a %dx%d image in %.0f ms",
        len(regions),
        image.width,
        image.height,
        (time.perf_counter() - started) * 1000,
    )
    return {"regions": regions, "model": model_name()}


def decode_png(png_base64: Any) -> Image.Image:
    """The RGB image in the event; only a PNG of bounded size is decoded."""
    if not isinstance(png_base64, str) or not png_base64:
        raise InvalidOcrRequestError("png_base64 must be a non-empty string")
    if len(png_base64) > MAX_PNG_BASE64_CHARS:
        raise InvalidOcrRequestError("png_base64 is larger than a Lambda request can be")
    try:
        data = base64.b64decode(png_base64, validate=True)
        image = Image.open(io.BytesIO(data), formats=("PNG",))
        width, height = image.size
        if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
            raise InvalidOcrRequestError(f"a {width}x{height} image is too large to read")
        image.load()
    except (binascii.Error, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, InvalidOcrRequestError):
            raise
        raise InvalidOcrRequestError(f"png_base64 is not a readable PNG: {exc}") from exc
    return image.convert("RGB")


def read_text(image: Image.Image) -> list[dict[str, Any]]:
    """Every line of text the model finds, as a box, the words and the model's confidence."""
    result, _elapsed = ocr_engine()(np.asarray(image))
    regions = []
    for points, words, score in result or ():
        xs = [float(point[0]) for point in points]
        ys = [float(point[1]) for point in points]
        box = [
            max(0, math.floor(min(xs))),
            max(0, math.floor(min(ys))),
            min(image.width, math.ceil(max(xs))),
            min(image.height, math.ceil(max(ys))),
        ]
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        regions.append({"box": box, "text": str(words), "score": round(float(score), 3)})
    return sorted(regions, key=lambda region: (region["box"][1], region["box"][0]))


def model_name() -> str:
    # From the installed package, so the name (which feeds the cache fingerprint) changes
    # whenever the pinned model package does.
    return f"PP-OCRv4 (rapidocr-onnxruntime {metadata.version('rapidocr-onnxruntime')})"


def ocr_engine() -> Any:
    """The detection, orientation and recognition models, loaded once per container."""
    global _engine
    with _engine_lock:
        if _engine is None:
            # Imported here, not at module level: onnxruntime and three models take most of
            # a second to load, which belongs to the first invocation, not to the import.
            from rapidocr_onnxruntime import RapidOCR

            started = time.perf_counter()
            _engine = RapidOCR()
            logger.info("loaded the OCR models in %.0f ms", (time.perf_counter() - started) * 1000)
        return _engine
