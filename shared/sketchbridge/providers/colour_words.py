"""The prompt words the offline renderer understands: colours, scenes and skies.

A colour word names one colour ("teal"); a scene or material word names the few
colours a painter would reach for ("sunset", "forest", "brass"); a sky word sets
the background's top and bottom tones. Words are matched whole, singular or
plural, so "flowers" and "flower" read the same.
"""

from __future__ import annotations

import re

RGB = tuple[int, int, int]

COLOUR_WORDS: dict[str, RGB] = {
    "red": (206, 48, 46),
    "crimson": (178, 28, 52),
    "scarlet": (232, 45, 30),
    "maroon": (120, 30, 40),
    "pink": (240, 128, 170),
    "rose": (226, 96, 128),
    "magenta": (214, 44, 170),
    "coral": (246, 120, 96),
    "salmon": (244, 142, 118),
    "peach": (252, 190, 150),
    "orange": (242, 132, 36),
    "amber": (250, 176, 30),
    "gold": (232, 184, 48),
    "golden": (232, 184, 48),
    "yellow": (248, 214, 60),
    "lemon": (250, 234, 90),
    "cream": (246, 234, 204),
    "beige": (222, 204, 170),
    "tan": (206, 170, 122),
    "ochre": (204, 140, 40),
    "brown": (138, 88, 52),
    "rust": (176, 78, 40),
    "copper": (190, 104, 60),
    "bronze": (176, 126, 62),
    "olive": (128, 128, 48),
    "lime": (160, 218, 60),
    "green": (70, 160, 80),
    "emerald": (30, 150, 100),
    "mint": (160, 226, 190),
    "sage": (150, 176, 140),
    "teal": (30, 140, 140),
    "turquoise": (60, 200, 196),
    "cyan": (50, 200, 230),
    "aqua": (90, 210, 220),
    "blue": (56, 110, 210),
    "azure": (80, 150, 240),
    "navy": (30, 44, 110),
    "indigo": (72, 56, 160),
    "purple": (130, 64, 170),
    "violet": (150, 90, 210),
    "lavender": (186, 160, 226),
    "lilac": (200, 162, 216),
    "white": (244, 244, 240),
    "ivory": (250, 244, 222),
    "silver": (190, 194, 202),
    "grey": (140, 140, 146),
    "gray": (140, 140, 146),
    "charcoal": (64, 66, 72),
    "black": (40, 40, 46),
}

SCENE_WORDS: dict[str, tuple[RGB, ...]] = {
    "sea": ((34, 110, 170), (40, 160, 170), (226, 214, 170), (250, 250, 245)),
    "ocean": ((24, 84, 150), (40, 150, 180), (120, 200, 210)),
    "beach": ((236, 214, 160), (60, 190, 200), (250, 200, 120)),
    "sunset": ((246, 140, 60), (232, 90, 110), (150, 80, 150), (252, 200, 90)),
    "sunrise": ((252, 180, 100), (246, 130, 130), (250, 220, 140)),
    "forest": ((46, 120, 60), (100, 160, 70), (120, 84, 50), (180, 200, 110)),
    "jungle": ((30, 130, 60), (120, 190, 50), (230, 190, 40)),
    "grass": ((90, 170, 70), (150, 200, 90)),
    "garden": ((90, 170, 80), (240, 120, 160), (250, 210, 80)),
    "flower": ((236, 110, 150), (250, 200, 60), (160, 110, 210), (90, 170, 80)),
    "night": ((40, 54, 110), (90, 90, 160), (230, 220, 150), (150, 160, 190)),
    "space": ((40, 30, 80), (110, 70, 170), (220, 210, 250)),
    "desert": ((226, 190, 130), (204, 140, 80), (170, 100, 60)),
    "autumn": ((210, 90, 40), (236, 160, 50), (150, 70, 40), (190, 150, 60)),
    "fall": ((210, 90, 40), (236, 160, 50), (150, 70, 40)),
    "spring": ((150, 210, 120), (250, 180, 200), (250, 230, 130)),
    "summer": ((250, 200, 60), (70, 170, 220), (110, 190, 90)),
    "winter": ((210, 226, 240), (140, 170, 210), (250, 250, 255)),
    "snow": ((236, 242, 250), (170, 190, 220)),
    "ice": ((190, 226, 240), (130, 190, 220)),
    "fire": ((230, 60, 30), (250, 140, 30), (252, 214, 60)),
    "lava": ((200, 40, 20), (250, 110, 20)),
    "candy": ((250, 150, 200), (140, 210, 240), (250, 230, 120)),
    "pastel": ((250, 200, 210), (200, 230, 210), (200, 210, 250), (250, 240, 200)),
    "vintage": ((190, 150, 110), (150, 110, 80), (220, 200, 160)),
    "sepia": ((170, 130, 90), (210, 180, 140), (120, 90, 60)),
    "wood": ((160, 110, 60), (120, 80, 44), (200, 150, 90)),
    "wooden": ((160, 110, 60), (120, 80, 44), (200, 150, 90)),
    "leather": ((130, 80, 46), (170, 110, 64)),
    "metal": ((150, 156, 166), (100, 106, 116), (200, 204, 210)),
    "steel": ((130, 140, 152), (180, 188, 198)),
    "brass": ((200, 160, 70), (160, 120, 50)),
    "stone": ((150, 146, 136), (110, 106, 100), (190, 186, 176)),
    "neon": ((255, 40, 180), (40, 230, 255), (170, 255, 40), (255, 220, 40)),
    "cyberpunk": ((255, 40, 180), (40, 230, 255), (140, 60, 255)),
    "rainbow": ((230, 60, 60), (246, 150, 40), (248, 220, 60), (70, 170, 80), (60, 120, 220)),
    "tropical": ((250, 150, 40), (40, 190, 170), (240, 90, 120), (120, 200, 60)),
    "mountain": ((120, 130, 150), (90, 140, 90), (236, 240, 246)),
    "sky": ((120, 180, 236), (250, 250, 252)),
    "cloud": ((236, 240, 248), (190, 204, 226)),
}

# Top and bottom of the background, for prompts that name the setting.
SKY_WORDS: dict[str, tuple[RGB, RGB]] = {
    "night": ((46, 58, 112), (104, 112, 160)),
    "space": ((34, 30, 70), (84, 70, 130)),
    "sunset": ((250, 180, 120), (252, 226, 190)),
    "sunrise": ((252, 208, 170), (250, 236, 214)),
    "sea": ((170, 214, 240), (214, 236, 246)),
    "ocean": ((160, 206, 238), (206, 232, 246)),
    "beach": ((176, 222, 246), (246, 236, 210)),
    "forest": ((206, 230, 200), (236, 244, 222)),
    "jungle": ((196, 230, 190), (232, 244, 214)),
    "desert": ((246, 222, 180), (250, 238, 214)),
    "winter": ((220, 232, 246), (244, 248, 252)),
    "snow": ((220, 232, 246), (244, 248, 252)),
    "autumn": ((246, 226, 196), (250, 240, 222)),
    "neon": ((22, 16, 44), (48, 24, 70)),
    "cyberpunk": ((20, 16, 46), (56, 20, 70)),
}

# Words that darken or lighten the colour word right after them ("dark red").
SHADE_WORDS: dict[str, float] = {
    "dark": -0.45,
    "deep": -0.35,
    "light": 0.45,
    "pale": 0.55,
    "bright": 0.15,
}

_WORD = re.compile(r"[a-z]+")


def prompt_words(prompt: str) -> list[str]:
    """Lower-case words of the prompt, with a plural "s" dropped where the singular is known."""
    words = []
    for word in _WORD.findall(prompt.lower()):
        singular = word[:-1] if word.endswith("s") else word
        known = singular in COLOUR_WORDS or singular in SCENE_WORDS or singular in SKY_WORDS
        words.append(singular if known and word not in COLOUR_WORDS else word)
    return words


def colours_named_in(prompt: str) -> list[RGB]:
    """Colours the prompt asks for, in the order it names them, without repeats."""
    colours: list[RGB] = []
    shade = 0.0
    for word in prompt_words(prompt):
        if word in SHADE_WORDS:
            shade = SHADE_WORDS[word]
            continue
        named: tuple[RGB, ...] = ()
        if word in COLOUR_WORDS:
            named = (_shaded(COLOUR_WORDS[word], shade),)
        elif word in SCENE_WORDS:
            named = SCENE_WORDS[word]
        shade = 0.0
        colours.extend(colour for colour in named if colour not in colours)
    return colours


def sky_named_in(prompt: str) -> tuple[RGB, RGB] | None:
    """The background tones of the first setting the prompt names, if any."""
    for word in prompt_words(prompt):
        if word in SKY_WORDS:
            return SKY_WORDS[word]
    return None


def _shaded(colour: RGB, amount: float) -> RGB:
    """Mix towards white (amount > 0) or black (amount < 0)."""
    target = 255 if amount > 0 else 0
    r, g, b = (round(c + (target - c) * abs(amount)) for c in colour)
    return (r, g, b)
