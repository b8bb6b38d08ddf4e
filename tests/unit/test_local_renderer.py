"""The offline renderer colours and shades real sketches, deterministically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageOps

from sketchbridge.providers.local_renderer import palette_from_prompt, render_sketch

# The team's sample sketches (ControlNet test images, Apache-2.0), see their README.
SKETCHES = Path(__file__).resolve().parents[2].parent / "shared" / "sketches"


def _sketch(name: str) -> Image.Image:
    image: Image.Image = Image.open(SKETCHES / name)
    if image.mode == "RGBA":
        paper = Image.new("RGBA", image.size, "white")
        paper.alpha_composite(image)
        image = paper
    return image.convert("RGB")


def _render(
    sketch: Image.Image,
    prompt: str = "a turtle",
    *,
    seed: int = 7,
    steps: int = 8,
    strength: float = 1.0,
    size: tuple[int, int] = (512, 512),
) -> Image.Image:
    return render_sketch(
        sketch,
        prompt,
        seed=seed,
        steps=steps,
        strength=strength,
        width=size[0],
        height=size[1],
    )


def _pixels(image: Image.Image) -> NDArray[np.float64]:
    return np.asarray(image, dtype=np.float64)


def _fitted(sketch: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The sketch as the renderer promises to place it: fitted whole, padded with paper."""
    return ImageOps.pad(sketch, size, Image.Resampling.BICUBIC, color="white")


def _saturated_hue_shares(image: Image.Image) -> NDArray[np.float64]:
    """Share of the picture in each of 16 hue bands, counting clearly coloured pixels only."""
    hsv = np.asarray(image.convert("HSV"), dtype=np.int64)
    coloured = hsv[..., 1] > 50
    bands = np.bincount(hsv[..., 0][coloured] // 16, minlength=16)
    return bands / hsv[..., 0].size


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("turtle.png", (768, 768)),
        ("balloon.png", (512, 512)),
        ("backpack.png", (768, 512)),
        ("person-transparent.png", (640, 960)),
    ],
)
def test_returns_an_rgb_image_of_exactly_the_requested_size(
    name: str, size: tuple[int, int]
) -> None:
    result = _render(_sketch(name), size=size)

    assert result.mode == "RGB"
    assert result.size == size


@pytest.mark.parametrize("steps", [1, 30])
def test_same_sketch_prompt_and_seed_give_identical_bytes(steps: int) -> None:
    sketch = _sketch("balloon.png")

    first = _render(sketch, "a hot air balloon, watercolor", seed=42, steps=steps)
    second = _render(sketch, "a hot air balloon, watercolor", seed=42, steps=steps)

    assert first.tobytes() == second.tobytes()


def test_different_seeds_give_visibly_different_colours() -> None:
    sketch = _sketch("turtle.png")

    first = _pixels(_render(sketch, seed=1))
    second = _pixels(_render(sketch, seed=2))

    assert np.abs(first - second).mean() > 8


@pytest.mark.parametrize("steps", [1, 2, 7, 20, 50])
def test_reports_progress_once_per_step_in_order(steps: int) -> None:
    calls: list[tuple[int, int]] = []

    render_sketch(
        _sketch("turtle.png"),
        "a turtle",
        seed=3,
        steps=steps,
        strength=0.8,
        width=256,
        height=256,
        on_step=lambda step, total: calls.append((step, total)),
    )

    assert calls == [(step, steps) for step in range(1, steps + 1)]


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("turtle.png", (768, 768)),
        ("backpack.png", (768, 768)),  # portrait into square: padded at the sides
        ("person-transparent.png", (512, 384)),
    ],
)
def test_keeps_the_drawn_lines_dark_and_in_place(name: str, size: tuple[int, int]) -> None:
    sketch = _sketch(name)
    line_mask = np.asarray(_fitted(sketch, size).convert("L")) < 64

    result = np.asarray(_render(sketch, size=size).convert("L"))

    assert line_mask.sum() > 1000
    assert (result[line_mask] < 90).mean() > 0.95


def test_colours_the_regions_of_a_black_and_white_sketch() -> None:
    sketch = _sketch("turtle.png")

    sketch_hues = _saturated_hue_shares(sketch)
    result_hues = _saturated_hue_shares(_render(sketch))

    assert (sketch_hues > 0.01).sum() == 0
    assert (result_hues > 0.01).sum() >= 3


def test_a_red_prompt_paints_part_of_the_drawing_red() -> None:
    result = _render(_sketch("turtle.png"), "a red turtle")

    hsv = np.asarray(result.convert("HSV"), dtype=np.int64)
    hue, saturation, value = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    red = ((hue < 12) | (hue > 243)) & (saturation > 100) & (value > 60)
    assert red.mean() > 0.05


@pytest.mark.parametrize(
    ("prompt", "wanted"),
    [
        ("a red balloon", (206, 48, 46)),
        ("a teal turtle at night", (30, 140, 140)),
        ("a backpack in light blue", (146, 175, 230)),
    ],
)
def test_palette_starts_with_the_colours_the_prompt_names(
    prompt: str, wanted: tuple[int, int, int]
) -> None:
    palette = palette_from_prompt(prompt, seed=5)

    assert palette[0] == wanted
    assert len(palette) >= 5


def test_scene_words_bring_their_colours() -> None:
    palette = palette_from_prompt("a turtle swimming in the sea", seed=5)

    blues = [(r, g, b) for r, g, b in palette if b > r + 60]
    assert blues


def test_a_prompt_without_colour_words_gets_a_different_palette_per_seed() -> None:
    first = palette_from_prompt("a turtle", seed=1)
    second = palette_from_prompt("a turtle", seed=2)

    assert len(first) >= 5
    assert first != second
    assert palette_from_prompt("a turtle", seed=1) == first


def test_strength_zero_stays_close_to_the_sketch_and_one_departs_from_it() -> None:
    sketch = _sketch("balloon.png")
    fitted = _pixels(_fitted(sketch, (768, 768)))

    def departure(strength: float) -> float:
        result = _render(sketch, strength=strength, size=(768, 768))
        return float(np.abs(_pixels(result) - fitted).mean())

    faint, half, full = departure(0.0), departure(0.5), departure(1.0)
    assert faint < 2
    assert faint < half < full
    assert full > 30


def test_a_night_prompt_darkens_the_sky() -> None:
    sketch = _sketch("balloon.png")

    day = np.asarray(_render(sketch, "a balloon").convert("L"))
    night = np.asarray(_render(sketch, "a balloon at night").convert("L"))

    corner = (slice(0, 40), slice(0, 40))
    assert night[corner].mean() < day[corner].mean() - 60


@pytest.mark.parametrize("prompt", ["watercolor turtle", "pencil sketch", "neon turtle"])
def test_style_words_change_the_look(prompt: str) -> None:
    sketch = _sketch("turtle.png")

    plain = _pixels(_render(sketch, "a turtle"))
    styled = _pixels(_render(sketch, prompt))

    assert np.abs(plain - styled).mean() > 5


def test_a_single_short_stroke_stays_visible() -> None:
    sketch = Image.new("RGB", (512, 512), "white")
    ImageDraw.Draw(sketch).line((200, 256, 300, 256), fill=(30, 30, 30), width=2)

    stroke = np.asarray(sketch.convert("L")) < 128
    result = np.asarray(_render(sketch, size=(512, 512)).convert("L"))

    assert result[stroke].mean() < 90


def test_a_blank_page_becomes_an_empty_sky() -> None:
    blank = Image.new("RGB", (300, 200), "white")

    result = np.asarray(_render(blank, size=(300, 200)).convert("L"))

    assert result.min() > 120


def test_a_closed_shape_is_filled_inside_and_not_outside() -> None:
    sketch = Image.new("RGB", (256, 256), "white")
    ImageDraw.Draw(sketch).ellipse((60, 60, 196, 196), outline="black", width=4)

    hsv = np.asarray(_render(sketch, "a red ball", size=(256, 256)).convert("HSV"))

    inside, outside = hsv[128, 128], hsv[10, 128]
    assert (inside[0] < 12 or inside[0] > 243) and inside[1] > 100
    assert not (outside[0] < 12 or outside[0] > 243)


def test_a_nearly_closed_outline_still_counts_as_a_region() -> None:
    sketch = Image.new("RGB", (256, 256), "white")
    # A circle drawn in one stroke whose ends stay about 5 px (2 % of the picture) apart.
    ImageDraw.Draw(sketch).arc((60, 60, 196, 196), start=2, end=358, fill="black", width=4)

    hsv = np.asarray(_render(sketch, "a red ball", size=(256, 256)).convert("HSV"))

    inside = hsv[128, 128]
    assert (inside[0] < 12 or inside[0] > 243) and inside[1] > 100


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"steps": 0}, "steps"),
        ({"strength": -0.1}, "strength"),
        ({"strength": 1.5}, "strength"),
        ({"width": 63}, "width"),
        ({"height": 4096}, "height"),
    ],
)
def test_refuses_arguments_out_of_range(overrides: dict[str, float], message: str) -> None:
    arguments: dict[str, float] = {
        "seed": 1,
        "steps": 4,
        "strength": 0.5,
        "width": 256,
        "height": 256,
    }
    arguments.update(overrides)

    with pytest.raises(ValueError, match=message):
        render_sketch(_sketch("turtle.png"), "a turtle", **arguments)  # type: ignore[arg-type]


def test_refuses_a_sketch_that_is_not_rgb() -> None:
    with pytest.raises(ValueError, match="RGB"):
        render_sketch(
            Image.new("RGBA", (64, 64)), "x", seed=1, steps=1, strength=1, width=64, height=64
        )
