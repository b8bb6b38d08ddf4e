"""Turn untrusted bytes into a clean RGB sketch, or refuse with a stable code.

The decoder is the most exposed surface of the service, so the checks run
before any pixel is decoded: the format is sniffed from the content (never the
declared type), dimensions are capped before ``load()``, and the result is
rebuilt from pixels so metadata and trailing data never travel further.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageStat, UnidentifiedImageError

from sketchbridge.domain.errors import (
    EmptySketchError,
    ImageTooLargeError,
    InvalidSketchError,
    UnsupportedFormatError,
)

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP")
MAX_SKETCH_BYTES = 8 * 1024 * 1024
MAX_SIDE_PIXELS = 4096
MAX_PIXELS = 16 * 1024 * 1024
# A sketch whose grey levels vary less than this is a blank canvas.
BLANK_STDDEV = 2.0

_DATA_URL = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[\w.+-]+)*);base64,"
)


@dataclass(frozen=True)
class DecodedSketch:
    image: Image.Image  # mode RGB, orientation applied, transparency on white
    source_format: str  # PNG | JPEG | WEBP, as sniffed from the content


def parse_data_url(data_url: str) -> bytes:
    """Return the bytes of a base64 ``data:`` URL, refusing anything else."""
    match = _DATA_URL.match(data_url)
    if match is None:
        raise InvalidSketchError(
            'The sketch must be a base64 data URL such as "data:image/png;base64,...".'
        )
    payload = data_url[match.end() :]
    if len(payload) > (MAX_SKETCH_BYTES * 4) // 3 + 4:
        raise ImageTooLargeError(
            f"The sketch is larger than {MAX_SKETCH_BYTES // (1024 * 1024)} MB."
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSketchError("The sketch's base64 data is malformed.") from exc
    if not data:
        raise InvalidSketchError("The sketch data URL is empty.")
    return data


def decode_sketch(data: bytes) -> DecodedSketch:
    """Decode PNG/JPEG/WebP bytes into a safe RGB image."""
    if len(data) > MAX_SKETCH_BYTES:
        raise ImageTooLargeError(
            f"The sketch is larger than {MAX_SKETCH_BYTES // (1024 * 1024)} MB."
        )
    with warnings.catch_warnings():
        # A decompression bomb is an attack, not a curiosity: make the warning fatal.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        except UnidentifiedImageError as exc:
            raise UnsupportedFormatError("The sketch is not a PNG, JPEG or WebP image.") from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLargeError("The sketch has far too many pixels.") from exc
        source_format = image.format or "UNKNOWN"
        width, height = image.size
        if width > MAX_SIDE_PIXELS or height > MAX_SIDE_PIXELS or width * height > MAX_PIXELS:
            raise ImageTooLargeError(
                f"The sketch is {width}x{height}; the limit is {MAX_SIDE_PIXELS} pixels a side."
            )
        if getattr(image, "n_frames", 1) > 1:
            raise InvalidSketchError("Animated images are not sketches; send a single frame.")
        try:
            image.load()
        except (OSError, SyntaxError, ValueError) as exc:
            raise InvalidSketchError("The sketch image is truncated or corrupt.") from exc
    rgb = _flatten_to_rgb(ImageOps.exif_transpose(image))
    if max(ImageStat.Stat(rgb.convert("L")).stddev) < BLANK_STDDEV:
        raise EmptySketchError("The sketch is blank: there is nothing drawn on it.")
    return DecodedSketch(image=rgb, source_format=source_format)


def encode_png(image: Image.Image) -> bytes:
    """Encode deterministically: the same pixels always give the same bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def _flatten_to_rgb(image: Image.Image) -> Image.Image:
    """Composite transparency onto white paper and rebuild the pixels as plain RGB."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit sketches use 0..65535; some encoders store 8-bit values in a 16-bit mode.
        _, highest = image.getextrema()
        scale = 257 if isinstance(highest, int | float) and highest > 255 else 1
        image = image.point(lambda value: value / scale).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    # Rebuilding from converted pixels drops EXIF, ICC profiles and trailing data.
    return image.convert("RGB")
