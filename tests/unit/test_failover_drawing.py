"""A failover hop away from a model that reads control maps gets a drawing, not the map.

Submit prepares the sketch for the provider asked for: for Replicate's ControlNet scribble
model that is a white-on-black scribble map. OpenAI, Bedrock and the local renderer read
dark lines on paper, so a hop to them must not be sent white strokes on black.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from sketchbridge.domain.models import JobRecord
from sketchbridge.preprocessing.lines import control_map, ink_mask, paper_sketch
from sketchbridge.providers.base import ProviderRequest
from sketchbridge.services.process_job import drawing_for
from tests.support.fakes import SKETCHES


@dataclass
class _Named:
    name: str


@dataclass
class _ReadsMaps:
    name: str
    image_target: str = "replicate-controlnet-scribble"


def _turtle() -> Image.Image:
    with Image.open(SKETCHES / "turtle.png") as opened:
        padded = ImageOps.pad(opened.convert("RGB"), (512, 512), color=(255, 255, 255))
    return padded


def _record(provider_requested: str) -> JobRecord:
    return JobRecord.model_validate(
        {
            "id": "job-1",
            "user_id": "ada",
            "status": "running",
            "prompt": "a sea turtle",
            "provider_requested": provider_requested,
            "params": {
                "seed": 1,
                "steps": 20,
                "strength": 0.7,
                "guidance_scale": 7.5,
                "width": 512,
                "height": 512,
            },
            "sketch_key": "sketches/x.png",
            "fingerprint": "f",
            "created_at": "2026-12-03T12:00:00+00:00",
            "updated_at": "2026-12-03T12:00:00+00:00",
            "expires_at": 0,
        }
    )


def _request(sketch: Image.Image) -> ProviderRequest:
    return ProviderRequest(
        sketch=sketch,
        prompt="a sea turtle",
        negative_prompt=None,
        seed=1,
        steps=20,
        strength=0.7,
        guidance_scale=7.5,
        width=512,
        height=512,
    )


def test_a_hop_to_openai_gets_dark_strokes_on_paper_where_the_map_had_white_on_black() -> None:
    scribble = control_map(_turtle(), "scribble")
    sent = drawing_for(_Named("openai"), _request(scribble), _record("replicate")).sketch  # type: ignore[arg-type]

    grey = np.asarray(sent.convert("L"))
    assert grey.mean() > 127  # mostly paper now, as a drawing is
    # The same strokes: the ink of what is sent is exactly where the map was white.
    assert np.array_equal(ink_mask(sent), np.asarray(scribble.convert("L")) == 255)


def test_the_provider_asked_for_and_map_readers_keep_the_map() -> None:
    scribble = control_map(_turtle(), "scribble")
    request = _request(scribble)
    assert drawing_for(_Named("replicate"), request, _record("replicate")) is request  # type: ignore[arg-type]
    assert drawing_for(_ReadsMaps("replicate"), request, _record("openai")) is request  # type: ignore[arg-type]


def test_a_drawing_is_sent_as_drawn() -> None:
    turtle = _turtle()
    assert paper_sketch(turtle) is turtle
    request = _request(turtle)
    assert drawing_for(_Named("bedrock"), request, _record("replicate")) is request  # type: ignore[arg-type]
