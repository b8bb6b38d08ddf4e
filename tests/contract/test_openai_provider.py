"""The OpenAI adapter through the real ``openai`` SDK against the OpenAI stand-in.

Each test scripts the stand-in's next answers, runs ``OpenAIProvider.generate`` and checks what
the person at the canvas would see: the picture and its size, the previews, or the error code
and message; and, from the stand-in's request log, how many calls the adapter made.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from local.standins.control import StandinControl
from local.standins.openai import create_app, sse_event
from sketchbridge.domain.errors import (
    AuthFailedError,
    ContentPolicyError,
    InvalidRequestError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    QuotaExhaustedError,
    RateLimitedError,
    SketchbridgeError,
)
from sketchbridge.providers.base import ProgressUpdate, ProviderRequest
from sketchbridge.providers.openai_images import OpenAIConfig, OpenAIProvider
from sketchbridge.services.provider_chain import _call_with_first_byte_deadline
from tests.contract.conftest import Serve

KEY = "sk-contract-test-key"


@pytest.fixture(scope="module")
def control() -> StandinControl:
    return StandinControl()


@pytest.fixture(scope="module")
def standin_url(serve_for_module: Serve, control: StandinControl) -> str:
    return serve_for_module(create_app(control, api_key=KEY))


_providers_made: list[OpenAIProvider] = []


@pytest.fixture(autouse=True)
def _fresh_standin(control: StandinControl) -> Iterator[None]:
    control.reset()
    yield
    control.reset()
    # Close each test's SDK clients now, not whenever the collector finds them
    # (an unclosed socket then warns in some later, unrelated test).
    while _providers_made:
        _providers_made.pop().close()


def provider_for(base_url: str, *, key: str | None = KEY, **config: Any) -> OpenAIProvider:
    # Backoff in milliseconds keeps the retry tests fast; the logic is the production one.
    settings: dict[str, Any] = {"base_url": f"{base_url}/v1", "retry_backoff_s": 0.01, **config}
    provider = OpenAIProvider(OpenAIConfig(**settings), api_key=lambda: key)
    _providers_made.append(provider)
    return provider


def sketch() -> Image.Image:
    image = Image.new("RGB", (600, 400), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((150, 80, 390, 320), outline="black", width=6)
    draw.line((0, 340, 600, 340), fill="black", width=4)
    return image


def request(**overrides: Any) -> ProviderRequest:
    fields: dict[str, Any] = {
        "sketch": sketch(),
        "prompt": "a red ball on green grass",
        "negative_prompt": None,
        "seed": 7,
        "steps": 1,
        "strength": 0.75,
        "guidance_scale": 7.5,
        "width": 768,
        "height": 512,
        "timeout_s": 20.0,
        **overrides,
    }
    return ProviderRequest(**fields)


def script(control: StandinControl, *outcomes: dict[str, Any]) -> None:
    control.set_script(list(outcomes))


def calls(control: StandinControl) -> list[dict[str, Any]]:
    return [entry for entry in control.requests if entry["path"] == "/v1/images/edits"]


def failure_of(provider: OpenAIProvider, **overrides: Any) -> SketchbridgeError:
    with pytest.raises(SketchbridgeError) as caught:
        provider.generate(request(**overrides), lambda _update: None)
    return caught.value


def error_body(code: str | None, error_type: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


# --- success ----------------------------------------------------------------------------------


def test_redraws_the_sketch_at_the_accepted_size_nearest_its_shape(
    standin_url: str, control: StandinControl
) -> None:
    result = provider_for(standin_url).generate(request(), lambda _update: None)

    picture = Image.open(io.BytesIO(result.image_png))
    assert picture.format == "PNG"
    assert (result.width, result.height) == picture.size == (1536, 1024)
    assert result.model == "gpt-image-2"
    assert [call["model"] for call in calls(control)] == ["gpt-image-2"]


def test_reports_the_size_openai_returned_for_a_portrait_request(standin_url: str) -> None:
    result = provider_for(standin_url).generate(
        request(width=512, height=900), lambda _update: None
    )

    assert (result.width, result.height) == (1024, 1536)


def test_never_claims_a_seed(standin_url: str) -> None:
    provider = provider_for(standin_url)

    result = provider.generate(request(seed=1234), lambda _update: None)

    assert result.seed is None
    assert provider.capabilities.seed is False
    assert provider.capabilities.negative_prompt is False
    assert set(provider.unsupported_parameters) >= {"seed", "steps", "strength", "guidance_scale"}


def test_streams_partial_images_as_progress_with_previews(standin_url: str) -> None:
    updates: list[ProgressUpdate] = []

    provider_for(standin_url, partial_images=2).generate(request(), updates.append)

    assert [(u.step, u.total_steps) for u in updates] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    previews = [u.preview_png for u in updates if u.preview_png is not None]
    assert len(previews) == 2
    for preview in previews:
        assert Image.open(io.BytesIO(preview)).size == (1536, 1024)


def test_tells_the_user_what_openai_cannot_use(standin_url: str) -> None:
    updates: list[ProgressUpdate] = []

    provider_for(standin_url).generate(request(negative_prompt="blurry"), updates.append)

    opening = updates[0].message or ""
    assert "1536x1024" in opening
    for unused in ("negative prompt", "seed", "steps", "strength", "guidance"):
        assert unused in opening


def test_without_partial_images_it_still_reports_the_end(standin_url: str) -> None:
    updates: list[ProgressUpdate] = []

    provider = provider_for(standin_url, partial_images=0)
    provider.generate(request(), updates.append)

    assert provider.capabilities.progress == "none"
    assert [(u.step, u.total_steps, u.preview_png) for u in updates][-1] == (1, 1, None)


def test_a_delay_within_the_budget_still_gives_the_picture(
    standin_url: str, control: StandinControl
) -> None:
    script(control, {"delay_s": 0.2})

    result = provider_for(standin_url).generate(request(timeout_s=10.0), lambda _update: None)

    assert result.width == 1536


# --- rate limits and quota ----------------------------------------------------------------


def test_rate_limit_beyond_the_budget_reports_when_to_come_back(
    standin_url: str, control: StandinControl
) -> None:
    script(control, {"status": 429, "headers": {"retry-after": "30"}})

    error = failure_of(provider_for(standin_url), timeout_s=5.0)

    assert isinstance(error, RateLimitedError)
    assert error.code == "rate_limited"
    assert error.retry_after_s == 30
    assert error.failover_helps
    assert "30 s" in error.suggestions[0]
    assert len(calls(control)) == 1


def test_short_rate_limit_is_waited_out_and_retried(
    standin_url: str, control: StandinControl
) -> None:
    script(control, {"status": 429, "headers": {"retry-after-ms": "20"}}, {"outcome": "ok"})

    result = provider_for(standin_url).generate(request(), lambda _update: None)

    assert result.width == 1536
    assert len(calls(control)) == 2


def test_rate_limit_every_time_gives_up_after_the_configured_attempts(
    standin_url: str, control: StandinControl
) -> None:
    script(control, *[{"status": 429, "headers": {"retry-after-ms": "10"}}] * 3)

    error = failure_of(provider_for(standin_url, max_attempts=3))

    assert isinstance(error, RateLimitedError)
    assert len(calls(control)) == 3


@pytest.mark.parametrize(
    ("status", "code", "error_type", "message"),
    [
        (
            429,
            "insufficient_quota",
            "insufficient_quota",
            "You exceeded your current quota, please check your plan and billing details.",
        ),
        (429, "credit_balance_exhausted", "insufficient_quota", "You have no credits remaining."),
        (
            400,
            "billing_hard_limit_reached",
            "invalid_request_error",
            "Billing hard limit has been reached",
        ),
    ],
)
def test_used_up_credit_is_final_and_never_retried(
    standin_url: str,
    control: StandinControl,
    status: int,
    code: str,
    error_type: str,
    message: str,
) -> None:
    body = error_body(code, error_type, message)
    script(control, *[{"status": status, "body": body}] * 3)

    error = failure_of(provider_for(standin_url, max_attempts=3))

    assert isinstance(error, QuotaExhaustedError)
    assert error.code == "quota_exhausted"
    assert not error.retryable and error.failover_helps
    assert len(calls(control)) == 1


# --- keys ----------------------------------------------------------------------------------------


def test_a_rejected_key_is_an_admin_problem(standin_url: str, control: StandinControl) -> None:
    error = failure_of(provider_for(standin_url, key="sk-wrong-key-123456"))

    assert isinstance(error, AuthFailedError)
    assert error.code == "auth_failed"
    assert not error.retryable and error.failover_helps
    assert any("Admin" in suggestion for suggestion in error.suggestions)
    assert "sk-wrong" not in error.message and "123456" not in str(error.details)
    assert len(calls(control)) == 1


def test_a_scripted_401_is_auth_failed(standin_url: str, control: StandinControl) -> None:
    script(control, {"status": 401})

    error = failure_of(provider_for(standin_url))

    assert isinstance(error, AuthFailedError)


def test_no_key_fails_before_calling_openai(standin_url: str, control: StandinControl) -> None:
    error = failure_of(provider_for(standin_url, key=None))

    assert isinstance(error, AuthFailedError)
    assert "no API key" in error.message
    assert calls(control) == []


# --- refusals and bad input ---------------------------------------------------------------------


def test_a_safety_refusal_is_final_names_the_categories_and_is_not_retried(
    standin_url: str, control: StandinControl
) -> None:
    script(control, {"outcome": "moderation"})

    error = failure_of(provider_for(standin_url))

    assert isinstance(error, ContentPolicyError)
    assert error.code == "content_policy"
    assert not error.retryable and not error.failover_helps
    assert "sexual" in error.message
    assert error.details["categories"] == ["sexual"]
    assert len(calls(control)) == 1


def test_the_older_content_policy_refusal_is_content_policy(
    standin_url: str, control: StandinControl
) -> None:
    message = (
        "Your request was rejected as a result of our safety system. Your prompt may contain "
        "text that is not allowed by our safety system."
    )
    script(control, {"status": 400, "body": error_body(None, "invalid_request_error", message)})

    error = failure_of(provider_for(standin_url))

    assert isinstance(error, ContentPolicyError)


def test_a_size_openai_refuses_is_invalid_input_with_its_reason(
    standin_url: str, control: StandinControl
) -> None:
    error = failure_of(provider_for(standin_url, sizes=("1000x1000",)))

    assert isinstance(error, InvalidRequestError)
    assert error.code == "invalid_input"
    assert "1000x1000" in error.message and "divisible by 16" in error.message
    assert error.details["param"] == "size"
    assert len(calls(control)) == 1


def test_a_retired_model_says_so_and_is_not_retried(
    standin_url: str, control: StandinControl
) -> None:
    error = failure_of(provider_for(standin_url, model="gpt-image-1"))

    assert isinstance(error, ProviderUnavailableError)
    assert "gpt-image-1" in error.message and "retired on 2026-10-23" in error.message
    assert any("OPENAI_IMAGE_MODEL" in suggestion for suggestion in error.suggestions)
    assert len(calls(control)) == 1


# --- outages, aborts and deadlines -------------------------------------------------------------


def test_an_outage_is_retried_then_reported_as_unavailable(
    standin_url: str, control: StandinControl
) -> None:
    control.set_mode("down")

    error = failure_of(provider_for(standin_url, max_attempts=2))

    assert isinstance(error, ProviderUnavailableError)
    assert error.code == "provider_unavailable"
    assert error.retryable and error.failover_helps
    assert len(calls(control)) == 2


def test_a_passing_server_error_is_retried_into_a_picture(
    standin_url: str, control: StandinControl
) -> None:
    script(control, {"status": 500}, {"outcome": "ok"})

    result = provider_for(standin_url).generate(request(), lambda _update: None)

    assert result.width == 1536
    assert len(calls(control)) == 2


def test_an_unreachable_openai_is_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    error = failure_of(provider_for(f"http://127.0.0.1:{port}", max_attempts=2))

    assert isinstance(error, ProviderUnavailableError)
    assert "could not reach OpenAI" in error.message


def test_a_job_aborted_mid_stream_is_unavailable_and_not_replayed(
    standin_url: str, control: StandinControl
) -> None:
    script(control, {"outcome": "aborted"})
    updates: list[ProgressUpdate] = []

    with pytest.raises(ProviderUnavailableError) as caught:
        provider_for(standin_url).generate(request(), updates.append)

    assert "stopped while drawing" in caught.value.message
    assert [u.step for u in updates if u.preview_png] == [1]
    assert len(calls(control)) == 1


def test_no_first_byte_before_the_deadline_is_a_timeout(
    standin_url: str, control: StandinControl
) -> None:
    script(control, {"outcome": "slow_start", "s": 2.0})

    error = failure_of(provider_for(standin_url), timeout_s=0.5)

    assert isinstance(error, ProviderTimeoutError)
    assert error.code == "timeout"
    assert "0.5 seconds" in error.message
    assert len(calls(control)) == 1


def test_a_stream_running_past_the_deadline_is_abandoned_as_a_timeout(serve: Serve) -> None:
    slow = StandinControl()
    base_url = serve(create_app(slow, api_key=KEY, seconds_per_partial=0.6))
    updates: list[ProgressUpdate] = []

    with pytest.raises(ProviderTimeoutError):
        provider_for(base_url, partial_images=3).generate(request(timeout_s=1.0), updates.append)

    assert len([u for u in updates if u.preview_png]) < 3
    assert len(slow.requests) == 1


def test_an_error_event_the_sdk_raises_itself_is_mapped_too(serve: Serve) -> None:
    # A stream whose error data wraps the Error object, the form the SDK detects and raises.
    async def edits(_request: Request) -> Response:
        async def events() -> Any:
            error = error_body("moderation_blocked", "image_generation_user_error", "Rejected.")
            yield sse_event("error", error)

        return StreamingResponse(events(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/v1/images/edits", edits, methods=["POST"])])

    error = failure_of(provider_for(serve(app)))

    assert isinstance(error, ContentPolicyError)


def test_the_standin_log_shows_what_the_sdk_sent(standin_url: str, control: StandinControl) -> None:
    provider_for(standin_url).generate(request(), lambda _update: None)

    log = httpx.get(f"{standin_url}/_control/requests").json()
    assert [(entry["method"], entry["path"], entry["model"]) for entry in log] == [
        ("POST", "/v1/images/edits", "gpt-image-2")
    ]


# --- the chain's first-byte deadline, with this adapter ----------------------------------------


def test_first_byte_deadline_fires_when_the_openai_standin_sends_nothing(
    standin_url: str, control: StandinControl
) -> None:
    """Issue 12: the adapter's opening line, said before any I/O, kept the watchdog quiet."""
    script(control, {"outcome": "slow_start", "s": 6.0})
    updates: list[ProgressUpdate] = []

    with pytest.raises(ProviderTimeoutError) as caught:
        _call_with_first_byte_deadline(
            provider_for(standin_url),
            request(timeout_s=4.0),
            updates.append,
            first_byte_deadline_s=0.5,
        )

    assert caught.value.message == "openai showed no sign of life within 0.5 s."
    assert updates == []  # nothing said on the provider's behalf before it answered


def test_an_opened_stream_is_a_sign_of_life_before_its_first_preview(serve: Serve) -> None:
    slow = StandinControl()
    # The stand-in draws before it answers (its headers), then takes 4 s per preview.
    base_url = serve(create_app(slow, api_key=KEY, seconds_per_partial=4.0))
    updates: list[ProgressUpdate] = []

    result = _call_with_first_byte_deadline(
        provider_for(base_url, partial_images=1),
        request(timeout_s=20.0),
        updates.append,
        first_byte_deadline_s=2.0,
    )

    assert result.image_png.startswith(b"\x89PNG")
    assert updates[0].step == 0 and updates[0].from_provider
