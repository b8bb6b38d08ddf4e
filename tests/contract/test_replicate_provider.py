"""The Replicate adapter through the real ``replicate`` SDK against the Replicate stand-in."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw

from local.server import listen
from local.standins.control import StandinControl
from local.standins.replicate import create_app
from sketchbridge.domain.errors import SketchbridgeError
from sketchbridge.providers.base import ProgressUpdate, ProviderRequest, ProviderResult
from sketchbridge.providers.replicate import ReplicateConfig, ReplicateProvider
from sketchbridge.providers.replicate.client import WAIT_ANSWER_GRACE_S
from tests.contract.conftest import Serve

TOKEN = "r8_contract_test_token"


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


def provider(base_url: str, token: str | None = TOKEN, **config: Any) -> ReplicateProvider:
    settings = {"base_url": base_url, "poll_interval_s": 0.05, **config}
    return ReplicateProvider(lambda: token, ReplicateConfig(**settings))


def sketch_request(**overrides: Any) -> ProviderRequest:
    sketch = Image.new("RGB", (300, 200), "white")
    pen = ImageDraw.Draw(sketch)
    pen.ellipse((60, 30, 240, 170), outline="black", width=5)
    pen.line((0, 150, 300, 150), fill="black", width=4)
    values: dict[str, Any] = {
        "sketch": sketch,
        "prompt": "a red balloon over green hills",
        "negative_prompt": None,
        "seed": 1234,
        "steps": 12,
        "strength": 0.75,
        "guidance_scale": 7.5,
        "width": 384,
        "height": 256,
        "timeout_s": 20.0,
    }
    return ProviderRequest(**{**values, **overrides})


def generate(
    adapter: ReplicateProvider, request: ProviderRequest
) -> tuple[ProviderResult, list[ProgressUpdate]]:
    events: list[ProgressUpdate] = []
    return adapter.generate(request, events.append), events


def failure_of(adapter: ReplicateProvider, request: ProviderRequest) -> SketchbridgeError:
    with pytest.raises(SketchbridgeError) as caught:
        adapter.generate(request, lambda _: None)
    error = caught.value
    assert TOKEN not in f"{error} {error.suggestions} {error.details}"
    return error


def paths(control: StandinControl, method: str) -> list[str]:
    return [entry["path"] for entry in control.requests if entry["method"] == method]


# --- success ----------------------------------------------------------------------------------


def test_returns_a_png_of_the_requested_size_and_honours_the_seed(base_url: str) -> None:
    result, _ = generate(provider(base_url), sketch_request())

    with Image.open(io.BytesIO(result.image_png)) as image:
        assert (image.format, image.size) == ("PNG", (384, 256))
    assert (result.width, result.height, result.seed) == (384, 256, 1234)
    assert result.model == "black-forest-labs/flux-canny-dev"
    again, _ = generate(provider(base_url), sketch_request())
    other, _ = generate(provider(base_url), sketch_request(seed=99))
    assert again.image_png == result.image_png
    assert other.image_png != result.image_png


def test_reports_every_step_once_in_order(base_url: str) -> None:
    _, events = generate(provider(base_url), sketch_request(steps=12))

    assert [event.step for event in events] == list(range(1, 13))
    assert {event.total_steps for event in events} == {12}


def test_polls_when_the_prefer_wait_hold_ends_before_the_picture(
    base_url: str, control: StandinControl
) -> None:
    control.set_script([{"outcome": "slow_start", "s": 1.2}])

    result, events = generate(provider(base_url, prefer_wait_s=1), sketch_request())

    assert result.width == 384
    assert len(events) == 12
    assert len(paths(control, "GET")) >= 2  # polled, then fetched the output URL


def test_runs_the_official_model_through_the_models_endpoint(
    base_url: str, control: StandinControl
) -> None:
    generate(provider(base_url), sketch_request())

    assert paths(control, "POST") == ["/v1/models/black-forest-labs/flux-canny-dev/predictions"]


def test_a_configured_version_runs_through_the_predictions_endpoint(
    base_url: str, control: StandinControl
) -> None:
    result, _ = generate(provider(base_url, version="a" * 64), sketch_request())

    assert result.width == 384
    assert paths(control, "POST") == ["/v1/predictions"]


def test_a_large_sketch_is_uploaded_through_the_files_api(
    base_url: str, control: StandinControl
) -> None:
    result, _ = generate(provider(base_url, inline_max_bytes=0), sketch_request())

    assert result.width == 384
    assert paths(control, "POST")[0] == "/v1/files"


def test_a_webp_output_is_handed_on_as_png(base_url: str) -> None:
    result, _ = generate(provider(base_url, output_format="webp"), sketch_request())

    with Image.open(io.BytesIO(result.image_png)) as image:
        assert (image.format, image.size) == ("PNG", (384, 256))


def test_a_delayed_answer_within_the_budget_still_succeeds(
    base_url: str, control: StandinControl
) -> None:
    control.set_script([{"delay_s": 0.5}])

    result, _ = generate(provider(base_url), sketch_request())

    assert result.width == 384


# --- failures ---------------------------------------------------------------------------------

CREDIT_429 = {
    "detail": "You have insufficient credit to run this model. Go to "
    "https://replicate.com/account/billing#billing to purchase credit.",
    "status": 429,
}


@pytest.mark.parametrize(
    ("outcome", "code", "retry_after_s"),
    [
        ({"status": 429, "headers": {"retry-after": "7"}}, "rate_limited", 7.0),
        ({"status": 429}, "rate_limited", 10.0),  # recorded body: "retry_after": 10, no header
        ({"status": 429, "body": CREDIT_429}, "quota_exhausted", None),
        ({"status": 402}, "quota_exhausted", None),
        ({"status": 401}, "auth_failed", None),
        ({"status": 422}, "invalid_params", None),
        ({"status": 500}, "provider_unavailable", None),
        ({"status": 503}, "provider_unavailable", None),
        ({"outcome": "moderation"}, "content_policy", None),
        ({"outcome": "aborted"}, "provider_unavailable", None),
    ],
    ids=lambda value: str(value) if not isinstance(value, dict) else None,
)
def test_each_scripted_failure_maps_to_its_error_code(
    base_url: str,
    control: StandinControl,
    outcome: dict[str, Any],
    code: str,
    retry_after_s: float | None,
) -> None:
    control.set_script([outcome])

    error = failure_of(provider(base_url), sketch_request())

    assert error.code == code
    assert getattr(error, "retry_after_s", None) == retry_after_s
    assert error.message and error.suggestions


def test_a_moderation_refusal_is_final_and_not_failed_over(
    base_url: str, control: StandinControl
) -> None:
    control.set_script([{"outcome": "moderation"}])

    error = failure_of(provider(base_url), sketch_request())

    assert (error.retryable, error.failover_helps) == (False, False)
    assert "NSFW" in error.details["provider_detail"]


def test_a_slow_start_past_the_deadline_times_out_and_cancels_the_prediction(
    base_url: str, control: StandinControl
) -> None:
    control.set_script([{"outcome": "slow_start", "s": 30}])

    error = failure_of(provider(base_url, prefer_wait_s=1), sketch_request(timeout_s=2.0))

    assert error.code == "timeout"
    cancels = [path for path in paths(control, "POST") if path.endswith("/cancel")]
    assert len(cancels) == 1
    prediction = httpx.get(
        f"{base_url}{cancels[0].removesuffix('/cancel')}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).json()
    assert prediction["status"] == "canceled"


def test_an_answer_delayed_past_the_deadline_times_out(
    base_url: str, control: StandinControl
) -> None:
    control.set_script([{"delay_s": 3}])

    error = failure_of(provider(base_url), sketch_request(timeout_s=1.5))

    assert error.code == "timeout"


def test_a_timeout_message_names_the_deadline_that_fired_not_the_whole_budget(
    base_url: str, control: StandinControl
) -> None:
    """Issue 12: a hang cut off by the create's read timeout (Prefer: wait plus its grace)
    said "did not finish within 90 seconds", the whole budget."""
    control.set_script([{"delay_s": 8}])

    error = failure_of(provider(base_url, prefer_wait_s=1), sketch_request(timeout_s=90.0))

    assert error.code == "timeout"
    read_timeout = 1 + WAIT_ANSWER_GRACE_S
    assert error.message == (
        f"Replicate did not answer within {read_timeout:.1f} seconds (its read timeout)."
    )


def test_a_provider_that_is_down_is_unavailable(base_url: str, control: StandinControl) -> None:
    control.set_mode("down")

    assert failure_of(provider(base_url), sketch_request()).code == "provider_unavailable"


def test_a_token_the_stand_in_rejects_is_an_auth_failure(serve: Serve) -> None:
    strict_url = serve(create_app(api_token="r8_the_right_one"))

    error = failure_of(provider(strict_url), sketch_request())

    assert error.code == "auth_failed"
    assert "authentication token" in error.details["provider_detail"]


def test_no_key_is_an_auth_failure_with_advice_for_the_admin(base_url: str) -> None:
    error = failure_of(provider(base_url, token=None), sketch_request())

    assert error.code == "auth_failed"
    assert any("Admin" in suggestion for suggestion in error.suggestions)


def test_an_unreachable_replicate_is_unavailable() -> None:
    closed = listen(0)
    port = closed.getsockname()[1]
    closed.close()

    error = failure_of(provider(f"http://127.0.0.1:{port}"), sketch_request())

    assert error.code == "provider_unavailable"


def test_parameters_the_model_cannot_take_are_refused_before_any_call(
    base_url: str, control: StandinControl
) -> None:
    error = failure_of(provider(base_url), sketch_request(steps=60))

    assert error.code == "invalid_params"
    assert control.requests == []


def test_the_capabilities_say_what_is_not_honoured() -> None:
    capabilities = provider("http://127.0.0.1:1").capabilities

    assert (capabilities.seed, capabilities.negative_prompt) == (True, False)
    assert capabilities.max_steps == 50
    assert dataclasses.asdict(capabilities)["progress"] == "steps"


# --- resuming after a processor died ----------------------------------------------------------


def test_a_prediction_started_before_a_crash_is_followed_not_paid_for_again(
    base_url: str, control: StandinControl
) -> None:
    started: list[str] = []
    first, _ = generate(provider(base_url), sketch_request(on_started=started.append))
    (prediction_id,) = started
    creates_before = len(paths(control, "POST"))

    resumed, _ = generate(provider(base_url), sketch_request(resume_id=prediction_id))

    assert len(paths(control, "POST")) == creates_before  # no second prediction
    assert f"/v1/predictions/{prediction_id}" in paths(control, "GET")
    assert resumed.image_png == first.image_png


def test_a_prediction_that_is_gone_is_started_again(base_url: str, control: StandinControl) -> None:
    result, _ = generate(provider(base_url), sketch_request(resume_id="no-such-prediction"))
    assert result.width == 384
    assert any("/predictions" in path for path in paths(control, "POST"))
