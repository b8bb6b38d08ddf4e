"""A job canceled mid-run, through each real adapter against its stand-in.

``ProviderRequest.should_stop`` turning true must stop the provider's work where the provider
allows it, raise ``JobCanceledError`` and say what the provider billed for the work done: the
OpenAI stream is closed (OpenAI has no cancel call), the local renderer stops between steps,
and Bedrock's one blocking InvokeModel is skipped when the cancel comes first, or billed as
the image it delivered when it comes during the call.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from local.standins import bedrock as bedrock_standin
from local.standins import openai as openai_standin
from local.standins.control import StandinControl
from sketchbridge.domain.errors import JobCanceledError
from sketchbridge.providers.base import ProgressUpdate, ProviderRequest
from sketchbridge.providers.bedrock import BedrockConfig, BedrockProvider
from sketchbridge.providers.local import LocalProvider
from sketchbridge.providers.openai_images import OpenAIConfig, OpenAIProvider
from tests.contract.conftest import Serve

KEY = "sk-contract-test-key"


def sketch() -> Image.Image:
    image = Image.new("RGB", (320, 240), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 80, 200, 200), outline="black", width=4)
    draw.ellipse((230, 30, 290, 90), outline="black", width=4)
    return image


def request(**overrides: Any) -> ProviderRequest:
    fields: dict[str, Any] = {
        "sketch": sketch(),
        "prompt": "a red house under a yellow sun",
        "negative_prompt": None,
        "seed": 11,
        "steps": 10,
        "strength": 0.75,
        "guidance_scale": 7.5,
        "width": 512,
        "height": 384,
        "timeout_s": 20.0,
        **overrides,
    }
    return ProviderRequest(**fields)


class StopAfter:
    """``should_stop`` that turns true once ``updates`` progress updates were seen."""

    def __init__(self, updates: int) -> None:
        self.wanted = updates
        self.seen: list[ProgressUpdate] = []
        self.asked = 0

    def progress(self, update: ProgressUpdate) -> None:
        self.seen.append(update)

    def __call__(self) -> bool:
        self.asked += 1
        return len(self.seen) >= self.wanted


# --------------------------------------------------------------------------- OpenAI


@pytest.fixture
def openai_slow(serve: Serve) -> Iterator[tuple[str, StandinControl]]:
    control = StandinControl()
    yield serve(openai_standin.create_app(control, api_key=KEY, seconds_per_partial=0.4)), control


def test_openai_closes_the_stream_and_reports_the_previews_it_was_billed_for(
    openai_slow: tuple[str, StandinControl],
) -> None:
    base_url, control = openai_slow
    provider = OpenAIProvider(
        OpenAIConfig(base_url=f"{base_url}/v1", partial_images=3), api_key=lambda: KEY
    )
    # The opening line, then the first preview: canceled there.
    stop = StopAfter(updates=2)
    try:
        with pytest.raises(JobCanceledError) as caught:
            provider.generate(request(should_stop=stop), stop.progress)
    finally:
        provider.close()

    assert [update.preview_png is not None for update in stop.seen] == [False, True]
    usage = caught.value.usage
    assert usage is not None and usage.partial_images == 1 and usage.images == 0
    # One call, no second attempt; the stand-in saw the client go and billed what it sent.
    assert [entry["path"] for entry in control.requests] == ["/v1/images/edits"]
    deadline = time.monotonic() + 5
    while not control.billing()["calls"] and time.monotonic() < deadline:
        time.sleep(0.05)
    (bill,) = control.billing()["calls"]
    assert bill["basis"] == "partial_images" and bill["partial_images"] == 1


def test_openai_is_not_called_for_a_job_canceled_before_it_starts(
    openai_slow: tuple[str, StandinControl],
) -> None:
    base_url, control = openai_slow
    provider = OpenAIProvider(OpenAIConfig(base_url=f"{base_url}/v1"), api_key=lambda: KEY)
    try:
        with pytest.raises(JobCanceledError) as caught:
            provider.generate(request(should_stop=lambda: True), lambda _update: None)
    finally:
        provider.close()

    assert caught.value.usage is None
    assert control.requests == []


# --------------------------------------------------------------------------- Bedrock


@pytest.fixture
def bedrock_standin_url(
    serve: Serve, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[str, StandinControl]]:
    control = StandinControl()
    url = serve(bedrock_standin.create_app(control))
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASTANDIN000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stand-in-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield url, control


def _bedrock() -> BedrockProvider:
    return BedrockProvider(
        BedrockConfig(region="us-west-2", max_attempts=1, min_read_timeout_s=1.0)
    )


def test_bedrock_is_not_called_for_a_job_canceled_before_its_call(
    bedrock_standin_url: tuple[str, StandinControl],
) -> None:
    _, control = bedrock_standin_url

    with pytest.raises(JobCanceledError) as caught:
        _bedrock().generate(request(should_stop=lambda: True), lambda _update: None)

    assert caught.value.usage is None
    assert control.requests == [] and control.billing()["calls"] == []


def test_bedrock_canceled_during_its_call_reports_the_image_it_was_billed_for(
    bedrock_standin_url: tuple[str, StandinControl],
) -> None:
    _, control = bedrock_standin_url
    control.set_script([{"delay_s": 0.3}])
    # Asked before the call (not yet), then after it (canceled meanwhile).
    answers = iter([False, True])

    with pytest.raises(JobCanceledError) as caught:
        _bedrock().generate(request(should_stop=lambda: next(answers)), lambda _update: None)

    usage = caught.value.usage
    assert usage is not None and usage.images == 1 and usage.external_id
    (call,) = [entry for entry in control.requests if entry["path"].endswith("/invoke")]
    assert call["method"] == "POST"
    assert len(control.billing()["calls"]) == 1


# --------------------------------------------------------------------------- local renderer


def test_the_local_renderer_stops_between_steps_and_bills_nothing() -> None:
    stop = StopAfter(updates=3)

    with pytest.raises(JobCanceledError) as caught:
        LocalProvider().generate(request(steps=10, should_stop=stop), stop.progress)

    assert [update.step for update in stop.seen] == [1, 2, 3]
    assert caught.value.usage is None
