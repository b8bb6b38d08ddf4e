"""Precision and recall of text detection on a generated, labelled set of sketches.

    .venv/bin/python bench/text_detection_eval.py [variants_per_sketch] [seed]

The set: each real sketch in ../shared/sketches gets labels written on it in
places with little ink — one to three words, each letter drawn separately in a
DejaVu face (sans, serif, oblique, condensed, mono; 14 faces) at 16..40 px, turned
by up to ±12°, with a wobbling baseline and uneven letter spacing, in pencil-grey,
black or blue ink. The union of a word's letter boxes is its label box.

Scoring: a label is found when one detected box covers at least half of it; a
detected box is right when at least half of it lies on labels. The heuristic and,
when installed, rapidocr's PP-OCRv4 detector are scored on the same images.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SKETCHES = ROOT.parent / "shared" / "sketches"
sys.path.insert(0, str(ROOT / "shared"))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from sketchbridge.preprocessing.text import (  # noqa: E402
    HeuristicTextDetector,
    RapidOcrTextDetector,
    TextDetector,
)

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FACES = [
    "DejaVuSans.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSansCondensed-Oblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerifCondensed-Italic.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "DejaVuSans-ExtraLight.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSansCondensed-Bold.ttf",
]
WORDS = [
    "turtle",
    "sea",
    "bag",
    "sky",
    "BOB",
    "balloon",
    "red",
    "zip",
    "hello",
    "MOM",
    "sun",
    "north",
    "42",
    "Lisa",
    "shell",
    "wind",
    "home",
    "blue",
    "school",
    "up!",
    "door",
    "tree",
    "Max",
    "rope",
    "hat",
    "coat",
    "LEFT",
    "fly",
    "my",
    "bike",
]
INKS = ((40, 40, 40), (0, 0, 0), (110, 110, 110), (30, 60, 170))
Box = tuple[int, int, int, int]


def _write_word(image: Image.Image, word: str, origin: tuple[int, int], rng: random.Random) -> Box:
    """Draw a word letter by letter, each turned and shifted a little; return its box."""
    font = ImageFont.truetype(str(FONT_DIR / rng.choice(FACES)), rng.randint(16, 40))
    ink = rng.choice(INKS)
    x, y = origin
    boxes = []
    for letter in word:
        left, _, right, bottom = font.getbbox(letter)
        tile = Image.new("L", (right + 8, bottom + 8), 0)
        ImageDraw.Draw(tile).text((4, 4), letter, fill=255, font=font)
        tile = tile.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BICUBIC, expand=True)
        dy = rng.randint(-2, 2)
        image.paste(Image.new("RGB", tile.size, ink), (x, y + dy), tile)
        mask_box = tile.getbbox()
        if mask_box:
            boxes.append(
                (x + mask_box[0], y + dy + mask_box[1], x + mask_box[2], y + dy + mask_box[3])
            )
        x += max(4, right - left) + rng.randint(1, 6)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _free_spot(ink: np.ndarray[Any, Any], size: tuple[int, int], rng: random.Random) -> Any:
    """A top-left corner where a word of this size lands on (almost) no ink."""
    height, width = ink.shape
    for _ in range(200):
        x, y = rng.randint(0, width - size[0] - 1), rng.randint(0, height - size[1] - 1)
        if ink[y : y + size[1], x : x + size[0]].mean() < 0.01:
            return x, y
    return None


def labelled_set(variants: int, seed: int) -> list[tuple[str, Image.Image, list[Box]]]:
    rng = random.Random(seed)
    samples = []
    for path in sorted(SKETCHES.glob("*.png")):
        with Image.open(path) as source:
            rgba = source.convert("RGBA")
        base = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
        for variant in range(variants):
            image = base.copy()
            truth: list[Box] = []
            for _ in range(rng.randint(1, 3)):
                ink = np.asarray(image.convert("L")) < 160
                word = rng.choice(WORDS)
                spot = _free_spot(ink, (len(word) * 34 + 20, 56), rng)
                if spot is not None:
                    truth.append(_write_word(image, word, spot, rng))
            samples.append((f"{path.stem}-{variant}", image, truth))
    return samples


def _area(box: Box) -> int:
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])


def _overlap(a: Box, b: Box) -> int:
    return _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def score(
    detector: TextDetector, samples: list[tuple[str, Image.Image, list[Box]]]
) -> dict[str, Any]:
    found = labels = right = detected = 0
    elapsed = 0.0
    for _, image, truth in samples:
        started = time.perf_counter()
        boxes = [region.box for region in detector.detect(image)]
        elapsed += time.perf_counter() - started
        labels += len(truth)
        detected += len(boxes)
        found += sum(any(_overlap(t, b) >= 0.5 * _area(t) for b in boxes) for t in truth)
        right += sum(sum(_overlap(b, t) for t in truth) >= 0.5 * _area(b) for b in boxes)
    return {
        "labels": labels,
        "detections": detected,
        "precision": round(right / detected, 3) if detected else None,
        "recall": round(found / labels, 3) if labels else None,
        "ms_per_image": round(1000 * elapsed / len(samples), 1),
    }


def run(variants: int = 10, seed: int = 7) -> dict[str, Any]:
    samples = labelled_set(variants, seed)
    detectors: list[TextDetector] = [HeuristicTextDetector()]
    if RapidOcrTextDetector.available():
        detectors.append(RapidOcrTextDetector())
    return {
        "images": len(samples),
        "seed": seed,
        **{detector.name: score(detector, samples) for detector in detectors},
    }


if __name__ == "__main__":
    arguments = [int(argument) for argument in sys.argv[1:3]]
    print(json.dumps(run(*arguments), indent=2))
