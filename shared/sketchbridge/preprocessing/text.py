"""Find words written on a sketch, and keep, remove or describe them.

Models draw labels back as garbled glyphs, so a request may ask to erase them
(``remove``) or to erase them and put the words in the prompt (``describe``).

Detection sits behind one small interface, ``TextDetector``:

- ``HeuristicTextDetector`` (numpy only, always available): rows of similar,
  letter-sized ink blobs make a word or a line. It finds where text is, not what it says.
- ``RapidOcrTextDetector``: PP-OCRv4 detection and recognition through
  rapidocr-onnxruntime, used when that package is importable (it is not in the
  main Lambda layer; see docs/preprocessing.md).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from PIL import Image, ImageDraw

from sketchbridge.preprocessing.components import label_components
from sketchbridge.preprocessing.normalise import INK_THRESHOLD, luminance

TextMode = Literal["keep", "remove", "describe"]
Box = tuple[int, int, int, int]  # left, top, right (exclusive), bottom (exclusive)

# The heuristic looks at the sketch at most this big; letters survive, time stays small.
WORK_LONG_SIDE = 640
# Letter heights as a share of the image's long side.
MIN_LETTER_HEIGHT = 0.012
MAX_LETTER_HEIGHT = 0.09
MIN_LETTER_PIXELS = 5
# A blob wider than this many letter heights is a stroke of the drawing, not a word.
MAX_WORD_ASPECT = 8.0
# Letters in one word or line: overlapping rows, gaps under a letter height, similar sizes.
MIN_ROW_OVERLAP = 0.5
MAX_GAP_IN_HEIGHTS = 1.0
MAX_HEIGHT_RATIO = 2.5
MIN_LETTERS = 3
# Erased boxes grow by this share of their height so that letter edges go too.
ERASE_MARGIN = 0.15


@dataclass(frozen=True)
class TextRegion:
    box: Box
    text: str | None  # the recognised words, when the detector can read
    score: float


class TextDetector(Protocol):
    """Something that finds text regions on an RGB sketch."""

    @property
    def name(self) -> str: ...

    def detect(self, image: Image.Image) -> tuple[TextRegion, ...]: ...


class HeuristicTextDetector:
    """Rows of letter-sized ink blobs; numpy only, a few milliseconds."""

    name = "heuristic"

    def detect(self, image: Image.Image) -> tuple[TextRegion, ...]:
        scale = min(1.0, WORK_LONG_SIDE / max(image.size))
        small = image
        if scale < 1.0:
            small_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            small = image.convert("L").resize(small_size, Image.Resampling.BOX)
        ink = luminance(small) < INK_THRESHOLD
        components = label_components(ink)
        if components.count == 0:
            return ()
        long_side = max(small.size)
        width = components.right - components.left
        height = components.bottom - components.top
        fill = components.area / np.maximum(width * height, 1)
        letters = (
            (height >= max(MIN_LETTER_PIXELS, MIN_LETTER_HEIGHT * long_side))
            & (height <= MAX_LETTER_HEIGHT * long_side)
            & (width <= MAX_WORD_ASPECT * height)
            & (fill >= 0.08)
            & (fill <= 0.9)
        ) | _letter_dots(width, height, long_side)
        index = np.nonzero(letters)[0]
        groups = _group_into_lines(
            components.left[index],
            components.top[index],
            components.right[index],
            components.bottom[index],
        )
        regions = []
        for members in groups:
            chosen = index[members]
            box = (
                int(components.left[chosen].min()),
                int(components.top[chosen].min()),
                int(components.right[chosen].max()),
                int(components.bottom[chosen].max()),
            )
            tall = int(np.median(height[chosen]))
            if len(members) < MIN_LETTERS or box[2] - box[0] < 1.5 * (box[3] - box[1]):
                continue
            if tall < MIN_LETTER_PIXELS:
                continue
            regions.append(TextRegion(_scale_box(box, 1.0 / scale, image.size), None, 0.5))
        return tuple(sorted(regions, key=lambda region: (region.box[1], region.box[0])))


class RapidOcrTextDetector:
    """PP-OCRv4 detection and recognition (rapidocr-onnxruntime), loaded on first use."""

    name = "rapidocr"

    def __init__(self) -> None:
        self._engine: Any = None

    @staticmethod
    def available() -> bool:
        try:
            importlib.import_module("rapidocr_onnxruntime")
        except ImportError:
            return False
        return True

    def detect(self, image: Image.Image) -> tuple[TextRegion, ...]:
        if self._engine is None:
            self._engine = importlib.import_module("rapidocr_onnxruntime").RapidOCR()
        result, _ = self._engine(np.asarray(image.convert("RGB")))
        regions = []
        for points, words, score in result or ():
            xs = [point[0] for point in points]
            ys = [point[1] for point in points]
            box = (int(min(xs)), int(min(ys)), int(np.ceil(max(xs))), int(np.ceil(max(ys))))
            regions.append(
                TextRegion(_clip_box(box, image.size), str(words) or None, round(float(score), 3))
            )
        return tuple(sorted(regions, key=lambda region: (region.box[1], region.box[0])))


def default_text_detector() -> TextDetector:
    """The model when it is installed, else the heuristic."""
    if RapidOcrTextDetector.available():
        return RapidOcrTextDetector()
    return HeuristicTextDetector()


def erase_text(image: Image.Image, regions: tuple[TextRegion, ...]) -> Image.Image:
    """Paint each text region, with a small margin, with paper white."""
    if not regions:
        return image
    erased = image.convert("RGB").copy()
    draw = ImageDraw.Draw(erased)
    for region in regions:
        left, top, right, bottom = region.box
        margin = round(ERASE_MARGIN * (bottom - top))
        box = _clip_box((left - margin, top - margin, right + margin, bottom + margin), image.size)
        draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=(255, 255, 255))
    return erased


def text_hint(regions: tuple[TextRegion, ...]) -> str | None:
    """A phrase for the prompt naming the words that were on the sketch."""
    words = [region.text.strip() for region in regions if region.text and region.text.strip()]
    if not words:
        return None
    return "labelled " + ", ".join(f'"{word}"' for word in words)


def _letter_dots(
    width: np.ndarray[Any, Any], height: np.ndarray[Any, Any], long_side: int
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Dots of i and j and punctuation: small, roughly square blobs."""
    side = np.maximum(width, height)
    dots: np.ndarray[Any, np.dtype[np.bool_]] = (
        (side >= 2)
        & (side <= MIN_LETTER_HEIGHT * long_side * 1.5)
        & (np.minimum(width, height) * 2 >= side)
    )
    return dots


def _group_into_lines(
    left: np.ndarray[Any, Any],
    top: np.ndarray[Any, Any],
    right: np.ndarray[Any, Any],
    bottom: np.ndarray[Any, Any],
) -> list[np.ndarray[Any, np.dtype[np.int64]]]:
    """Join blobs that sit on one row, close together and of similar height."""
    count = left.size
    if count == 0:
        return []
    height = (bottom - top).astype(np.float64)
    overlap = np.minimum(bottom[:, None], bottom[None, :]) - np.maximum(top[:, None], top[None, :])
    smaller = np.minimum(height[:, None], height[None, :])
    larger = np.maximum(height[:, None], height[None, :])
    gap = np.maximum(left[:, None], left[None, :]) - np.minimum(right[:, None], right[None, :])
    # Dots are short: judge their row by the taller partner only.
    joined = (
        (overlap >= MIN_ROW_OVERLAP * smaller)
        & (gap <= MAX_GAP_IN_HEIGHTS * larger)
        & ((larger <= MAX_HEIGHT_RATIO * smaller) | (smaller <= 0.35 * larger))
    )
    parent = list(range(count))

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in zip(*np.nonzero(np.triu(joined, 1)), strict=True):
        root_a, root_b = find(int(a)), find(int(b))
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    roots = np.array([find(node) for node in range(count)])
    return [np.nonzero(roots == root)[0] for root in np.unique(roots)]


def _scale_box(box: Box, factor: float, size: tuple[int, int]) -> Box:
    left, top, right, bottom = box
    scaled = (
        int(left * factor),
        int(top * factor),
        int(np.ceil(right * factor)),
        int(np.ceil(bottom * factor)),
    )
    return _clip_box(scaled, size)


def _clip_box(box: Box, size: tuple[int, int]) -> Box:
    width, height = size
    left, top, right, bottom = box
    return (max(0, left), max(0, top), min(width, right), min(height, bottom))
