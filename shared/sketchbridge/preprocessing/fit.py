"""Choose an output size that keeps the sketch's shape and fits a provider."""

from __future__ import annotations

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
