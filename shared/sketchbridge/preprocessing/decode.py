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
import struct
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageOps, ImageStat, UnidentifiedImageError

if TYPE_CHECKING:
    import numpy as np

from sketchbridge.domain.errors import (
    AnimatedImageError,
    CorruptImageError,
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
_WIDE_GREY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
# What Pillow's decoders raise on malformed data. Undecodable input is the client's
# fault (a 4xx), so these become CorruptImageError; anything else is our bug and escapes.
_PILLOW_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError)

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
    """Decode PNG/JPEG/WebP bytes into a safe RGB image, or raise an ``InvalidSketchError``."""
    if len(data) > MAX_SKETCH_BYTES:
        raise ImageTooLargeError(
            f"The sketch is larger than {MAX_SKETCH_BYTES // (1024 * 1024)} MB."
        )
    with warnings.catch_warnings():
        # Pillow warns about malformed metadata in untrusted files; the pixels are rebuilt
        # anyway, so those warnings are noise. A decompression bomb is an attack: fatal.
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        source_format = _check_header(data)
        try:
            # verify() reads every chunk and checks checksums but leaves the image unusable,
            # so the pixels come from a second, fresh open.
            Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS).verify()
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            image.load()
            upright = ImageOps.exif_transpose(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLargeError("The sketch has far too many pixels.") from exc
        except _PILLOW_DECODE_ERRORS as exc:
            raise CorruptImageError("The sketch image is truncated or corrupt.") from exc
    rgb = _flatten_to_rgb(upright)
    if max(ImageStat.Stat(rgb.convert("L")).stddev) < BLANK_STDDEV:
        raise EmptySketchError("The sketch is blank: there is nothing drawn on it.")
    return DecodedSketch(image=rgb, source_format=source_format)


def _check_header(data: bytes) -> str:
    """Sniff the format and refuse oversized or animated images from the header alone."""
    try:
        header = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except UnidentifiedImageError as exc:
        # Pillow calls a PNG whose IHDR checksum is wrong "unidentified": the signature says
        # which format it claims to be, so it is a damaged image of ours, not another format.
        if _has_allowed_signature(data):
            raise CorruptImageError("The sketch image header is corrupt.") from exc
        raise UnsupportedFormatError("The sketch is not a PNG, JPEG or WebP image.") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError("The sketch has far too many pixels.") from exc
    except _PILLOW_DECODE_ERRORS as exc:
        raise CorruptImageError("The sketch image header is corrupt.") from exc
    width, height = header.size
    if width > MAX_SIDE_PIXELS or height > MAX_SIDE_PIXELS or width * height > MAX_PIXELS:
        raise ImageTooLargeError(
            f"The sketch is {width}x{height}; the limit is {MAX_SIDE_PIXELS} pixels a side."
        )
    if width < 1 or height < 1:
        raise CorruptImageError("The sketch has no pixels.")
    try:
        frames = getattr(header, "n_frames", 1)
    except _PILLOW_DECODE_ERRORS as exc:
        raise CorruptImageError("The sketch's frames cannot be read.") from exc
    if frames > 1 or getattr(header, "is_animated", False):
        raise AnimatedImageError("Animated images are not sketches; send a single frame.")
    return header.format or "UNKNOWN"


def _has_allowed_signature(data: bytes) -> bool:
    """Do the first bytes name PNG, JPEG or WebP (whatever follows them)?"""
    return (
        data.startswith(b"\x89PNG\r\n\x1a\n")
        or data.startswith(b"\xff\xd8\xff")
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
    )


def encode_png(image: Image.Image) -> bytes:
    """Encode deterministically: the same pixels always give the same bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def _flatten_to_rgb(image: Image.Image) -> Image.Image:
    """Composite transparency onto white paper and rebuild the pixels as plain 8-bit RGB.

    Every mode is converted on purpose, never by Pillow's defaults alone: 16-bit and
    float greys are scaled to 8 bits, palettes keep their transparency, CMYK becomes RGB.
    Rebuilding from converted pixels drops EXIF, ICC profiles and trailing data.
    """
    if image.mode in _WIDE_GREY_MODES:
        # numpy only for these rare sketches: the processor decodes stored RGB PNGs and
        # should not pay numpy's import on its cold start for them.
        import numpy as np

        image = Image.fromarray(_wide_grey_to_8bit(np.asarray(image)))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    if image.mode == "L" and "transparency" in image.info:
        return _flatten_to_rgb(image.convert("LA"))
    if image.mode == "RGB" and "transparency" in image.info:
        return _flatten_to_rgb(image.convert("RGBA"))
    rgb = image.convert("RGB")  # 1, L, CMYK, YCbCr, LAB, HSV and RGB itself
    return Image.frombytes("RGB", rgb.size, rgb.tobytes())


def _wide_grey_to_8bit(values: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Scale 16-bit (or 32-bit/float) grey to 0..255; some encoders store 8-bit values wide."""
    import numpy as np

    wide = values.astype(np.float64)
    highest = float(wide.max()) if wide.size else 0.0
    if highest > 255:
        scale = 65535.0 if highest <= 65535 else highest
        wide = wide * (255.0 / scale)
    grey: np.ndarray[Any, np.dtype[np.uint8]] = np.clip(np.rint(wide), 0, 255).astype(np.uint8)
    return grey
