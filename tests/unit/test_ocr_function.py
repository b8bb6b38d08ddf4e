"""The OCR function (functions/ocr/app.py): a PNG in, the words on it and where they are out."""

from __future__ import annotations

import base64
import importlib.util
import io
import logging
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

OCR_APP = Path(__file__).resolve().parents[2] / "functions" / "ocr" / "app.py"
MODEL = "PP-OCRv4 (rapidocr-onnxruntime 1.4.4)"


def _why_the_model_cannot_run() -> str | None:
    # Importing, not just finding, the package: opencv-python (rapidocr's declared cv2) is
    # installed but fails to import on machines without libGL.
    try:
        importlib.import_module("rapidocr_onnxruntime")
    except ImportError as exc:
        return (
            f"the OCR function's model cannot run here ({exc}); install its pins with "
            "pip install --no-deps -r functions/ocr/requirements.txt"
        )
    return None


MODEL_UNAVAILABLE = _why_the_model_cannot_run()
needs_model = pytest.mark.skipif(MODEL_UNAVAILABLE is not None, reason=MODEL_UNAVAILABLE or "")


def _fresh_ocr_app() -> ModuleType:
    """functions/ocr/app.py as a new container would load it: its own module, no model yet."""
    spec = importlib.util.spec_from_file_location(f"ocr_app_{uuid.uuid4().hex}", OCR_APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ocr_app() -> ModuleType:
    return _fresh_ocr_app()


def _png(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _labelled_sketch() -> Image.Image:
    """A pencil-like drawing (a balloon on a string) with two labels beside it."""
    image = Image.new("RGB", (800, 480), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((420, 60, 620, 300), outline=(30, 30, 30), width=5)
    draw.line((520, 300, 500, 440), fill=(30, 30, 30), width=4)
    draw.text((60, 80), "BALLOON", fill=(20, 20, 20), font=ImageFont.load_default(size=56))
    draw.text((60, 300), "red", fill=(40, 60, 190), font=ImageFont.load_default(size=48))
    return image


def _invoke(module: ModuleType, event: Any) -> dict[str, Any]:
    result: dict[str, Any] = module.lambda_handler(event, None)
    return result


@needs_model
def test_reads_the_words_written_beside_a_drawing(ocr_app: ModuleType) -> None:
    result = _invoke(ocr_app, {"png_base64": _png(_labelled_sketch())})

    assert result["model"] == MODEL
    words = [region["text"].strip().lower() for region in result["regions"]]
    assert "balloon" in words
    assert "red" in words
    balloon = next(r for r in result["regions"] if r["text"].strip().lower() == "balloon")
    left, top, right, bottom = balloon["box"]
    # Where the word was written, not over the drawing to its right.
    assert 30 <= left < 100 and 60 <= top < 120 and 250 < right < 420 and bottom < 180
    assert 0.5 <= balloon["score"] <= 1.0


@needs_model
def test_answers_top_to_bottom_with_boxes_inside_the_image(ocr_app: ModuleType) -> None:
    result = _invoke(ocr_app, {"png_base64": _png(_labelled_sketch())})

    boxes = [region["box"] for region in result["regions"]]
    assert boxes == sorted(boxes, key=lambda box: (box[1], box[0]))
    for left, top, right, bottom in boxes:
        assert 0 <= left < right <= 800 and 0 <= top < bottom <= 480


@needs_model
def test_a_drawing_without_words_has_no_regions(ocr_app: ModuleType) -> None:
    image = Image.new("RGB", (400, 400), "white")
    ImageDraw.Draw(image).ellipse((80, 80, 320, 320), outline="black", width=6)

    result = _invoke(ocr_app, {"png_base64": _png(image)})

    assert result == {"regions": [], "model": MODEL}


@needs_model
def test_loads_the_model_on_the_first_invocation_and_only_then(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)

    def loads() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "loaded the OCR models" in r.getMessage()]

    module = _fresh_ocr_app()
    assert not loads(), "importing the handler must not load the model"

    event = {"png_base64": _png(_labelled_sketch())}
    first = _invoke(module, event)
    second = _invoke(module, event)

    assert len(loads()) == 1
    assert first == second


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"png_base64": ""},
        {"png_base64": 42},
        {"png_base64": "not base64 at all!"},
        {"png_base64": base64.b64encode(b"GIF89a" + b"\0" * 64).decode()},
        "a string, not an object",
    ],
    ids=["missing", "empty", "not-a-string", "not-base64", "not-a-png", "not-an-object"],
)
def test_refuses_an_event_without_a_readable_png(ocr_app: ModuleType, event: Any) -> None:
    with pytest.raises(ocr_app.InvalidOcrRequestError):
        ocr_app.lambda_handler(event, None)


def test_refuses_a_jpeg_even_when_it_is_a_fine_image(ocr_app: ModuleType) -> None:
    buffer = io.BytesIO()
    _labelled_sketch().save(buffer, format="JPEG")

    with pytest.raises(ocr_app.InvalidOcrRequestError, match="not a readable PNG"):
        ocr_app.lambda_handler({"png_base64": base64.b64encode(buffer.getvalue()).decode()}, None)


def test_refuses_a_huge_image_before_decoding_its_pixels(ocr_app: ModuleType) -> None:
    # 5000x5000 of white compresses to a few kilobytes; its pixels would be 75 MB.
    huge = Image.new("L", (5000, 5000), 255)

    with pytest.raises(ocr_app.InvalidOcrRequestError, match="too large"):
        ocr_app.lambda_handler({"png_base64": _png(huge)}, None)


def test_refuses_a_payload_larger_than_lambda_accepts(ocr_app: ModuleType) -> None:
    oversized = "A" * (ocr_app.MAX_PNG_BASE64_CHARS + 4)

    with pytest.raises(ocr_app.InvalidOcrRequestError, match="larger than"):
        ocr_app.lambda_handler({"png_base64": oversized}, None)
