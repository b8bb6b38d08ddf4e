"""A corpus of hostile and odd inputs: each is refused with a documented code, or cleaned."""

from __future__ import annotations

import io
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sketchbridge.domain.errors import InvalidSketchError
from sketchbridge.preprocessing.decode import decode_sketch, encode_png
from tests.support.fakes import SKETCHES

DOCUMENTED_CODES = {
    "invalid_sketch",
    "unsupported_format",
    "image_too_large",
    "empty_sketch",
    "corrupt_image",
    "animated_image",
}


def _drawing(size: tuple[int, int] = (160, 120)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.line((10, 10, size[0] - 10, size[1] - 10), fill="black", width=4)
    draw.rectangle((20, 60, 60, 100), outline="black", width=3)
    return image


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return len(body).to_bytes(4, "big") + kind + body + crc.to_bytes(4, "big")


def _bomb_png() -> bytes:
    """A ~100 KB PNG whose header promises 5000x5000 pixels of zeros (100 MB of RGBA)."""
    header = (5000).to_bytes(4, "big") * 2 + bytes([8, 6, 0, 0, 0])
    rows = zlib.compress(b"\x00" * (5000 * 4 + 1) * 5000, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", rows)
        + _png_chunk(b"IEND", b"")
    )


def _bad_crc_png() -> bytes:
    data = bytearray(_save(_drawing(), "PNG"))
    data[-20] ^= 0xFF  # flip a byte inside the image data: the checksum no longer matches
    return bytes(data)


def _bad_ihdr_crc_png() -> bytes:
    data = bytearray(_save(_drawing(), "PNG"))
    # Signature (8) + length (4) + "IHDR" (4) + 13 bytes of header: then the IHDR CRC.
    data[29] ^= 0xFF
    return bytes(data)


def _animated_png() -> bytes:
    frames = [_drawing(), _drawing().rotate(90)]
    return _save(frames[0], "PNG", save_all=True, append_images=frames[1:])


REFUSED = {
    "truncated PNG": (lambda: _save(_drawing((400, 400)), "PNG")[:900], "corrupt_image"),
    "truncated JPEG": (lambda: _save(_drawing((400, 400)), "JPEG")[:600], "corrupt_image"),
    "bad checksum": (_bad_crc_png, "corrupt_image"),
    # Pillow reports this one as not a PNG at all; it was answered 415 unsupported_format.
    "PNG whose IHDR CRC is wrong": (_bad_ihdr_crc_png, "corrupt_image"),
    "JPEG signature then garbage": (lambda: b"\xff\xd8\xff" + b"\x00" * 64, "corrupt_image"),
    "WebP signature then garbage": (
        lambda: b"RIFF\x00\x00\x00\x00WEBP" + b"\x00" * 64,
        "corrupt_image",
    ),
    "decompression bomb": (_bomb_png, "image_too_large"),
    "animated PNG": (_animated_png, "animated_image"),
    "animated WebP": (
        lambda: _save(_drawing(), "WEBP", save_all=True, append_images=[_drawing().rotate(45)]),
        "animated_image",
    ),
    "fully transparent": (
        lambda: _save(Image.new("RGBA", (200, 200), (255, 0, 0, 0)), "PNG"),
        "empty_sketch",
    ),
    "GIF": (lambda: _save(_drawing(), "GIF"), "unsupported_format"),
    "BMP": (lambda: _save(_drawing(), "BMP"), "unsupported_format"),
    "SVG text": (lambda: b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "unsupported_format"),
    "zip with a PNG name": (lambda: b"PK\x03\x04" + b"\x00" * 40, "unsupported_format"),
    "empty": (lambda: b"", "unsupported_format"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_bad_input_is_refused_with_its_documented_code(name: str) -> None:
    make, code = REFUSED[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = make()
    with pytest.raises(InvalidSketchError) as refused:
        decode_sketch(data)
    assert refused.value.code == code
    assert refused.value.code in DOCUMENTED_CODES


def test_polyglot_png_with_a_zip_appended_is_rebuilt_without_the_payload() -> None:
    payload = b"PK\x03\x04" + b"evil archive" * 100
    decoded = decode_sketch(_save(_drawing(), "PNG") + payload)
    rebuilt = encode_png(decoded.image)
    assert payload not in rebuilt
    assert decoded.image.size == (160, 120)


def test_exif_metadata_and_icc_profile_are_dropped() -> None:
    exif = Image.Exif()
    exif[0x010E] = "secret description"
    data = _save(_drawing(), "JPEG", exif=exif, icc_profile=b"\x00" * 128)
    rebuilt = encode_png(decode_sketch(data).image)
    assert b"secret description" not in rebuilt
    assert "exif" not in Image.open(io.BytesIO(rebuilt)).info


@pytest.mark.parametrize("orientation, size", [(3, (160, 120)), (6, (120, 160)), (8, (120, 160))])
def test_exif_rotated_photo_is_turned_upright(orientation: int, size: tuple[int, int]) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    assert decode_sketch(_save(_drawing(), "JPEG", exif=exif)).image.size == size


def test_cmyk_jpeg_keeps_black_lines_black() -> None:
    decoded = decode_sketch(_save(_drawing().convert("CMYK"), "JPEG", quality=95))
    grey = np.asarray(decoded.image.convert("L"))
    assert grey.min() < 60 and np.median(grey) > 230


def test_16_bit_grey_png_keeps_its_drawing() -> None:
    wide = (np.asarray(_drawing().convert("L")).astype(np.uint16)) * 257
    decoded = decode_sketch(_save(Image.fromarray(wide), "PNG"))
    grey = np.asarray(decoded.image.convert("L"))
    assert decoded.image.mode == "RGB"
    assert grey.min() < 10 and np.median(grey) == 255


def test_16_bit_rgba_png_composites_onto_white() -> None:
    rgba = np.zeros((64, 64, 4), dtype=np.uint16)
    rgba[20:40, 20:40] = (0, 0, 0, 65535)
    buffer = io.BytesIO()
    # Pillow writes 16-bit RGBA only from raw data; build the PNG by hand.
    raw = b"".join(b"\x00" + rgba[row].astype(">u2").tobytes() for row in range(64))
    header = (64).to_bytes(4, "big") * 2 + bytes([16, 6, 0, 0, 0])
    buffer.write(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header))
    buffer.write(_png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b""))
    decoded = decode_sketch(buffer.getvalue())
    assert decoded.image.getpixel((0, 0)) == (255, 255, 255)
    assert decoded.image.getpixel((30, 30)) == (0, 0, 0)


def test_real_transparent_canvas_export_lands_on_white() -> None:
    decoded = decode_sketch((SKETCHES / "person-transparent.png").read_bytes())
    assert decoded.image.getpixel((0, 0)) == (255, 255, 255)
