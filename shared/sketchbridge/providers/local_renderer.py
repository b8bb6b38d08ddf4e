"""Colour and shade a hand-drawn sketch offline: the ``local`` provider's picture.

This is not AI and does not pretend to be. It finds the regions the lines
enclose, fills them from a palette read off the prompt, lights them from the
top left and draws the original lines back on top. Pure and deterministic: the
same sketch, prompt, seed, steps, strength and size give the same bytes.

The pipeline, each stage one or more progress steps:

1. fit the sketch into the requested size (pad, never crop);
2. separate ink from paper and close small gaps in the outlines;
3. label the enclosed regions; those lying mostly along the edge are the sky;
4. give each region a colour from the prompt's palette;
5. blur a height map of the regions (more steps, more passes, smoother light);
6. shade, add the style the prompt asks for, draw the lines, blend by strength.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter, ImageOps

from sketchbridge.providers.colour_words import RGB, colours_named_in, prompt_words, sky_named_in

MIN_SIDE = 64
MAX_SIDE = 2048

# Regions are found on a grid this long, whatever the output size: it keeps the
# labelling fast and makes "a small gap" mean the same fraction of any drawing.
_WORK_LONG_SIDE = 256
# Gaps in an outline up to about twice this many grid cells wide are bridged.
_GAP_CLOSING_RADIUS = 3
# Enclosed specks smaller than this fraction of the picture are part of the line.
_SPECK_FRACTION = 0.0008
# A region is sky when at least this share of its outline is the picture's edge.
_SKY_EDGE_SHARE = 0.3
# The darkest this share of the pixels gives the pen's tone.
_PEN_FRACTION = 0.0002
# Below this grey-level spread there is no ink, only paper.
_MIN_INK_CONTRAST = 40.0
_PALETTE_SIZE = 5
# Towards the light, in image coordinates (x right, y down): the top left.
_LIGHT_IN_PLANE = np.array([-0.64, -0.77])
_LIGHT = np.array([-0.5, -0.6, 0.62]) / np.linalg.norm([-0.5, -0.6, 0.62])

_WHITE: RGB = (255, 255, 255)
_PAPER: RGB = (250, 248, 240)
_DEFAULT_SKY: RGB = (190, 220, 244)
_NEON_SKY: tuple[RGB, RGB] = ((22, 16, 44), (48, 24, 70))

_WATERCOLOUR_WORDS = frozenset({"watercolor", "watercolour", "aquarelle", "wash", "gouache"})
_PENCIL_WORDS = frozenset({"pencil", "sketch", "graphite", "charcoal", "hatching", "crosshatch"})
_NEON_WORDS = frozenset({"neon", "glow", "glowing", "cyberpunk", "synthwave", "fluorescent"})

FloatArray = NDArray[np.float32]
Labels = NDArray[np.int32]


@dataclass(frozen=True)
class _Style:
    watercolour: bool
    pencil: bool
    neon: bool


@dataclass(frozen=True)
class _Layers:
    """What the compositor needs: work-grid maps and the full-size ink."""

    fill: FloatArray  # work grid RGB, flat region colours and the sky
    foreground: FloatArray  # work grid, 1 inside the drawing, 0 in the sky
    shade: FloatArray  # work grid multiplier
    highlight: FloatArray  # work grid, 0..1 towards white
    ink_alpha: FloatArray  # full size, 0 paper .. 1 ink


@dataclass(frozen=True)
class _Ink:
    """Where the drawing's lines are, full size (soft) and on the work grid (closed)."""

    alpha: FloatArray  # full size, 0 paper .. 1 ink
    closed: NDArray[np.bool_]  # work grid, small gaps in the outlines bridged


def render_sketch(
    sketch: Image.Image,
    prompt: str,
    *,
    seed: int,
    steps: int,
    strength: float,
    width: int,
    height: int,
    on_step: Callable[[int, int], None] | None = None,
) -> Image.Image:
    """Return the sketch coloured and shaded as the prompt suggests, ``width`` x ``height`` RGB."""
    _validate(sketch, steps, strength, width, height)
    style = _style_of(prompt)
    # More steps buy more blur passes over the height map: rounder, smoother light.
    refine_passes = 1 + min(steps, 40) // 10
    progress = _Progress(steps, stages=6 + refine_passes, on_step=on_step)

    fitted = ImageOps.pad(sketch, (width, height), Image.Resampling.BICUBIC, color=_WHITE)
    progress.advance()

    work_size = _work_size(width, height)
    ink = _find_ink(fitted.convert("L"), work_size)
    progress.advance()

    labels = _label_regions(~ink.closed)
    labels = _grow_into_lines(_drop_specks(labels))
    is_sky = _sky_mask(labels)
    progress.advance()

    rng = np.random.default_rng(seed % 2**64)
    palette = palette_from_prompt(prompt, seed)
    sky = _sky_tones(prompt, palette, style)
    colours = _region_colours(labels, is_sky, palette, rng)
    fill = _fill_image(labels, is_sky, colours, sky)
    progress.advance()

    foreground = (~is_sky).astype(np.float32)
    # Only the outlines of regions shape the relief, not strokes that end inside one.
    height_map = foreground * ~_region_outlines(labels)
    blur_radius = 0.035 * max(work_size) / np.sqrt(refine_passes)
    for _ in range(refine_passes):
        height_map = _box_blur(height_map, max(1, round(blur_radius)))
        progress.advance()

    shade, highlight = _lighting(labels, foreground, height_map, ink.closed, style)
    progress.advance()

    layers = _Layers(fill, foreground, shade, highlight, ink.alpha)
    rendered = _compose(layers, style, rng, (width, height))
    sketch_pixels = np.asarray(fitted, dtype=np.float32)
    blended = sketch_pixels + (rendered - sketch_pixels) * np.float32(strength)
    result = Image.fromarray(np.clip(blended + 0.5, 0, 255).astype(np.uint8))
    progress.advance()
    return result


def palette_from_prompt(prompt: str, seed: int) -> list[RGB]:
    """Colours for the regions: those the prompt names first, seeded variations after."""
    rng = np.random.default_rng(seed % 2**64)
    named = colours_named_in(prompt)
    if not named:
        return _seeded_palette(rng)
    palette = list(named)
    # Fill up with shades of the named colours and, every other one, a softer
    # neighbour hue, so that a one-colour prompt is not one flat colour.
    while len(palette) < _PALETTE_SIZE:
        base = named[len(palette) % len(named)]
        companion = len(palette) % 2 == 0
        palette.append(_companion(base, rng) if companion else _varied(base, rng))
    return palette


def _validate(sketch: Image.Image, steps: int, strength: float, width: int, height: int) -> None:
    if sketch.mode != "RGB":
        raise ValueError(f"sketch must be an RGB image, not mode {sketch.mode!r}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, not {strength}")
    for name, side in (("width", width), ("height", height)):
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise ValueError(f"{name} must be between {MIN_SIDE} and {MAX_SIDE}, not {side}")


class _Progress:
    """Spread exactly ``steps`` calls of ``on_step`` over the pipeline's stages, in order."""

    def __init__(
        self, steps: int, *, stages: int, on_step: Callable[[int, int], None] | None
    ) -> None:
        self._steps = steps
        self._stages = stages
        self._stages_done = 0
        self._reported = 0
        self._on_step = on_step

    def advance(self) -> None:
        self._stages_done += 1
        due = self._steps * self._stages_done // self._stages
        while self._reported < due:
            self._reported += 1
            if self._on_step is not None:
                self._on_step(self._reported, self._steps)


def _style_of(prompt: str) -> _Style:
    words = set(prompt_words(prompt))
    return _Style(
        watercolour=bool(words & _WATERCOLOUR_WORDS),
        pencil=bool(words & _PENCIL_WORDS),
        neon=bool(words & _NEON_WORDS),
    )


def _work_size(width: int, height: int) -> tuple[int, int]:
    shrink = max(1.0, max(width, height) / _WORK_LONG_SIDE)
    return max(8, round(width / shrink)), max(8, round(height / shrink))


def _find_ink(grey: Image.Image, work_size: tuple[int, int]) -> _Ink:
    """Split ink from paper with a threshold that adapts to the paper and pen."""
    pixels = np.asarray(grey, dtype=np.float32)
    histogram = np.bincount(np.asarray(grey, dtype=np.uint8).ravel(), minlength=256)
    paper = _percentile(histogram, 0.90)
    # The pen's tone from the darkest few pixels, so even a single short stroke counts.
    pen = _percentile(histogram, _PEN_FRACTION)
    if paper - pen < _MIN_INK_CONTRAST:
        no_ink = np.zeros((work_size[1], work_size[0]), dtype=np.bool_)
        return _Ink(alpha=np.zeros_like(pixels), closed=no_ink)
    threshold = float(np.clip(_otsu(histogram), pen + 1, paper - 1))
    # Soft ink: paper noise (the top of the range) maps to 0, the pen's tone to 1.
    paper_edge = paper - 0.15 * (paper - pen)
    alpha = np.clip((paper_edge - pixels) / (paper_edge - pen), 0.0, 1.0) ** 0.8
    # On the coarse grid a thin line is averaged with paper, so be lenient.
    coarse = np.asarray(grey.resize(work_size, Image.Resampling.BOX), dtype=np.float32)
    lines = coarse < (threshold + paper) / 2
    # Morphological closing: grow the lines until nearby ends meet, then shrink them
    # back, so gaps are bridged while the regions keep their size.
    window = 2 * _GAP_CLOSING_RADIUS + 1
    closed = (
        Image.fromarray(lines.astype(np.uint8) * 255)
        .filter(ImageFilter.MaxFilter(window))
        .filter(ImageFilter.MinFilter(window))
    )
    return _Ink(alpha=alpha.astype(np.float32), closed=np.asarray(closed) > 0)


def _percentile(histogram: NDArray[np.int64], fraction: float) -> float:
    cumulative = np.cumsum(histogram)
    return float(np.searchsorted(cumulative, fraction * cumulative[-1]))


def _otsu(histogram: NDArray[np.int64]) -> float:
    """The grey level that best separates the histogram into two classes."""
    levels = np.arange(256, dtype=np.float64)
    weight_below = np.cumsum(histogram).astype(np.float64)
    weight_above = weight_below[-1] - weight_below
    sum_below = np.cumsum(histogram * levels)
    mean_below = sum_below / np.maximum(weight_below, 1)
    mean_above = (sum_below[-1] - sum_below) / np.maximum(weight_above, 1)
    between = weight_below * weight_above * (mean_below - mean_above) ** 2
    return float(np.argmax(between))


def _label_regions(free: NDArray[np.bool_]) -> Labels:
    """Label 4-connected areas of ``free``: 0 where not free, 1..n for the areas.

    Union-find done for all pixels at once: every root is hooked onto the
    smallest root among its neighbours, then paths are compressed, until no
    neighbouring free pixels disagree. A handful of rounds on real drawings.
    """
    rows, cols = free.shape
    count = rows * cols
    index = np.arange(count, dtype=np.int64).reshape(rows, cols)
    across = free[:, :-1] & free[:, 1:]
    down = free[:-1, :] & free[1:, :]
    first = np.concatenate([index[:, :-1][across], index[:-1, :][down]])
    second = np.concatenate([index[:, 1:][across], index[1:, :][down]])
    parent: NDArray[np.int64] = np.arange(count, dtype=np.int64)
    while True:
        root_first, root_second = parent[first], parent[second]
        differ = root_first != root_second
        if not differ.any():
            break
        low = np.minimum(root_first[differ], root_second[differ])
        high = np.maximum(root_first[differ], root_second[differ])
        np.minimum.at(parent, high, low)
        while True:
            grandparent = parent[parent]
            if np.array_equal(grandparent, parent):
                break
            parent = grandparent
    roots = parent.reshape(rows, cols)
    labels = np.zeros((rows, cols), dtype=np.int32)
    _, compact = np.unique(roots[free], return_inverse=True)
    labels[free] = compact.astype(np.int32) + 1
    return labels


def _drop_specks(labels: Labels) -> Labels:
    """Fold regions too small to colour (paper showing through a marker line) into the ink."""
    areas = np.bincount(labels.ravel())
    too_small = areas < max(4.0, _SPECK_FRACTION * labels.size)
    too_small[0] = True
    keep = np.cumsum(~too_small).astype(np.int32)
    keep[too_small] = 0
    return keep[labels]


def _grow_into_lines(labels: Labels) -> Labels:
    """Give every ink cell the label of a neighbouring region, so fills run under the lines."""
    if not labels.any():
        return np.ones_like(labels)
    grown = labels.copy()
    for _ in range(sum(labels.shape)):
        unlabelled = grown == 0
        if not unlabelled.any():
            break
        padded = np.pad(grown, 1)
        neighbours = np.maximum.reduce(
            [padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]]
        )
        grown = np.where(unlabelled, neighbours, grown)
    return grown


def _sky_mask(labels: Labels) -> NDArray[np.bool_]:
    """Where the sky is: regions lying mostly along the picture's edge.

    A region whose outline runs largely along the edge is background cut into
    pieces by a drawing that touches the frame; one that merely reaches the edge
    (a body cut off at the bottom) is part of the drawing.
    """
    count = int(labels.max()) + 1
    on_edge = np.zeros(labels.shape, dtype=np.bool_)
    on_edge[[0, -1], :] = True
    on_edge[:, [0, -1]] = True
    contact = np.bincount(labels[on_edge], minlength=count)
    outline = np.bincount(
        labels[_region_outlines(labels, thicken=False) | on_edge], minlength=count
    )
    is_sky_label = contact >= _SKY_EDGE_SHARE * np.maximum(outline, 1)
    is_sky_label[int(np.argmax(contact))] = True
    is_sky_label[0] = False
    return is_sky_label[labels]


def _region_outlines(labels: Labels, *, thicken: bool = True) -> NDArray[np.bool_]:
    """Cells next to a cell of another region, optionally widened by one cell."""
    padded = np.pad(labels, 1, mode="edge")
    outline: NDArray[np.bool_] = (
        (padded[:-2, 1:-1] != labels)
        | (padded[2:, 1:-1] != labels)
        | (padded[1:-1, :-2] != labels)
        | (padded[1:-1, 2:] != labels)
    )
    if not thicken:
        return outline
    widened = Image.fromarray(outline.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(3))
    return np.asarray(widened) > 0


def _seeded_palette(rng: np.random.Generator) -> list[RGB]:
    """A harmonious palette for prompts that name no colour: one hue and its partners."""
    base = float(rng.random())
    scheme = rng.choice([0.08, 1 / 3, 0.5, 0.42])  # analogous, triadic, complementary, split
    offsets = [0.0, float(scheme), -float(scheme), 0.5 * float(scheme), 0.02]
    palette = []
    for offset in offsets:
        hue = (base + offset + float(rng.uniform(-0.02, 0.02))) % 1.0
        saturation = float(rng.uniform(0.4, 0.72))
        value = float(rng.uniform(0.72, 0.95))
        palette.append(_hsv_to_rgb(hue, saturation, value))
    return palette


def _varied(colour: RGB, rng: np.random.Generator) -> RGB:
    hue, saturation, value = colorsys.rgb_to_hsv(*(c / 255 for c in colour))
    return _hsv_to_rgb(
        (hue + float(rng.uniform(-0.04, 0.04))) % 1.0,
        min(1.0, saturation * float(rng.uniform(0.7, 1.1))),
        min(1.0, value * float(rng.uniform(0.75, 1.15))),
    )


def _companion(colour: RGB, rng: np.random.Generator) -> RGB:
    hue, saturation, value = colorsys.rgb_to_hsv(*(c / 255 for c in colour))
    shift = float(rng.uniform(0.06, 0.14)) * (1 if rng.random() < 0.5 else -1)
    return _hsv_to_rgb(
        (hue + shift) % 1.0,
        saturation * float(rng.uniform(0.35, 0.6)),
        min(1.0, 0.55 + 0.45 * value * float(rng.uniform(0.9, 1.1))),
    )


def _hsv_to_rgb(hue: float, saturation: float, value: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(r * 255), round(g * 255), round(b * 255)


def _mix(first: RGB, second: RGB, amount: float) -> RGB:
    r, g, b = (round(a + (b - a) * amount) for a, b in zip(first, second, strict=True))
    return r, g, b


def _sky_tones(prompt: str, palette: list[RGB], style: _Style) -> tuple[RGB, RGB]:
    """Top and bottom of the background: named by the prompt, else a light sky."""
    named = sky_named_in(prompt)
    if named is not None:
        return named
    if style.neon:
        return _NEON_SKY
    if style.pencil:
        return _PAPER, _PAPER
    top = _mix(_mix(_DEFAULT_SKY, palette[-1], 0.2), _WHITE, 0.1)
    return top, _mix(top, _PAPER, 0.7)


def _region_colours(
    labels: Labels, is_sky: NDArray[np.bool_], palette: list[RGB], rng: np.random.Generator
) -> FloatArray:
    """One colour per label: the largest region takes the palette's first colour (the one
    the prompt named first), the others the rest in a seeded order."""
    areas = np.bincount(labels[~is_sky], minlength=int(labels.max()) + 1)
    colours = np.zeros((areas.size, 3), dtype=np.float32)
    by_area = [int(label) for label in np.argsort(-areas, kind="stable") if areas[label] > 0]
    others = [palette[int(i) + 1] for i in rng.permutation(len(palette) - 1)] or palette
    for rank, label in enumerate(by_area):
        colour = palette[0] if rank == 0 else others[(rank - 1) % len(others)]
        colours[label] = np.array(colour, dtype=np.float32) * np.float32(rng.uniform(0.92, 1.06))
    return np.clip(colours, 0, 255)


def _fill_image(
    labels: Labels, is_sky: NDArray[np.bool_], colours: FloatArray, sky: tuple[RGB, RGB]
) -> FloatArray:
    """Flat colours on the work grid, the sky a top-to-bottom gradient."""
    rows = labels.shape[0]
    across = np.linspace(0.0, 1.0, rows, dtype=np.float32)[:, None]
    top, bottom = (np.array(tone, dtype=np.float32) for tone in sky)
    gradient = top + (bottom - top) * across[..., None]
    fill = colours[labels]
    return np.where(is_sky[..., None], np.broadcast_to(gradient, fill.shape), fill).astype(
        np.float32
    )


def _box_blur(values: FloatArray, radius: int) -> FloatArray:
    """Mean over a (2r+1)² square, edges repeated; float64 sums so passes stay exact."""
    size = 2 * radius + 1
    for axis in (0, 1):
        padding = [(0, 0), (0, 0)]
        padding[axis] = (radius, radius)
        sums = np.cumsum(np.pad(values, padding, mode="edge"), axis=axis, dtype=np.float64)
        sums = np.concatenate([np.zeros_like(sums.take([0], axis=axis)), sums], axis=axis)
        window = sums.take(range(size, sums.shape[axis]), axis=axis) - sums.take(
            range(sums.shape[axis] - size), axis=axis
        )
        values = (window / size).astype(np.float32)
    return values


def _lighting(
    labels: Labels,
    foreground: FloatArray,
    height_map: FloatArray,
    closed_ink: NDArray[np.bool_],
    style: _Style,
) -> tuple[FloatArray, FloatArray]:
    """A multiplier for the fill (light, shadow, occlusion) and an additive highlight."""
    rows, cols = labels.shape
    long_side = max(rows, cols)
    # Rounded forms: light the height map as a surface lit from the top left.
    slope_y, slope_x = np.gradient(height_map * np.float32(0.035 * long_side * 2.2))
    normal_length = np.sqrt(slope_x**2 + slope_y**2 + 1)
    facing = (-slope_x * _LIGHT[0] - slope_y * _LIGHT[1] + _LIGHT[2]) / normal_length
    relief = 0.35 if style.watercolour else 0.9
    shade = 1 + relief * (facing - _LIGHT[2])

    # Each region a little brighter on the side towards the light.
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    areas = np.maximum(np.bincount(labels.ravel()), 1)
    centre_x = np.bincount(labels.ravel(), x.ravel()) / areas
    centre_y = np.bincount(labels.ravel(), y.ravel()) / areas
    spread = np.bincount(labels.ravel(), ((x - centre_x[labels]) ** 2).ravel()) / areas
    spread += np.bincount(labels.ravel(), ((y - centre_y[labels]) ** 2).ravel()) / areas
    extent = 1.6 * np.sqrt(np.maximum(spread, 1.0))
    towards_light = (
        (x - centre_x[labels]) * _LIGHT_IN_PLANE[0] + (y - centre_y[labels]) * _LIGHT_IN_PLANE[1]
    ) / extent[labels]
    shade *= 1 + 0.2 * np.clip(towards_light, -1, 1)

    # Soft shadow where the surface meets the lines.
    occlusion = _box_blur(_box_blur(closed_ink.astype(np.float32), 2), 2)
    shade *= 1 - 0.28 * occlusion

    # The object casts a soft shadow on the sky, away from the light.
    offset = max(1, round(0.03 * long_side))
    cast = np.zeros_like(foreground)
    cast[offset:, offset:] = foreground[:-offset, :-offset]
    cast = _box_blur(_box_blur(cast, offset), offset)
    sky_shadow = 0.1 if style.neon else 0.22
    shade = np.where(foreground > 0, shade, 1 - sky_shadow * cast)
    highlight = np.clip(facing - _LIGHT[2] - 0.08, 0, None) * foreground * 1.6
    if style.watercolour or style.pencil:
        highlight *= 0.3
    return shade.astype(np.float32), highlight.astype(np.float32)


def _compose(
    layers: _Layers, style: _Style, rng: np.random.Generator, size: tuple[int, int]
) -> FloatArray:
    """Bring the work-grid layers to full size, add the style and draw the lines on top."""
    colour = _upscale(layers.fill, size)
    light = _upscale(layers.shade, size)[..., None]
    shine = _upscale(layers.highlight, size)[..., None]
    long_side = max(size)

    if style.pencil:
        grey = colour @ np.array([0.3, 0.59, 0.11], dtype=np.float32)
        colour = colour * 0.45 + grey[..., None] * 0.55
    if style.neon:
        colour = colour * 0.55
    if style.watercolour:
        colour = _watercolour(colour, light, rng, long_side)
    else:
        colour = colour * light + (255 - colour) * shine * 0.6
    if style.pencil:
        colour = _hatch(colour, light[..., 0], long_side)

    alpha = layers.ink_alpha[..., None]
    line_colour = colour * np.float32(0.2)
    if style.neon:
        # Lines become lit tubes in the colour of the shape they outline, glowing outwards.
        tube = _upscale(_spread_foreground_colour(layers.fill, layers.foreground), size)
        glow = _blur_full(layers.ink_alpha, 0.015 * long_side)[..., None]
        colour = colour + tube * glow * 1.3
        line_colour = tube + (255 - tube) * 0.45
    if style.watercolour:
        alpha = alpha * 0.85
    return np.clip(colour + (line_colour - colour) * alpha, 0, 255)


def _spread_foreground_colour(fill: FloatArray, foreground: FloatArray) -> FloatArray:
    """Each cell's nearby drawing colour, so a glow outside a shape takes the shape's colour."""
    radius = max(2, round(0.02 * max(foreground.shape)))
    weight = _box_blur(foreground, radius)
    spread = [
        _box_blur(fill[..., channel] * foreground, radius) / np.maximum(weight, 1e-3)
        for channel in range(3)
    ]
    return np.where(weight[..., None] > 1e-3, np.stack(spread, axis=-1), fill).astype(np.float32)


def _watercolour(
    colour: FloatArray, light: FloatArray, rng: np.random.Generator, long_side: int
) -> FloatArray:
    """Soft washes: pale pigment that bleeds over edges, pools unevenly and shows the paper."""
    washed = Image.fromarray(np.clip(colour, 0, 255).astype(np.uint8))
    bled = np.asarray(washed.filter(ImageFilter.GaussianBlur(0.01 * long_side)), dtype=np.float32)
    rows, cols = colour.shape[:2]
    blotches = rng.normal(0, 1, (max(2, rows // 48), max(2, cols // 48))).astype(np.float32)
    pigment = 1 + 0.12 * _upscale(blotches, (cols, rows))[..., None]
    grain = 1 + 0.03 * rng.normal(0, 1, (rows, cols, 1)).astype(np.float32)
    paper = np.array(_PAPER, dtype=np.float32)
    depth = np.clip(0.75 * pigment * (0.6 + 0.4 * light) * grain, 0, 1)
    washed_paper: FloatArray = paper + (bled * light - paper) * depth
    return washed_paper


def _hatch(colour: FloatArray, light: FloatArray, long_side: int) -> FloatArray:
    """Pencil hatching in the shadows: one direction, crossed where it is darkest."""
    rows, cols = light.shape
    y, x = np.mgrid[0:rows, 0:cols]
    period = max(4, round(long_side / 110))
    one_way = ((x + y) % period == 0).astype(np.float32)
    crossed = ((x - y) % period == 0).astype(np.float32)
    darkness = np.clip((1.0 - light) * 3.0, 0, 1)
    strokes = np.maximum(one_way * darkness, crossed * np.clip(darkness * 2 - 1, 0, 1))
    hatched: FloatArray = colour * (1 - 0.45 * strokes[..., None]).astype(np.float32)
    return hatched


def _upscale(values: FloatArray, size: tuple[int, int]) -> FloatArray:
    """Bilinear resize of a 2-D map or an RGB stack, keeping float precision."""
    if values.ndim == 2:
        image = Image.fromarray(values.astype(np.float32))
        return np.asarray(image.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
    channels = [_upscale(values[..., channel], size) for channel in range(values.shape[2])]
    return np.stack(channels, axis=-1)


def _blur_full(values: FloatArray, radius: float) -> FloatArray:
    image = Image.fromarray(np.clip(values * 255, 0, 255).astype(np.uint8))
    blurred = image.filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(blurred, dtype=np.float32) * np.float32(1 / 255)
