"""The models the Replicate stand-in plays, each with its own input schema.

    black-forest-labs/flux-canny-dev   official (run by name), billed per output image;
                                       also played for any other official model name
    jagilley/controlnet-scribble       community (run by version), billed per second

A create request's ``input`` is checked as the model's schema checks it: a wrong type or a
value out of range, a missing required input, or an input the schema does not have is
answered 422 (``InvalidInputError``), so an adapter sending FLUX's ``guidance`` to the
scribble model is refused here as it would be there.

Schemas: FLUX canny [dev] as ``../shared/providers/replicate.md`` and the recorded examples
show it; ControlNet scribble as its Replicate page lists it (``image``, ``prompt``,
``num_samples`` "1"|"4", ``image_resolution`` "256"|"512"|"768", ``ddim_steps``, ``scale``
0.1..30, ``seed``, ``eta``, ``a_prompt``, ``n_prompt``), quoted by public client code. Like
the real cog, the scribble model reads dark strokes (min channel < 127) on light paper
and answers its scribble map first, then the picture [?: the map-first order is how the
ControlNet cogs answer; not recorded here].
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

FLUX_CANNY_DEV = "black-forest-labs/flux-canny-dev"
CONTROLNET_SCRIBBLE = "jagilley/controlnet-scribble"
# The version public clients pin; the stand-in knows it by its bare id too.
CONTROLNET_SCRIBBLE_VERSION = "435061a1b5a4c1e26740464bf786efdfa9cb3a3ac488595a2de23e143fdb0117"
KNOWN_VERSIONS = {CONTROLNET_SCRIBBLE_VERSION: CONTROLNET_SCRIBBLE}
COMMUNITY_MODELS = frozenset({CONTROLNET_SCRIBBLE})

OUTPUT_FORMATS = ("webp", "jpg", "png")
FLUX_INPUTS = frozenset(
    {
        "prompt",
        "control_image",
        "num_outputs",
        "num_inference_steps",
        "guidance",
        "seed",
        "megapixels",
        "output_format",
        "output_quality",
        "disable_safety_checker",
        "lora_weights",
        "lora_scale",
    }
)
SCRIBBLE_INPUTS = frozenset(
    {
        "image",
        "prompt",
        "num_samples",
        "image_resolution",
        "ddim_steps",
        "scale",
        "seed",
        "eta",
        "a_prompt",
        "n_prompt",
    }
)
SCRIBBLE_RESOLUTIONS = ("256", "512", "768")
# The threshold the scribble cog draws its map with: a pixel whose darkest channel is below.
SCRIBBLE_INK_BELOW = 127


class InvalidInputError(ValueError):
    """A create request the model would refuse: answered 422."""


@dataclass
class ModelParams:
    """A model's inputs, validated, with its defaults: what the worker renders."""

    prompt: str
    sketch: Image.Image  # dark strokes on light paper, as the renderer reads them
    steps: int
    seed: int
    output_format: str
    size: tuple[int, int]
    # Pictures answered before the generated one (the scribble model's own map).
    leading_outputs: tuple[Image.Image, ...] = ()


# Given the input and a way to fetch an uploaded file's bytes by URL.
FileReader = Callable[[str], bytes | None]


def params_for(model: str, model_input: dict[str, Any], read_file: FileReader) -> ModelParams:
    """Check ``model_input`` against ``model``'s schema; InvalidInputError lists the problems."""
    if model == CONTROLNET_SCRIBBLE:
        return _scribble_params(model_input, read_file)
    return _flux_params(model_input, read_file)


class _Checker:
    def __init__(self, model_input: dict[str, Any], allowed: frozenset[str]) -> None:
        self.input = model_input
        self.problems = [
            f"- input: Additional property {name} is not allowed"
            for name in sorted(set(model_input) - allowed)
        ]

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.input.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problems.append(f"- input.{name}: Invalid type. Expected: integer")
            return default
        if not low <= value <= high:
            bound = "greater than or equal to" if value < low else "less than or equal to"
            self.problems.append(f"- input.{name}: Must be {bound} {low if value < low else high}")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self.input.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problems.append(f"- input.{name}: Invalid type. Expected: number")
            return default
        if not low <= value <= high:
            self.problems.append(f"- input.{name}: Must be between {low:g} and {high:g}")
        return float(value)

    def choice(self, name: str, default: str, options: tuple[str, ...]) -> str:
        value = self.input.get(name, default)
        if value not in options:
            listed = ", ".join(f'"{option}"' for option in options)
            self.problems.append(f"- input.{name}: must be one of {listed}")
            return default
        return str(value)

    def text(self, name: str, *, required: bool) -> str:
        value = self.input.get(name, "")
        if not isinstance(value, str) or (required and not value.strip()):
            self.problems.append(f"- input.{name}: {name} is required")
            return ""
        return value

    def image(self, name: str, read_file: FileReader) -> Image.Image | None:
        try:
            return _image(name, self.input.get(name), read_file)
        except InvalidInputError as error:
            self.problems.append(str(error))
            return None

    def done(self) -> None:
        if self.problems:
            raise InvalidInputError("\n".join(self.problems))


def _flux_params(model_input: dict[str, Any], read_file: FileReader) -> ModelParams:
    check = _Checker(model_input, FLUX_INPUTS)
    prompt = check.text("prompt", required=True)
    steps = check.integer("num_inference_steps", 28, 1, 50)
    check.integer("num_outputs", 1, 1, 4)
    check.integer("output_quality", 80, 0, 100)
    seed = check.integer("seed", random.randrange(2**32), -(2**63), 2**63 - 1)
    check.number("guidance", 30, 0, 100)
    output_format = check.choice("output_format", "webp", OUTPUT_FORMATS)
    megapixels = check.choice("megapixels", "1", ("1", "0.25", "match_input"))
    sketch = check.image("control_image", read_file)
    check.done()
    assert sketch is not None
    return ModelParams(
        prompt=prompt,
        sketch=sketch,
        steps=steps,
        seed=seed,
        output_format=output_format,
        size=flux_output_size(sketch.size, megapixels),
    )


def _scribble_params(model_input: dict[str, Any], read_file: FileReader) -> ModelParams:
    check = _Checker(model_input, SCRIBBLE_INPUTS)
    prompt = check.text("prompt", required=True)
    check.text("a_prompt", required=False)
    check.text("n_prompt", required=False)
    steps = check.integer("ddim_steps", 20, 1, 100)
    seed = check.integer("seed", random.randrange(2**32), 0, 2**32 - 1)
    check.number("scale", 9.0, 0.1, 30.0)
    check.number("eta", 0.0, 0.0, 1.0)
    check.choice("num_samples", "1", ("1", "4"))
    resolution = check.choice("image_resolution", "512", SCRIBBLE_RESOLUTIONS)
    upload = check.image("image", read_file)
    check.done()
    assert upload is not None
    ink = np.asarray(upload).min(axis=2) < SCRIBBLE_INK_BELOW
    size = scribble_working_size(upload.size, int(resolution))
    scribble_map = Image.fromarray(np.where(ink, 255, 0).astype(np.uint8)).resize(size)
    sketch = Image.fromarray(np.where(ink, 0, 255).astype(np.uint8)).convert("RGB")
    return ModelParams(
        prompt=prompt,
        sketch=sketch,
        steps=steps,
        seed=seed,
        output_format="png",
        size=size,
        leading_outputs=(scribble_map,),
    )


def scribble_working_size(input_size: tuple[int, int], resolution: int) -> tuple[int, int]:
    """ControlNet's resize_image: the short side to ``resolution``, both sides to 64s."""
    width, height = input_size
    scale = resolution / min(width, height)
    return (
        max(64, round(width * scale / 64) * 64),
        max(64, round(height * scale / 64) * 64),
    )


def flux_output_size(input_size: tuple[int, int], megapixels: str) -> tuple[int, int]:
    """The picture's size: FLUX keeps the aspect, works in 16s and stops at 1440 a side."""
    width, height = input_size
    if megapixels == "match_input":
        scale = min(1.0, 1440 / max(width, height))
    else:
        scale = math.sqrt(float(megapixels) * 1024 * 1024 / (width * height))

    def fitted(side: int) -> int:
        return max(64, min(1440, round(side * scale / 16) * 16))

    return fitted(width), fitted(height)


def _image(name: str, value: Any, read_file: FileReader) -> Image.Image:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"- input.{name}: {name} is required")
    if value.startswith("data:"):
        header, _, data = value.partition(",")
        if not header.endswith(";base64"):
            raise InvalidInputError(f"- input.{name}: data URLs must be base64")
        try:
            content: bytes | None = base64.b64decode(data, validate=True)
        except binascii.Error as error:
            raise InvalidInputError(f"- input.{name}: not valid base64") from error
    else:
        match = re.search(r"/v1/files/([^/?#]+)", value)
        content = read_file(match.group(1)) if match else None
        if content is None:
            raise InvalidInputError(f"- input.{name}: could not download {value}")
    try:
        with Image.open(io.BytesIO(content)) as opened:
            return opened.convert("RGB")
    except (UnidentifiedImageError, OSError) as error:
        raise InvalidInputError(f"- input.{name}: not an image") from error
