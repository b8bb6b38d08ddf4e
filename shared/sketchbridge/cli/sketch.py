"""The sketch as the API takes it: PNG, JPEG or WebP bytes sent as a data URL."""

from __future__ import annotations

import base64
from pathlib import Path

from sketchbridge.cli.errors import UsageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"


def sniff_image_type(data: bytes) -> str | None:
    """The MIME type of PNG, JPEG or WebP bytes, judged by their magic bytes; else None."""
    if data.startswith(PNG_SIGNATURE):
        return "image/png"
    if data.startswith(JPEG_SIGNATURE):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def sketch_data_url(data: bytes, *, name: str = "The sketch") -> str:
    """The bytes as a base64 data URL, refusing what the API would refuse anyway."""
    content_type = sniff_image_type(data)
    if content_type is None:
        what = "is empty" if not data else "is not a PNG, JPEG or WebP image"
        raise UsageError(
            f"{name} {what}.",
            code="unsupported_format",
            suggestions=["Export the sketch as PNG, JPEG or WebP."],
        )
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def read_sketch(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise UsageError(f"There is no file {path}.") from exc
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror or exc}.") from exc


def png_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header, or None when the bytes are not a PNG."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
