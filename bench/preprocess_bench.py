"""Time the preprocessing pipeline against the floor of decoding and re-encoding a PNG.

    .venv/bin/python bench/preprocess_bench.py [runs]

Prints JSON: for the four real sketches in ../shared/sketches and a 1024x1024
RGBA canvas export, the median milliseconds of decode + preprocess per provider
spec, the floor (Pillow open + load + PNG save of the same file) and their ratio.
OCR (rapidocr, when installed) is timed on its own. Single process, single thread.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SKETCHES = ROOT.parent / "shared" / "sketches"
sys.path.insert(0, str(ROOT / "shared"))

from PIL import Image  # noqa: E402

from sketchbridge.preprocessing.decode import decode_sketch  # noqa: E402
from sketchbridge.preprocessing.pipeline import preprocess  # noqa: E402
from sketchbridge.preprocessing.targets import PROVIDER_IMAGE_SPECS  # noqa: E402
from sketchbridge.preprocessing.text import RapidOcrTextDetector  # noqa: E402

BENCH_SPECS = ("replicate-controlnet-scribble", "replicate-flux-canny", "openai")


def _median_ms(work: Callable[[], object], runs: int) -> float:
    work()  # warm up caches and lazy imports
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 2)


def _floor(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    image.load()
    image.save(io.BytesIO(), format="PNG")


def _canvas_png() -> bytes:
    """A 1024x1024 RGBA canvas export: the transparent line art, scaled as a canvas would."""
    with Image.open(SKETCHES / "person-transparent.png") as source:
        canvas = source.convert("RGBA").resize((1024, 1024), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def run(runs: int = 15) -> dict[str, Any]:
    inputs = {path.name: path.read_bytes() for path in sorted(SKETCHES.glob("*.png"))}
    inputs["canvas-1024-rgba.png"] = _canvas_png()
    results: dict[str, Any] = {"runs": runs, "inputs": {}}
    for name, data in inputs.items():
        floor = _median_ms(lambda data=data: _floor(data), runs)
        row: dict[str, Any] = {"bytes": len(data), "floor_ms": floor, "pipeline_ms": {}}
        for spec_name in BENCH_SPECS:
            spec = PROVIDER_IMAGE_SPECS[spec_name]
            ms = _median_ms(
                lambda data=data, spec=spec: preprocess(decode_sketch(data), target=spec), runs
            )
            ms_text = _median_ms(
                lambda data=data, spec=spec: preprocess(
                    decode_sketch(data), target=spec, text_mode="remove", palette=True
                ),
                runs,
            )
            row["pipeline_ms"][spec_name] = {
                "keep": ms,
                "ratio_to_floor": round(ms / floor, 2),
                "remove_text_and_palette": ms_text,
                "ratio_to_floor_with_text": round(ms_text / floor, 2),
            }
        results["inputs"][name] = row
    if RapidOcrTextDetector.available():
        detector = RapidOcrTextDetector()
        image = decode_sketch(inputs["canvas-1024-rgba.png"]).image
        started = time.perf_counter()
        detector.detect(image)  # first call loads the ONNX models
        load_ms = round((time.perf_counter() - started) * 1000, 2)
        results["ocr_rapidocr"] = {
            "first_call_ms": load_ms,
            "detect_ms_1024": _median_ms(lambda: detector.detect(image), max(3, runs // 5)),
        }
    else:
        results["ocr_rapidocr"] = "not installed"
    return results


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 15), indent=2))
