"""One call from a decoded sketch to the exact bytes a provider will receive.

    decoded ─ (already a control map? pass through) ─ lighten dark paper ─ fit (pad|crop)
      ─ stretch contrast ─ remove specks ─ [palette] ─ [find text: remove|describe]
      ─ control map (scribble|canny|sketch) ─ canonical PNG ─ encode within the byte budget

Fitting comes before cleaning so that every later step works at the output size
(stroke widths are set for it) and so that a second run finds nothing to change:
preprocessing its own output yields the same bytes. The canonical PNG and the
settings are what the cache fingerprint hashes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from sketchbridge.preprocessing.decode import DecodedSketch, encode_png
from sketchbridge.preprocessing.fit import (
    FitMode,
    ProviderImageSpec,
    encode_within_budget,
    fit_for_provider,
)
from sketchbridge.preprocessing.lines import control_map, is_control_map, line_width
from sketchbridge.preprocessing.normalise import (
    Normalised,
    lighten_dark_paper,
    remove_specks,
    stretch_contrast,
)
from sketchbridge.preprocessing.palette import PaletteColour, dominant_colours, palette_hint
from sketchbridge.preprocessing.text import (
    HeuristicTextDetector,
    TextDetector,
    TextMode,
    TextRegion,
    erase_text,
    text_hint,
)

# Bump when any step changes its output, so that cached results are not reused.
PIPELINE_VERSION = 1


@dataclass(frozen=True)
class PreprocessedSketch:
    image: Image.Image  # what the provider receives, decoded
    png: bytes  # canonical bytes: hashed by the cache fingerprint
    payload: bytes  # what is sent: the PNG, or a smaller encoding that fits the budget
    content_type: str
    settings: dict[str, Any]  # everything that shaped the bytes, for the fingerprint
    steps: tuple[str, ...]
    palette: tuple[PaletteColour, ...]
    text_regions: tuple[TextRegion, ...]
    prompt_hint: str | None  # words and colours to add to the prompt, when asked
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


def preprocess(
    decoded: DecodedSketch,
    *,
    target: ProviderImageSpec,
    text_mode: TextMode = "keep",
    palette: bool = False,
    fit_mode: FitMode = "pad",
    requested_size: tuple[int, int] | None = None,
    text_detector: TextDetector | None = None,
) -> PreprocessedSketch:
    """Make the sketch safe, clean and right-sized for ``target``; pure and deterministic."""
    if text_mode not in ("keep", "remove", "describe"):
        raise ValueError(f"text_mode must be keep, remove or describe, not {text_mode!r}")
    detector = text_detector or HeuristicTextDetector()
    timings: dict[str, float] = {}
    steps: list[str] = []

    def timed(name: str, step: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = step()
        timings[name] = round((time.perf_counter() - started) * 1000, 2)
        return result

    def apply(name: str, step: Callable[[Image.Image], Normalised], image: Image.Image) -> Any:
        normalised: Normalised = timed(name, lambda: step(image))
        steps.extend(normalised.steps)
        return normalised.image

    image = decoded.image
    colours: tuple[PaletteColour, ...] = ()
    regions: tuple[TextRegion, ...] = ()
    already_map = target.accepts(image.size) and is_control_map(image, target.control)
    if already_map:
        steps.append("already_control_map")
        final = image.convert("L")
    else:
        image = apply("lighten_paper", lighten_dark_paper, image)
        fitted = timed(
            "fit",
            lambda: fit_for_provider(image, target, mode=fit_mode, requested=requested_size),
        )
        if fitted.resized:
            verb = "pad" if fitted.padded else "crop" if fit_mode == "crop" else "resize"
            steps.append(f"{verb}_to_{fitted.size[0]}x{fitted.size[1]}")
        if palette:
            # The drawing's own colours, before contrast stretching shifts them.
            colours = timed("palette", lambda: dominant_colours(fitted.image))
        image = apply("contrast", stretch_contrast, fitted.image)
        image = apply("specks", remove_specks, image)
        if text_mode != "keep":
            regions = timed("text", lambda: detector.detect(image))
            if regions:
                image = timed("erase_text", lambda: erase_text(image, regions))
                steps.append(f"erase_text_{len(regions)}")
        final = timed("control_map", lambda: control_map(image, target.control))
        if target.control != "sketch":
            steps.append(f"{target.control}_map")
    png = timed("encode", lambda: encode_png(final))
    payload, content_type = timed("budget", lambda: encode_within_budget(final, target, png=png))
    if payload is not png:
        steps.append(f"reencode_{content_type.split('/')[1]}_for_budget")
    hints = [
        hint
        for hint in (
            text_hint(regions) if text_mode == "describe" else None,
            palette_hint(colours) if palette else None,
        )
        if hint
    ]
    settings: dict[str, Any] = {
        "version": PIPELINE_VERSION,
        "target": target.name,
        "control": target.control,
        "size": list(final.size),
        "fit": fit_mode,
        "text": text_mode,
        "text_detector": detector.name if text_mode != "keep" else None,
        "palette": palette,
        "line_width": line_width(target.control, final.size)
        if target.control != "sketch"
        else None,
    }
    return PreprocessedSketch(
        image=final,
        png=png,
        payload=payload,
        content_type=content_type,
        settings=settings,
        steps=tuple(steps),
        palette=colours,
        text_regions=regions,
        prompt_hint="; ".join(hints) or None,
        timings_ms=timings,
    )
