"""``sketchbridge preprocess``: run the pipeline on a file and say what it did.

The only module of this package that touches files: it reads the sketch,
writes the image the provider would receive, and returns a JSON-ready report.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from sketchbridge.preprocessing.decode import decode_sketch
from sketchbridge.preprocessing.fit import FitMode, ProviderImageSpec
from sketchbridge.preprocessing.pipeline import preprocess
from sketchbridge.preprocessing.text import TextDetector, TextMode


def preprocess_file(
    in_path: str | Path,
    out_path: str | Path,
    *,
    provider_spec: ProviderImageSpec,
    text_mode: TextMode = "keep",
    palette: bool = False,
    fit_mode: FitMode = "pad",
    text_detector: TextDetector | None = None,
) -> dict[str, Any]:
    """Preprocess ``in_path`` for a provider, write the result to ``out_path``, report it.

    Raises the decoder's ``InvalidSketchError`` subclasses for unusable input.
    """
    data = Path(in_path).read_bytes()
    started = time.perf_counter()
    decoded = decode_sketch(data)
    decode_ms = round((time.perf_counter() - started) * 1000, 2)
    result = preprocess(
        decoded,
        target=provider_spec,
        text_mode=text_mode,
        palette=palette,
        fit_mode=fit_mode,
        text_detector=text_detector,
    )
    Path(out_path).write_bytes(result.payload)
    width, height = result.size
    timings = {"decode": decode_ms, **result.timings_ms}
    return {
        "input": {
            "path": str(in_path),
            "bytes": len(data),
            "format": decoded.source_format,
            "size": list(decoded.image.size),
        },
        "output": {
            "path": str(out_path),
            "provider": provider_spec.name,
            "control": provider_spec.control,
            "width": width,
            "height": height,
            "bytes": len(result.payload),
            "content_type": result.content_type,
            "sha256": hashlib.sha256(result.png).hexdigest(),
        },
        "steps": list(result.steps),
        "settings": result.settings,
        "palette": [
            {"name": colour.name, "hex": colour.hex, "share": colour.share}
            for colour in result.palette
        ],
        "text_regions": [
            {"box": list(region.box), "text": region.text, "score": region.score}
            for region in result.text_regions
        ],
        "prompt_hint": result.prompt_hint,
        "timings_ms": {**timings, "total": round(sum(timings.values()), 2)},
    }
