"""Choose an output size that keeps the sketch's shape and fits a provider."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image, ImageOps

from sketchbridge.domain.errors import ImageTooLargeError

DEFAULT_LONG_SIDE = 768


def choose_output_size(
    sketch_size: tuple[int, int],
    *,
    width: int | None,
    height: int | None,
    min_side: int,
    max_side: int,
    multiple: int,
) -> tuple[int, int]:
    """Return (width, height): what was asked for, else the sketch's aspect at a default size.

    Sides are rounded to the provider's multiple and kept within its bounds, so
    the answer is always something the provider accepts.
    """
    sketch_w, sketch_h = sketch_size
    aspect = sketch_w / sketch_h
    if width is None and height is None:
        if aspect >= 1:
            width, height = DEFAULT_LONG_SIDE, round(DEFAULT_LONG_SIDE / aspect)
        else:
            width, height = round(DEFAULT_LONG_SIDE * aspect), DEFAULT_LONG_SIDE
    elif width is None:
        assert height is not None
        width = round(height * aspect)
    elif height is None:
        height = round(width / aspect)
    return _fit_side(width, min_side, max_side, multiple), _fit_side(
        height, min_side, max_side, multiple
    )


def _fit_side(side: int, min_side: int, max_side: int, multiple: int) -> int:
    rounded = max(multiple, round(side / multiple) * multiple)
    lowest = -(-min_side // multiple) * multiple
    highest = (max_side // multiple) * multiple
    return min(max(rounded, lowest), highest)


ControlKind = Literal["scribble", "canny", "sketch"]
FitMode = Literal["pad", "crop"]


@dataclass(frozen=True)
class ProviderImageSpec:
    """What one provider accepts as its input image, and which control map it wants.

    ``allowed_sizes`` (when given) wins over the side rules; otherwise sides are
    multiples of ``multiple`` within ``min_side``..``max_side``, the long side
    aims at ``long_side`` and the aspect ratio stays within ``max_aspect``.
    ``max_bytes`` is the encoded budget; with ``data_uri`` it counts the base64 data URL.
    """

    name: str
    control: ControlKind
    allowed_sizes: tuple[tuple[int, int], ...] = ()
    multiple: int = 8
    min_side: int = 64
    max_side: int = 2048
    long_side: int = 1024
    max_aspect: float = 4.0
    max_bytes: int | None = None
    data_uri: bool = False

    def __post_init__(self) -> None:
        if self.multiple < 1 or self.min_side < 1 or self.max_side < self.min_side:
            raise ValueError(f"{self.name}: inconsistent side rules")
        if self.max_aspect < 1:
            raise ValueError(f"{self.name}: max_aspect is a ratio >= 1")

    def accepts(self, size: tuple[int, int]) -> bool:
        """Whether a (width, height) is something this provider takes as is."""
        width, height = size
        if self.allowed_sizes:
            return size in self.allowed_sizes
        return (
            width % self.multiple == 0
            and height % self.multiple == 0
            and self.min_side <= min(width, height)
            and max(width, height) <= self.max_side
            and max(width, height) / min(width, height) <= self.max_aspect + 1e-9
        )


@dataclass(frozen=True)
class FitResult:
    image: Image.Image
    size: tuple[int, int]
    content_box: tuple[int, int, int, int]  # where the sketch landed (pad) or (0, 0, w, h)
    mode: FitMode
    resized: bool

    @property
    def padded(self) -> bool:
        return self.content_box != (0, 0, *self.size)


def choose_provider_size(
    sketch_size: tuple[int, int],
    spec: ProviderImageSpec,
    *,
    requested: tuple[int, int] | None = None,
) -> tuple[int, int]:
    """Return the provider size nearest the sketch's shape (or the requested size).

    A size the provider already accepts maps to itself, so fitting is idempotent.
    """
    if requested is not None and spec.accepts(requested):
        return requested
    sketch_w, sketch_h = requested or sketch_size
    if spec.allowed_sizes:
        # Nearest aspect in log space; among equals, the biggest (then the first listed).
        def distance(size: tuple[int, int]) -> tuple[float, int]:
            return (abs(math.log((size[0] * sketch_h) / (size[1] * sketch_w))), -size[0] * size[1])

        return min(spec.allowed_sizes, key=distance)
    if spec.accepts(sketch_size) and max(sketch_size) == _long_side(spec):
        return sketch_size
    landscape = sketch_w >= sketch_h
    aspect = max(sketch_w, sketch_h) / min(sketch_w, sketch_h)
    long_side = _long_side(spec)
    short_side = _round_to(long_side / aspect, spec.multiple)
    if long_side / max(short_side, 1) > spec.max_aspect:
        # Rounding (or a very long sketch) would break the provider's ratio limit: widen.
        short_side = -(-math.ceil(long_side / spec.max_aspect) // spec.multiple) * spec.multiple
    lowest = -(-spec.min_side // spec.multiple) * spec.multiple
    short_side = min(max(short_side, lowest), long_side)
    return (long_side, short_side) if landscape else (short_side, long_side)


def fit_for_provider(
    image: Image.Image,
    spec: ProviderImageSpec,
    *,
    mode: FitMode = "pad",
    requested: tuple[int, int] | None = None,
) -> FitResult:
    """Scale the sketch to the provider's size, padding with paper (default) or cropping."""
    if mode not in ("pad", "crop"):
        raise ValueError(f"fit mode must be 'pad' or 'crop', not {mode!r}")
    target_w, target_h = choose_provider_size(image.size, spec, requested=requested)
    if image.size == (target_w, target_h):
        return FitResult(image, image.size, (0, 0, target_w, target_h), mode, resized=False)
    source_w, source_h = image.size
    if mode == "pad":
        scale = min(target_w / source_w, target_h / source_h)
        content_w = min(target_w, max(1, round(source_w * scale)))
        content_h = min(target_h, max(1, round(source_h * scale)))
        content = image.resize((content_w, content_h), Image.Resampling.LANCZOS)
        canvas = Image.new(image.mode, (target_w, target_h), "white")
        left, top = (target_w - content_w) // 2, (target_h - content_h) // 2
        canvas.paste(content, (left, top))
        box = (left, top, left + content_w, top + content_h)
        return FitResult(canvas, (target_w, target_h), box, mode, resized=True)
    cropped = ImageOps.fit(image, (target_w, target_h), Image.Resampling.LANCZOS)
    return FitResult(cropped, (target_w, target_h), (0, 0, target_w, target_h), mode, True)


def encode_within_budget(
    image: Image.Image, spec: ProviderImageSpec, *, png: bytes | None = None
) -> tuple[bytes, str]:
    """Encode for the provider: PNG when it fits the byte budget, else smaller, else refuse.

    Returns (bytes, content type); ``png`` is the image's PNG when the caller has
    it already. Every step is deterministic, so equal pixels give equal bytes.
    """
    if png is None:
        png = _save(image, "PNG", optimize=False, compress_level=6)
    if _fits(png, spec):
        return png, "image/png"
    if image.mode == "RGB":
        quantized = image.quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        indexed = _save(quantized, "PNG", optimize=False, compress_level=9)
        if _fits(indexed, spec):
            return indexed, "image/png"
    for quality in (90, 80, 70, 60, 50):
        jpeg = _save(image.convert("RGB"), "JPEG", quality=quality, optimize=False)
        if _fits(jpeg, spec):
            return jpeg, "image/jpeg"
    budget = spec.max_bytes or 0
    raise ImageTooLargeError(
        f"The preprocessed sketch does not fit {spec.name}'s {budget // 1024} KB input limit."
    )


def data_url_length(payload: bytes, content_type: str) -> int:
    """Characters of ``data:<type>;base64,<payload>``, which is what Replicate counts."""
    return len(f"data:{content_type};base64,") + 4 * math.ceil(len(payload) / 3)


def _fits(payload: bytes, spec: ProviderImageSpec) -> bool:
    if spec.max_bytes is None:
        return True
    size = data_url_length(payload, "image/jpeg") if spec.data_uri else len(payload)
    return size <= spec.max_bytes


def _save(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _long_side(spec: ProviderImageSpec) -> int:
    return max(spec.multiple, (min(spec.long_side, spec.max_side) // spec.multiple) * spec.multiple)


def _round_to(value: float, multiple: int) -> int:
    return max(multiple, round(value / multiple) * multiple)
