"""Each catalog model, and a cancel, through the real ``replicate`` SDK against the stand-in."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from local.standins.control import StandinControl
from local.standins.replicate import create_app
from sketchbridge.domain.errors import JobCanceledError
from sketchbridge.providers.base import ProgressUpdate, ProviderRequest
from sketchbridge.providers.replicate import (
    CATALOG,
    CONTROLNET_SCRIBBLE,
    FLUX_CANNY_DEV,
    ReplicateConfig,
    ReplicateProvider,
)
from tests.contract.conftest import Serve
from tests.contract.test_replicate_provider import sketch_request

TOKEN = "r8_catalog_test_token"


@pytest.fixture(scope="module")
def control() -> StandinControl:
    return StandinControl()


@pytest.fixture(scope="module")
def base_url(serve_for_module: Serve, control: StandinControl) -> str:
    return serve_for_module(create_app(control, seconds_per_step=0.005))


@pytest.fixture(autouse=True)
def fresh_standin(control: StandinControl) -> Iterator[None]:
    control.reset()
    yield


def adapter(base_url: str, model: str) -> ReplicateProvider:
    config = ReplicateConfig(base_url=base_url, model=model, poll_interval_s=0.05)
    return ReplicateProvider(lambda: TOKEN, config)


def prediction(base_url: str, prediction_id: str | None) -> dict[str, Any]:
    answer = httpx.get(
        f"{base_url}/v1/predictions/{prediction_id}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize("model", sorted(CATALOG))
def test_each_catalog_model_draws_through_the_sdk_and_reports_its_predict_time(
    base_url: str, model: str
) -> None:
    result = adapter(base_url, model).generate(sketch_request(steps=6), lambda _: None)

    with Image.open(io.BytesIO(result.image_png)) as image:
        assert (image.format, image.size) == ("PNG", (384, 256))
    assert result.model == model
    assert result.usage is not None
    ran = prediction(base_url, result.usage.external_id)
    assert ran["status"] == "succeeded"
    assert result.usage.predict_time_s == ran["metrics"]["predict_time"] > 0
    # The model received its own inputs, under its own names, nothing else.
    entry = CATALOG[model]
    assert set(ran["input"]) == set(entry.model_input(sketch_request(), "x"))


def test_the_scribble_model_runs_by_version_and_reads_the_strokes_of_the_sketch(
    base_url: str, control: StandinControl
) -> None:
    result = adapter(base_url, CONTROLNET_SCRIBBLE.name).generate(
        sketch_request(steps=4), lambda _: None
    )

    [create] = [entry for entry in control.requests if entry["method"] == "POST"]
    assert (create["path"], create["model"]) == ("/v1/predictions", CONTROLNET_SCRIBBLE.name)
    assert result.usage is not None
    ran = prediction(base_url, result.usage.external_id)
    assert ran["version"] == CONTROLNET_SCRIBBLE.version
    sent = ran["input"]["image"]
    with Image.open(io.BytesIO(base64.b64decode(sent.partition(",")[2]))) as picture:
        grey = np.asarray(picture.convert("L"))
    # Dark strokes on white, where the sketch's ellipse and line are: the model's own reading
    # (darkest channel below 127) finds ink, and not everywhere.
    ink = grey < 127
    assert 0.005 < ink.mean() < 0.3
    # The sketch (300 x 200) fills 384 x 256 at 1.28 x: its line at y 150 is at y 192 here,
    # alone left of the ellipse (x < 77); the paper above it is bare.
    assert ink[186:198, 5:60].any()
    assert not ink[150:180, 5:60].any()


def test_the_stand_in_refuses_an_input_the_model_does_not_have(base_url: str) -> None:
    flux_input = FLUX_CANNY_DEV.model_input(sketch_request(), "data:image/png;base64,AAAA")
    answer = httpx.post(
        f"{base_url}/v1/predictions",
        json={
            "version": f"{CONTROLNET_SCRIBBLE.name}:{CONTROLNET_SCRIBBLE.version}",
            "input": flux_input,
        },
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )

    assert answer.status_code == 422
    assert "guidance" in answer.json()["detail"]


@pytest.mark.parametrize("model", sorted(CATALOG))
def test_a_cancel_between_polls_calls_the_cancel_url_and_says_what_was_billed(
    base_url: str, control: StandinControl, model: str
) -> None:
    control.set_script([{"outcome": "slow", "s_per_step": 0.2}])
    steps_seen: list[ProgressUpdate] = []
    stop = threading.Event()

    def on_progress(update: ProgressUpdate) -> None:
        steps_seen.append(update)
        if update.step >= 2:
            stop.set()

    request = sketch_request(steps=30, should_stop=stop.is_set)
    with pytest.raises(JobCanceledError) as caught:
        adapter(base_url, model).generate(request, on_progress)

    cancels = [e for e in control.requests if e["path"].endswith("/cancel")]
    assert [(e["method"], e["model"]) for e in cancels] == [("POST", model)]
    [bill] = control.billing()["calls"]
    assert bill["status"] == "canceled"
    usage = caught.value.usage
    assert usage is not None and usage.external_id == bill["id"]
    assert usage.predict_time_s is not None and usage.predict_time_s > 0
    assert usage.images == 0
    assert max(update.step for update in steps_seen) < 30


def test_a_stop_asked_before_anything_started_creates_nothing(
    base_url: str, control: StandinControl
) -> None:
    request: ProviderRequest = sketch_request(should_stop=lambda: True)

    with pytest.raises(JobCanceledError) as caught:
        adapter(base_url, FLUX_CANNY_DEV.name).generate(request, lambda _: None)

    assert caught.value.usage is None
    assert [e for e in control.requests if e["method"] == "POST"] == []
