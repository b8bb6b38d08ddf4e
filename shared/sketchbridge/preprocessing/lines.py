"""Control maps from a cleaned sketch: the picture each kind of model conditions on.

- ``scribble``: white strokes of one even width on black (ControlNet scribble).
- ``canny``: thin white outlines on black, as a Canny edge detector draws them (FLUX canny).
- ``sketch``: the cleaned sketch itself, dark on light, as an img2img reference.

Stroke widths are normalised to the output size, so a 512-pixel doodle and a
2048-pixel scan give the model the same weight of line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageOps

from sketchbridge.preprocessing.fit import ControlKind
from sketchbridge.preprocessing.morphology import Mask, boundary, dilate, dilate_times, erode
from sketchbridge.preprocessing.normalise import INK_THRESHOLD, luminance

# Scribble strokes are this many pixels wide per 1024 pixels of the output's long side.
SCRIBBLE_WIDTH_PER_1024 = 6
# Edge lines are this many pixels wide per 1024 pixels of the output's long side.
EDGE_WIDTH_PER_1024 = 1
# Thinning stops after this many passes, whatever the stroke width (a filled shape is no line).
MAX_THINNING_PASSES = 24


def line_width(kind: ControlKind, size: tuple[int, int]) -> int:
    """The stroke width, in pixels, of a control map of this kind at this size."""
    per_1024 = SCRIBBLE_WIDTH_PER_1024 if kind == "scribble" else EDGE_WIDTH_PER_1024
    return max(1, round(per_1024 * max(size) / 1024))


def ink_mask(image: Image.Image) -> Mask:
    return luminance(image) < INK_THRESHOLD


def estimated_stroke_width(mask: Mask) -> float:
    """Average stroke width: a stroke's area over half its outline is its width."""
    outline = int(boundary(mask).sum())
    return 2.0 * float(mask.sum()) / outline if outline else 0.0


def thin(mask: Mask, passes: int) -> Mask:
    """Peel thick strokes towards their centre line, never removing a line under 3 pixels."""
    for _ in range(passes):
        core = erode(mask)
        # Pixels that an opening would lose belong to lines already too thin to erode.
        too_thin = mask & ~dilate(core)
        thinner = core | too_thin
        if np.array_equal(thinner, mask):
            break
        mask = thinner
    return mask


def scribble_map(image: Image.Image) -> Image.Image:
    """White strokes of the normalised width on black."""
    mask = ink_mask(image)
    width = line_width("scribble", image.size)
    passes = min(MAX_THINNING_PASSES, int(estimated_stroke_width(mask) // 2))
    centre = thin(mask, passes)
    return _white_on_black(dilate_times(centre, (width - 1) // 2))


def edge_map(image: Image.Image) -> Image.Image:
    """Thin white outlines of every stroke on black, like a Canny edge map."""
    mask = ink_mask(image)
    edges = boundary(mask)
    width = line_width("canny", image.size)
    return _white_on_black(dilate_times(edges, (width - 1) // 2))


def control_map(image: Image.Image, kind: ControlKind) -> Image.Image:
    """The control map a model of this kind wants; ``sketch`` returns the sketch itself."""
    if kind == "scribble":
        return scribble_map(image)
    if kind == "canny":
        return edge_map(image)
    return image.convert("RGB")


def is_control_map(image: Image.Image, kind: ControlKind) -> bool:
    """Whether the image already is a binary white-on-black map (our own output, say)."""
    if kind == "sketch":
        return False
    grey = _grey_if_neutral(image)
    if grey is None:
        return False
    white = grey == 255
    if not np.all(white | (grey == 0)):
        return False
    return bool(0 < white.mean() < 0.5)


def paper_sketch(image: Image.Image) -> Image.Image:
    """Dark lines on white paper: a white-on-black control map inverted, anything else as is.

    A job prepared for a model that reads control maps (ControlNet scribble) stores the map;
    a failover hop to a provider that reads drawings must not get white strokes on black.
    """
    if is_control_map(image, "scribble") or is_control_map(image, "canny"):
        return ImageOps.invert(image.convert("RGB"))
    return image


def _grey_if_neutral(image: Image.Image) -> np.ndarray[Any, np.dtype[np.uint8]] | None:
    if image.mode == "L":
        return np.asarray(image)
    pixels = np.asarray(image.convert("RGB"))
    red = pixels[..., 0]
    if np.array_equal(red, pixels[..., 1]) and np.array_equal(red, pixels[..., 2]):
        return red
    return None


def _white_on_black(mask: Mask) -> Image.Image:
    return Image.fromarray(np.where(mask, np.uint8(255), np.uint8(0)).astype(np.uint8))
