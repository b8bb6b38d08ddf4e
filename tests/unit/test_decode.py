from __future__ import annotations

import io
import warnings

import pytest
from PIL import Image, ImageDraw

from sketchbridge.domain.errors import (
    EmptySketchError,
    ImageTooLargeError,
    InvalidSketchError,
    UnsupportedFormatError,
)
from sketchbridge.preprocessing.decode import decode_sketch, parse_data_url
from tests.support.fakes import SKETCHES


def _drawing(mode: str = "RGB", size: tuple[int, int] = (120, 80)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).line((10, 10, size[0] - 10, size[1] - 10), fill="black", width=4)
    return image.convert(mode)


def _bytes(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_real_sketches_decode_to_rgb() -> None:
    for path in sorted(SKETCHES.glob("*.png")):
        decoded = decode_sketch(path.read_bytes())
        assert decoded.image.mode == "RGB", path.name


def test_transparency_lands_on_white_paper() -> None:
    decoded = decode_sketch((SKETCHES / "person-transparent.png").read_bytes())
    assert decoded.image.getpixel((0, 0)) == (255, 255, 255)


def test_the_format_is_sniffed_from_content_not_the_declared_type() -> None:
    jpeg = _bytes(_drawing(), "JPEG")
    assert (
        decode_sketch(
            parse_data_url("data:image/png;base64," + __import__("base64").b64encode(jpeg).decode())
        ).source_format
        == "JPEG"
    )


def test_exif_orientation_is_applied() -> None:
    image = _drawing(size=(120, 80))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    decoded = decode_sketch(_bytes(image, "JPEG", exif=exif))
    assert decoded.image.size == (80, 120)


@pytest.mark.parametrize("mode", ["CMYK", "P", "LA", "I;16", "L"])
def test_odd_modes_become_rgb(mode: str) -> None:
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    assert decode_sketch(_bytes(_drawing(mode), fmt)).image.mode == "RGB"


def test_truncated_image_is_refused() -> None:
    data = _bytes(_drawing(size=(400, 400)))
    with pytest.raises(InvalidSketchError):
        decode_sketch(data[: len(data) // 2])


def test_animated_image_is_refused() -> None:
    frames = [_drawing(), _drawing().rotate(90)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="WEBP", save_all=True, append_images=frames[1:])
    with pytest.raises(InvalidSketchError, match="Animated"):
        decode_sketch(buffer.getvalue())


def test_huge_dimensions_are_refused_before_decoding() -> None:
    # A tiny file claiming 20000x20000 pixels: refused from the header alone.
    data = _bytes(Image.new("1", (20000, 20000)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ImageTooLargeError):
            decode_sketch(data)


def test_blank_canvas_is_refused() -> None:
    with pytest.raises(EmptySketchError):
        decode_sketch(_bytes(Image.new("RGBA", (64, 64), (0, 0, 0, 0))))


def test_gif_and_text_are_unsupported() -> None:
    with pytest.raises(UnsupportedFormatError):
        decode_sketch(_bytes(_drawing(), "GIF"))
    with pytest.raises(UnsupportedFormatError):
        decode_sketch(b"hello, I am not an image")
