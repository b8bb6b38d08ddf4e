"""The dominant colours of a coloured sketch, named as a person would, for the prompt.

Paper (light, unsaturated) and ink (dark or grey) are ignored: only the pixels
someone coloured in count. Colours are grouped by hue, so a hand-filled area
with uneven shading still reads as one colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

# A pixel is coloured when its saturation and brightness reach these (0..1).
MIN_SATURATION = 0.25
MIN_VALUE = 0.25
# A colour must cover this share of the coloured pixels to count.
MIN_SHARE = 0.06
# Colours must cover this share of the whole picture before a palette is worth stating.
MIN_COLOURED_SHARE = 0.005
HUE_BINS = 24
MAX_COLOURS = 5
# Sampling every n-th pixel each way keeps this fast on large sketches.
SAMPLE_STEP = 2

# Names a person would use, with a representative sRGB value; nearest wins.
COLOUR_NAMES: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("red", (220, 30, 30)),
    ("dark red", (130, 20, 20)),
    ("pink", (245, 140, 180)),
    ("magenta", (210, 40, 180)),
    ("orange", (245, 140, 30)),
    ("brown", (140, 85, 40)),
    ("yellow", (245, 220, 40)),
    ("olive", (128, 128, 30)),
    ("lime green", (150, 220, 50)),
    ("green", (40, 160, 60)),
    ("dark green", (20, 90, 40)),
    ("teal", (30, 140, 140)),
    ("turquoise", (60, 210, 200)),
    ("sky blue", (110, 180, 240)),
    ("blue", (40, 80, 220)),
    ("navy", (25, 35, 110)),
    ("purple", (130, 60, 180)),
    ("lavender", (180, 150, 230)),
)


@dataclass(frozen=True)
class PaletteColour:
    name: str
    rgb: tuple[int, int, int]
    share: float  # of the coloured pixels

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


def dominant_colours(image: Image.Image) -> tuple[PaletteColour, ...]:
    """Up to five colours, most used first; empty for a black-and-white sketch."""
    rgb = np.asarray(image.convert("RGB"))[::SAMPLE_STEP, ::SAMPLE_STEP].reshape(-1, 3)
    hsv = np.asarray(image.convert("RGB").convert("HSV"))[::SAMPLE_STEP, ::SAMPLE_STEP]
    hsv = hsv.reshape(-1, 3).astype(np.float64) / 255.0
    coloured = (hsv[:, 1] >= MIN_SATURATION) & (hsv[:, 2] >= MIN_VALUE)
    if coloured.sum() < MIN_COLOURED_SHARE * coloured.size:
        return ()
    hue_bin = np.minimum((hsv[coloured, 0] * HUE_BINS).astype(np.int64), HUE_BINS - 1)
    counts = np.bincount(hue_bin, minlength=HUE_BINS)
    pixels = rgb[coloured].astype(np.float64)
    total = float(counts.sum())
    colours: list[PaletteColour] = []
    for peak in _hue_peaks(counts):
        members = np.isin(hue_bin, peak)
        share = float(members.sum()) / total
        if share < MIN_SHARE:
            continue
        mean = pixels[members].mean(axis=0)
        red, green, blue = (int(value) for value in np.rint(mean))
        rgb_mean = (red, green, blue)
        colours.append(PaletteColour(colour_name(rgb_mean), rgb_mean, round(share, 3)))
    colours.sort(key=lambda colour: (-colour.share, colour.name))
    return tuple(_merge_same_names(colours)[:MAX_COLOURS])


def colour_name(rgb: tuple[int, int, int]) -> str:
    """The nearest human colour name, by a perceptually weighted RGB distance."""
    red, green, blue = rgb

    def distance(entry: tuple[str, tuple[int, int, int]]) -> float:
        r2, g2, b2 = entry[1]
        mean_red = (red + r2) / 2
        return (
            (2 + mean_red / 256) * (red - r2) ** 2
            + 4 * (green - g2) ** 2
            + (2 + (255 - mean_red) / 256) * (blue - b2) ** 2
        )

    return min(COLOUR_NAMES, key=distance)[0]


def palette_hint(colours: tuple[PaletteColour, ...]) -> str | None:
    """A phrase for the prompt, such as "colour palette: red, sky blue and yellow"."""
    names = [colour.name for colour in colours]
    if not names:
        return None
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"colour palette: {listed}"


def _hue_peaks(counts: np.ndarray[Any, np.dtype[np.int64]]) -> list[list[int]]:
    """Group neighbouring non-empty hue bins (hue wraps around) into one colour each."""
    floor = max(1, int(counts.sum() * 0.01))
    filled = [int(bin_) for bin_ in np.nonzero(counts >= floor)[0]]
    groups: list[list[int]] = []
    for bin_ in filled:
        if groups and bin_ - groups[-1][-1] == 1:
            groups[-1].append(bin_)
        else:
            groups.append([bin_])
    if len(groups) > 1 and groups[0][0] == 0 and groups[-1][-1] == len(counts) - 1:
        groups[0] = groups.pop() + groups[0]
    return groups


def _merge_same_names(colours: list[PaletteColour]) -> list[PaletteColour]:
    merged: dict[str, PaletteColour] = {}
    for colour in colours:
        if colour.name in merged:
            first = merged[colour.name]
            merged[colour.name] = PaletteColour(
                first.name, first.rgb, round(first.share + colour.share, 3)
            )
        else:
            merged[colour.name] = colour
    return sorted(merged.values(), key=lambda colour: (-colour.share, colour.name))
