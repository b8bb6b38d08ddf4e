"""The picture a catalog model is sent, and the picture it sends back, as PNG bytes.

Submit prepares the sketch for the configured model's target (``preprocessing/targets.py``):
the clean sketch for FLUX canny, the even-width scribble map (white strokes on black,
``preprocessing/lines.py``) for ControlNet scribble. A hop of a failover chain, or a job
queued before an admin switched models, may bring the other kind, so the map the model
wants is derived here when it is missing. Every catalog model reads dark lines on white
paper (the scribble model inverts its upload itself), so a white-on-black map is inverted.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from sketchbridge.domain.errors import ProviderUnavailableError
from sketchbridge.preprocessing.decode import encode_png
from sketchbridge.preprocessing.lines import control_map, is_control_map
from sketchbridge.providers.replicate.catalog import ReplicateModel
from sketchbridge.providers.replicate.errors import PROVIDER_NAME

_BLACK = (0, 0, 0)


def model_picture(sketch: Image.Image, entry: ReplicateModel, width: int, height: int) -> bytes:
    """The sketch as ``entry`` reads it, padded to width x height, as PNG."""
    size = (width, height)
    if entry.control == "sketch":
        if _is_any_map(sketch):
            return encode_png(_inverted(ImageOps.pad(sketch.convert("RGB"), size, color=_BLACK)))
        return encode_png(ImageOps.pad(sketch.convert("RGB"), size, color=entry.paper))
    if is_control_map(sketch, entry.control):
        white_on_black = ImageOps.pad(sketch.convert("RGB"), size, color=_BLACK)
    else:
        if _is_any_map(sketch):  # another kind of map: back to dark lines first
            sketch = _inverted(sketch.convert("RGB"))
        padded = ImageOps.pad(sketch.convert("RGB"), size, color=entry.paper)
        white_on_black = control_map(padded, entry.control)
    return encode_png(_inverted(white_on_black.convert("RGB")))


def as_png(image_bytes: bytes, width: int, height: int) -> bytes:
    """The output as PNG at the requested size; a PNG of that size is handed on untouched."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as opened:
            if opened.format == "PNG" and opened.size == (width, height):
                return image_bytes
            image = opened.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise ProviderUnavailableError(
            "Replicate finished, but what it sent back is not a picture we can read.",
            provider=PROVIDER_NAME,
        ) from exc
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return encode_png(image)


def _is_any_map(image: Image.Image) -> bool:
    return is_control_map(image, "scribble") or is_control_map(image, "canny")


def _inverted(image: Image.Image) -> Image.Image:
    return ImageOps.invert(image.convert("RGB"))
