"""Clean a decoded sketch: light paper, full contrast for faint pencil, no specks.

Each step leaves an image it would not change again, so normalising twice is
normalising once (the pipeline's idempotency rests on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from sketchbridge.preprocessing.components import label_components

# Luminance below this (after contrast stretch) is ink.
INK_THRESHOLD = 160
# Paper darker than this is a chalkboard or an inverted map: flip it to light paper.
DARK_PAPER = 96
# Contrast is left alone when the darkest ink and the paper are already this close to 0 and 255.
CONTRAST_SLACK = 24
# The share of pixels taken as the darkest ink when measuring contrast.
INK_QUANTILE = 0.002
# A speck is an ink blob of at most this many pixels per 1024x1024 of image.
SPECK_AREA_PER_MEGAPIXEL = 12


@dataclass(frozen=True)
class Normalised:
    image: Image.Image
    steps: tuple[str, ...]


def luminance(image: Image.Image) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The image's grey levels (ITU-R 601, as Pillow's ``L`` mode) as a uint8 array."""
    return np.asarray(image.convert("L"))


# The outer ring of the image that stands for the paper, as a share of the short side.
PAPER_RING_FRACTION = 0.04
# Paper greyer than this (max - min channel) can be dark paper; more colourful is a fill.
GREY_PAPER_SATURATION = 48


def lighten_dark_paper(image: Image.Image) -> Normalised:
    """Invert a sketch drawn light-on-dark so that the paper is light and the ink dark.

    Dark paper makes most of the image dark, and its outer ring (where drawings
    rarely reach) dark and colourless: a sketch whose middle is filled with a
    dark colour is a coloured drawing, and a dark frame is only a frame.
    """
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    height, width = rgb.shape[:2]
    ring = max(1, round(min(width, height) * PAPER_RING_FRACTION))
    border = np.concatenate(
        [
            rgb[:ring].reshape(-1, 3),
            rgb[-ring:].reshape(-1, 3),
            rgb[:, :ring].reshape(-1, 3),
            rgb[:, -ring:].reshape(-1, 3),
        ]
    )
    paper_luminance = np.median(border @ np.array([299, 587, 114]) // 1000)
    paper_saturation = np.median(border.max(axis=1) - border.min(axis=1))
    # Dark paper is dark everywhere, not just at a framed edge or in a filled middle.
    mostly_dark = int(np.median(luminance(image))) < DARK_PAPER
    if mostly_dark and paper_luminance < DARK_PAPER and paper_saturation < GREY_PAPER_SATURATION:
        return Normalised(ImageOps.invert(image.convert("RGB")), ("invert_dark_paper",))
    return Normalised(image, ())


def stretch_contrast(image: Image.Image) -> Normalised:
    """Map the darkest ink to black and the paper to white, when they are far from it."""
    grey = luminance(image)
    histogram = np.bincount(grey.ravel(), minlength=256)
    cumulative = np.cumsum(histogram)
    darkest = int(np.searchsorted(cumulative, INK_QUANTILE * grey.size, side="right"))
    paper = int(np.searchsorted(cumulative, 0.5 * grey.size, side="left"))
    if darkest <= CONTRAST_SLACK and paper >= 255 - CONTRAST_SLACK:
        return Normalised(image, ())
    if paper - darkest < 8:
        return Normalised(image, ())  # nothing but paper and noise: stretching would amplify it
    levels = np.arange(256, dtype=np.float64)
    table = np.clip(np.rint((levels - darkest) * 255.0 / (paper - darkest)), 0, 255)
    lut = table.astype(np.uint8).tolist() * len(image.getbands())
    return Normalised(image.point(lut), ("stretch_contrast",))


def remove_specks(image: Image.Image) -> Normalised:
    """Paint tiny isolated blobs of ink (dust, scanner noise) with paper white."""
    ink = luminance(image) < INK_THRESHOLD
    components = label_components(ink)
    width, height = image.size
    speck_area = max(2, round(SPECK_AREA_PER_MEGAPIXEL * width * height / (1024 * 1024)))
    specks = components.area <= speck_area
    if not specks.any():
        return Normalised(image, ())
    speck_mask = components.mask_of(specks, (height, width))
    pixels = np.array(image.convert("RGB"))
    pixels[speck_mask] = 255
    return Normalised(Image.fromarray(pixels), ("remove_specks",))
