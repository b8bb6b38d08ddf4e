"""LambdaTextDetector: text=describe puts the words the OCR function read into the prompt,
and when that function fails the sketch still goes through the heuristic, which says so."""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

from sketchbridge.aws import ocr_detector
from sketchbridge.aws.ocr_detector import (
    FALLBACK_NAME,
    LambdaTextDetector,
    ocr_function_invoker,
    ocr_lambda_client,
)
from sketchbridge.preprocessing.decode import decode_sketch
from sketchbridge.preprocessing.pipeline import PreprocessedSketch, preprocess
from sketchbridge.preprocessing.targets import spec_for
from sketchbridge.preprocessing.text import HeuristicTextDetector

REPO_ROOT = Path(__file__).resolve().parents[2]
SKETCHES = REPO_ROOT.parent / "shared" / "sketches"
OCR_APP = REPO_ROOT / "functions" / "ocr" / "app.py"
MODEL = "PP-OCRv4 (rapidocr-onnxruntime 1.4.4)"
OCR_NAME = f"ocr-function {MODEL}"
FUNCTION_NAME = "sketchbridge-test-OcrFunction"

Answer = Callable[[dict[str, Any]], Mapping[str, Any]]


# ---------------------------------------------------------------- the sketch


def _labelled_turtle_png() -> bytes:
    """The turtle sketch with "TURTLE" written under it, as a user might label it."""
    image = Image.open(SKETCHES / "turtle.png").convert("RGB")
    ImageDraw.Draw(image).text(
        (20, 450), "TURTLE", fill=(20, 20, 20), font=ImageFont.load_default(size=40)
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _describe(detector: LambdaTextDetector) -> PreprocessedSketch:
    return preprocess(
        decode_sketch(_labelled_turtle_png()),
        target=spec_for("local"),
        text_mode="describe",
        text_detector=detector,
    )


def _sent_image(event: dict[str, Any]) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(event["png_base64"])), formats=("PNG",))


def _reads_turtle_under_the_drawing(event: dict[str, Any]) -> Mapping[str, Any]:
    """A stand-in OCR answer: the label where _labelled_turtle_png wrote it (bottom left)."""
    width, height = _sent_image(event).size
    box = [round(0.04 * width), round(0.88 * height), round(0.5 * width), round(0.97 * height)]
    return {"regions": [{"box": box, "text": "TURTLE", "score": 0.99}], "model": MODEL}


def _unreachable(event: dict[str, Any]) -> Mapping[str, Any]:
    raise ConnectionError("could not connect to the endpoint URL")


# ---------------------------------------------------------------- injected invoke


def test_describe_puts_the_recognised_words_in_the_prompt_and_names_the_model() -> None:
    events: list[dict[str, Any]] = []

    def invoke(event: dict[str, Any]) -> Mapping[str, Any]:
        events.append(event)
        return _reads_turtle_under_the_drawing(event)

    prepared = _describe(LambdaTextDetector(invoke))

    assert prepared.prompt_hint == 'labelled "TURTLE"'
    assert prepared.settings["text_detector"] == OCR_NAME
    assert "erase_text_1" in prepared.steps
    # The function saw the sketch at the size the provider will receive.
    (event,) = events
    assert _sent_image(event).size == prepared.size


def test_an_unreachable_function_falls_back_to_the_heuristic_and_says_so() -> None:
    detector = LambdaTextDetector(_unreachable)

    prepared = _describe(detector)

    assert prepared.settings["text_detector"] == FALLBACK_NAME
    # The label is still found and erased, but nobody read it: no words reach the prompt.
    assert "erase_text_1" in prepared.steps
    assert prepared.prompt_hint is None
    assert detector.last_failure is not None
    assert "could not connect" in detector.last_failure


def test_the_fallback_finds_exactly_what_the_heuristic_finds() -> None:
    image = decode_sketch(_labelled_turtle_png()).image

    assert LambdaTextDetector(_unreachable).detect(image) == HeuristicTextDetector().detect(image)


def test_a_fallback_result_never_shares_a_fingerprint_with_a_read_one() -> None:
    read = _describe(LambdaTextDetector(_reads_turtle_under_the_drawing))
    fallen_back = _describe(LambdaTextDetector(_unreachable))

    assert read.settings != fallen_back.settings


@pytest.mark.parametrize(
    "answer",
    [
        {"regions": [], "model": ""},
        {"regions": "TURTLE", "model": MODEL},
        {"regions": [{"box": [1, 2, 3], "text": "TURTLE", "score": 0.9}], "model": MODEL},
        {"regions": [{"box": [1, 2, 30, 40], "text": 7, "score": 0.9}], "model": MODEL},
        {"regions": [["not", "an", "object"]], "model": MODEL},
        {"errorMessage": "Task timed out after 20.00 seconds"},
    ],
    ids=[
        "no-model",
        "regions-not-a-list",
        "three-sided-box",
        "text-not-a-string",
        "not-an-object",
        "lambda-error-body",
    ],
)
def test_an_answer_that_is_not_a_result_falls_back(answer: dict[str, Any]) -> None:
    detector = LambdaTextDetector(lambda event: answer)

    prepared = _describe(detector)

    assert prepared.settings["text_detector"] == FALLBACK_NAME
    assert prepared.prompt_hint is None


def test_each_thread_reports_the_detector_that_produced_its_own_result() -> None:
    # The local stack runs submissions concurrently in one process with one detector.
    def invoke(event: dict[str, Any]) -> Mapping[str, Any]:
        if threading.current_thread().name == "offline":
            raise TimeoutError("read timeout")
        return _reads_turtle_under_the_drawing(event)

    detector = LambdaTextDetector(invoke)
    image = decode_sketch(_labelled_turtle_png()).image
    seen_offline: list[str] = []

    def detect_offline() -> None:
        detector.detect(image)
        seen_offline.append(detector.name)

    detector.detect(image)
    offline = threading.Thread(target=detect_offline, name="offline")
    offline.start()
    offline.join()

    assert seen_offline == [FALLBACK_NAME]
    assert detector.name == OCR_NAME
    assert detector.last_failure is None


def test_a_sketch_too_large_for_a_lambda_request_is_sent_smaller_and_read_in_full_size() -> None:
    # Noise does not compress: at 1024x1024 this PNG is ~3 MB.
    noisy = Image.effect_noise((1024, 1024), 120).convert("RGB")
    sent_sizes: list[tuple[tuple[int, int], int]] = []

    def invoke(event: dict[str, Any]) -> Mapping[str, Any]:
        sent = _sent_image(event)
        sent_sizes.append((sent.size, len(base64.b64decode(event["png_base64"]))))
        width, height = sent.size
        return {
            "regions": [{"box": [0, 0, width, height], "text": "NOISE", "score": 0.6}],
            "model": MODEL,
        }

    budget = 300_000
    regions = LambdaTextDetector(invoke, max_request_png_bytes=budget).detect(noisy)

    ((sent_size, sent_bytes),) = sent_sizes
    assert sent_bytes <= budget
    assert sent_size[0] < 1024
    assert [region.box for region in regions] == [(0, 0, 1024, 1024)]


# ---------------------------------------------------------------- the real model, in process


def test_the_ocr_function_reads_the_label_written_on_a_real_sketch() -> None:
    pytest.importorskip(
        "rapidocr_onnxruntime",
        reason="the OCR function's model cannot run here; install its pins with "
        "pip install --no-deps -r functions/ocr/requirements.txt",
        exc_type=ImportError,
    )
    # What the local stack would wire: LambdaTextDetector → the handler, in this process.
    spec = importlib.util.spec_from_file_location(f"ocr_app_{uuid.uuid4().hex}", OCR_APP)
    assert spec is not None and spec.loader is not None
    ocr_app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ocr_app)

    prepared = _describe(LambdaTextDetector(lambda event: ocr_app.lambda_handler(event, None)))

    assert prepared.prompt_hint == 'labelled "TURTLE"'
    assert prepared.settings["text_detector"] == OCR_NAME


# ---------------------------------------------------------------- through boto3 lambda.invoke


@dataclass
class _LambdaInvokeApi:
    """Plays Lambda's Invoke API (`POST /2015-03-31/functions/<name>/invocations`)."""

    answer: Answer = _reads_turtle_under_the_drawing
    function_error: bool = False
    delay_seconds: float = 0.0
    invoked: list[str] = field(default_factory=list)


class _InvokeHandler(BaseHTTPRequestHandler):
    server: _InvokeServer

    def do_POST(self) -> None:
        api = self.server.api
        api.invoked.append(self.path)
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(api.delay_seconds)
        if api.function_error:
            body = {"errorMessage": "boom", "errorType": "InvalidOcrRequestError"}
        else:
            body = dict(api.answer(event))
        payload = json.dumps(body).encode()
        # In the slow case the client has given up waiting, which is the point.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if api.function_error:
                self.send_header("X-Amz-Function-Error", "Unhandled")
            self.end_headers()
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _InvokeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: _LambdaInvokeApi) -> None:
        super().__init__(("127.0.0.1", 0), _InvokeHandler)
        self.api = api


@pytest.fixture
def lambda_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[_LambdaInvokeApi]:
    api = _LambdaInvokeApi()
    server = _InvokeServer(api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # How the local stack could serve OcrFunction too: boto3 reads this by itself.
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _boto3_detector() -> LambdaTextDetector:
    return LambdaTextDetector(ocr_function_invoker(ocr_lambda_client(), FUNCTION_NAME))


def test_lambda_invoke_brings_the_words_back(lambda_api: _LambdaInvokeApi) -> None:
    prepared = _describe(_boto3_detector())

    assert prepared.prompt_hint == 'labelled "TURTLE"'
    assert prepared.settings["text_detector"] == OCR_NAME
    assert lambda_api.invoked == [f"/2015-03-31/functions/{FUNCTION_NAME}/invocations"]


def test_an_error_inside_the_function_falls_back(lambda_api: _LambdaInvokeApi) -> None:
    lambda_api.function_error = True
    detector = _boto3_detector()

    prepared = _describe(detector)

    assert prepared.settings["text_detector"] == FALLBACK_NAME
    assert detector.last_failure is not None
    assert "InvalidOcrRequestError" in detector.last_failure


def test_a_function_slower_than_the_timeout_falls_back_after_one_attempt(
    lambda_api: _LambdaInvokeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ocr_detector, "OCR_READ_TIMEOUT_SECONDS", 0.3)
    lambda_api.delay_seconds = 1.5
    detector = _boto3_detector()

    prepared = _describe(detector)

    assert prepared.settings["text_detector"] == FALLBACK_NAME
    assert detector.last_failure is not None
    assert "timeout" in detector.last_failure.lower()
    # The fallback is the retry: a slow function is not invoked twice.
    assert len(lambda_api.invoked) == 1
