"""Preprocessing keeps the drawing, for every provider target: not only its aspect and size.

The measure. The prepared image's strokes (dark pixels of a sketch target; the white lines of
a scribble or canny map) are mapped back into the input's frame (the fit's content box, scaled
back: an input pixel is a stroke if any prepared stroke pixel falls in it) and compared with
the input's ink at a tolerance of ``t = 2 + one prepared pixel + half the input's stroke
width`` input pixels: a stroke pixel is matched when the other drawing has ink within ``t``
(so a stroke redrawn at the scribble map's normalised width, or as a canny edge's two outlines,
still matches). With F the share of both drawings' pixels matched, the tolerant IoU is
F / (2 - F), and

    tolerant IoU >= 0.9   for every target (local, auto, OpenAI's, Bedrock's, Replicate's FLUX,
                          ControlNet scribble and SDXL; the canny edge map lines.py draws)

On the real sketches of ../shared/sketches/ it is 1.0 for every target, and 0.10-0.44 when
the same strokes come back mirrored, flipped or shifted by 5% of the width.
"""

from __future__ import annotations

import io
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from sketchbridge.preprocessing.decode import DecodedSketch, decode_sketch
from sketchbridge.preprocessing.fit import ProviderImageSpec, fit_for_provider
from sketchbridge.preprocessing.lines import estimated_stroke_width
from sketchbridge.preprocessing.morphology import Mask, dilate_times
from sketchbridge.preprocessing.normalise import INK_THRESHOLD
from sketchbridge.preprocessing.pipeline import preprocess
from sketchbridge.preprocessing.targets import PROVIDER_IMAGE_SPECS

SKETCHES = Path(__file__).resolve().parents[2].parent / "shared" / "sketches"
BOUND = 0.9

# Every provider target there is, plus the canny edge map lines.py draws (FLUX canny-dev is
# sent the sketch and finds the edges itself, so no listed target asks for it today).
TARGETS: dict[str, ProviderImageSpec] = {
    **PROVIDER_IMAGE_SPECS,
    "canny-edges": replace(
        PROVIDER_IMAGE_SPECS["replicate-flux-canny"], name="canny-edges", control="canny"
    ),
}


def ink(image: Image.Image) -> Mask:
    result: Mask = np.asarray(image.convert("L")) < INK_THRESHOLD
    return result


def strokes_back(decoded: DecodedSketch, spec: ProviderImageSpec) -> tuple[Mask, float]:
    """The prepared image's strokes in the input's frame, and one prepared pixel's size there."""
    prepared = preprocess(decoded, target=spec)
    grey = np.asarray(prepared.image.convert("L"))
    strokes = grey == 255 if spec.control != "sketch" else grey < INK_THRESHOLD
    # Where the fit put the drawing: the same fit of blank paper the same size says.
    box = fit_for_provider(Image.new("RGB", decoded.image.size, "white"), spec).content_box
    as_image = Image.fromarray(strokes.astype(np.uint8) * 255).crop(box)
    back = as_image.resize(decoded.image.size, Image.Resampling.BOX)
    result: Mask = np.asarray(back) > 0
    return result, decoded.image.size[0] / (box[2] - box[0])


def tolerant_iou(ours: Mask, original: Mask, prepared_pixel: float) -> float:
    tolerance = 2 + math.ceil(prepared_pixel) + math.ceil(estimated_stroke_width(original) / 2)
    matched = (ours & dilate_times(original, tolerance)).sum()
    matched += (original & dilate_times(ours, tolerance)).sum()
    share = float(matched / max(1, ours.sum() + original.sum()))
    return share / (2 - share)


def kept_ink(decoded: DecodedSketch, spec: ProviderImageSpec) -> float:
    ours, prepared_pixel = strokes_back(decoded, spec)
    return tolerant_iou(ours, ink(decoded.image), prepared_pixel)


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("sketch", ["turtle", "balloon", "backpack", "person-transparent"])
def test_a_real_sketch_keeps_its_strokes_for_every_target(sketch: str, target: str) -> None:
    decoded = decode_sketch((SKETCHES / f"{sketch}.png").read_bytes())

    assert kept_ink(decoded, TARGETS[target]) >= BOUND


@pytest.mark.parametrize("target", ["replicate-controlnet-scribble", "canny-edges", "openai"])
def test_the_measure_fails_a_drawing_that_comes_back_mirrored_or_shifted(target: str) -> None:
    decoded = decode_sketch((SKETCHES / "turtle.png").read_bytes())
    ours, prepared_pixel = strokes_back(decoded, TARGETS[target])
    original = ink(decoded.image)

    assert tolerant_iou(ours[:, ::-1], original, prepared_pixel) < BOUND / 2
    shifted = np.roll(ours, ours.shape[1] // 20, axis=1)
    assert tolerant_iou(shifted, original, prepared_pixel) < BOUND / 2


Stroke = tuple[str, tuple[float, float, float, float], int]
unit = st.floats(0.05, 0.95)
strokes = st.lists(
    st.tuples(
        st.sampled_from(["line", "ellipse"]),
        st.tuples(unit, unit, unit, unit).filter(
            lambda box: abs(box[2] - box[0]) + abs(box[3] - box[1]) > 0.2
        ),
        st.integers(2, 10),
    ),
    min_size=1,
    max_size=5,
)


def drawing(size: tuple[int, int], drawn: list[Stroke]) -> bytes:
    width, height = size
    image = Image.new("RGB", size, "white")
    pen = ImageDraw.Draw(image)
    for kind, (x0, y0, x1, y1), stroke_width in drawn:
        box: Any = (x0 * width, y0 * height, x1 * width, y1 * height)
        if kind == "line":
            pen.line(box, fill="black", width=stroke_width)
        else:
            left, right = sorted((box[0], box[2]))
            top, bottom = sorted((box[1], box[3]))
            pen.ellipse((left, top, right, bottom), outline="black", width=stroke_width)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@settings(max_examples=40, deadline=None)
@given(
    width=st.integers(200, 900),
    height=st.integers(200, 900),
    drawn=strokes,
    target=st.sampled_from(sorted(TARGETS)),
)
def test_generated_strokes_survive_fit_and_control_map_extraction(
    width: int, height: int, drawn: list[Stroke], target: str
) -> None:
    decoded = decode_sketch(drawing((width, height), drawn))

    assert kept_ink(decoded, TARGETS[target]) >= BOUND
