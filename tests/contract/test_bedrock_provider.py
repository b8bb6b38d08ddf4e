"""The Bedrock adapter through boto3's real code path against the Bedrock stand-in.

boto3 finds the stand-in through ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` alone (the adapter
passes no endpoint), signs with throwaway credentials, and every scripted failure must
arrive as the project's error code with a message for the person at the canvas.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from local.standins.bedrock import create_app
from local.standins.control import StandinControl
from sketchbridge.domain.errors import ProviderTimeoutError, SketchbridgeError
from sketchbridge.providers.base import ProgressUpdate, ProviderRequest, ProviderResult
from sketchbridge.providers.bedrock import BedrockConfig, BedrockProvider, control_strength_for
from sketchbridge.services.provider_chain import _call_with_first_byte_deadline
from tests.contract.conftest import Serve

SECRET_ACCESS_KEY = "stand-in-secret-never-shown"
SKETCH_MODEL_ID = BedrockConfig().model_id
CORAL = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


@pytest.fixture(scope="module")
def control() -> StandinControl:
    return StandinControl()


@pytest.fixture(scope="module")
def standin_url(serve_for_module: Serve, control: StandinControl) -> str:
    return serve_for_module(create_app(control))


@pytest.fixture(autouse=True)
def aws_env(
    monkeypatch: pytest.MonkeyPatch, standin_url: str, control: StandinControl, tmp_path: Path
) -> Iterator[None]:
    control.reset()
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", standin_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASTANDIN000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


def provider(max_attempts: int = 1) -> BedrockProvider:
    # Short reads are fine here: the stand-in draws in well under a second.
    return BedrockProvider(
        BedrockConfig(region="us-west-2", max_attempts=max_attempts, min_read_timeout_s=1.0)
    )


def sketch() -> Image.Image:
    image = Image.new("RGB", (320, 240), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 80, 200, 200), outline="black", width=4)
    draw.polygon([(50, 80), (130, 20), (210, 80)], outline="black", width=4)
    draw.ellipse((230, 30, 290, 90), outline="black", width=4)
    return image


def request(**overrides: Any) -> ProviderRequest:
    fields: dict[str, Any] = {
        "sketch": sketch(),
        "prompt": "a red house under a yellow sun, watercolour",
        "negative_prompt": "blurry",
        "seed": 1234,
        "steps": 1,
        "strength": 0.75,
        "guidance_scale": 7.5,
        "width": 512,
        "height": 384,
        "timeout_s": 10.0,
    }
    fields.update(overrides)
    return ProviderRequest(**fields)


def generate(bedrock: BedrockProvider, **overrides: Any) -> tuple[ProviderResult, list[Any]]:
    events: list[ProgressUpdate] = []
    result = bedrock.generate(request(**overrides), events.append)
    return result, events


def failure(bedrock: BedrockProvider, **overrides: Any) -> SketchbridgeError:
    with pytest.raises(SketchbridgeError) as caught:
        generate(bedrock, **overrides)
    return caught.value


def test_draws_the_sketch_at_the_requested_size_and_seed(control: StandinControl) -> None:
    result, _ = generate(provider())

    picture = Image.open(io.BytesIO(result.image_png))
    assert picture.format == "PNG"
    assert (result.width, result.height) == picture.size == (512, 384)
    assert result.seed == 1234
    assert result.model == SKETCH_MODEL_ID
    assert [(r["path"], r["model"]) for r in control.requests] == [
        (f"/model/{SKETCH_MODEL_ID}/invoke", SKETCH_MODEL_ID)
    ]


def test_the_same_seed_draws_the_same_picture() -> None:
    bedrock = provider()
    first, _ = generate(bedrock, seed=77)
    second, _ = generate(bedrock, seed=77)
    third, _ = generate(bedrock, seed=78)

    assert first.image_png == second.image_png
    assert third.image_png != first.image_png


def test_seed_zero_reports_the_seed_the_model_drew() -> None:
    result, _ = generate(provider(), seed=0)

    assert result.seed is not None and result.seed > 0


def test_a_size_outside_the_models_aspect_range_comes_back_at_the_size_it_really_has() -> None:
    result, _ = generate(provider(), width=1024, height=256)

    assert Image.open(io.BytesIO(result.image_png)).size == (result.width, result.height)
    assert result.width == 1024
    assert result.width / result.height <= 2.5


def test_reports_progress_when_it_starts_and_when_the_picture_is_ready() -> None:
    _, events = generate(provider())

    assert [(e.step, e.total_steps) for e in events] == [(0, 1), (1, 1)]
    assert all(e.message for e in events)


def test_strength_loosens_the_sketchs_hold_and_the_default_matches_the_models() -> None:
    assert control_strength_for(0.0) == 1.0
    assert control_strength_for(0.75) == 0.7
    assert control_strength_for(1.0) < control_strength_for(0.5) < control_strength_for(0.0)


def test_a_short_delay_still_draws(control: StandinControl) -> None:
    control.set_script([{"delay_s": 0.3}])

    result, _ = generate(provider())

    assert result.width == 512


def test_retries_a_failing_attempt_within_the_budget(control: StandinControl) -> None:
    control.set_script([{"status": 503}, {"outcome": "ok"}])

    result, _ = generate(provider(max_attempts=2), timeout_s=30.0)

    assert result.width == 512
    assert len(control.requests) == 2


def throttled(extra_headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "status": 429,
        "headers": {"x-amzn-ErrorType": f"ThrottlingException{CORAL}", **(extra_headers or {})},
        "body": {"message": "Too many requests, please wait before trying again."},
    }


def service_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "status": status,
        "headers": {"x-amzn-ErrorType": f"{code}{CORAL}"},
        "body": {"message": message},
    }


SCRIPTED_FAILURES: list[tuple[str, dict[str, Any], str]] = [
    ("throttled", throttled(), "rate_limited"),
    ("bare 429", {"status": 429}, "rate_limited"),
    (
        "quota",
        service_error(400, "ServiceQuotaExceededException", "Your request exceeds the quota."),
        "quota_exhausted",
    ),
    (
        "iam denied",
        service_error(
            403,
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/processor is not authorized to "
            "perform: bedrock:InvokeModel",
        ),
        "auth_failed",
    ),
    (
        "model access not enabled",
        service_error(
            403, "AccessDeniedException", "You don't have access to the model with this model ID."
        ),
        "auth_failed",
    ),
    (
        "unknown credentials",
        service_error(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        "auth_failed",
    ),
    (
        "bad parameter",
        service_error(400, "ValidationException", "Malformed input request: #/seed: -1"),
        "invalid_input",
    ),
    (
        "input refused by the filter",
        service_error(
            400,
            "ValidationException",
            "This request has been blocked by our content filters. Please adjust your text "
            "prompt to submit a new request.",
        ),
        "content_policy",
    ),
    (
        "model not found",
        service_error(404, "ResourceNotFoundException", "This model version has reached EOL."),
        "provider_unavailable",
    ),
    (
        "model timed out",
        service_error(408, "ModelTimeoutException", "Model has timed out."),
        "timeout",
    ),
    (
        "model error",
        service_error(424, "ModelErrorException", "The model failed."),
        "provider_unavailable",
    ),
    (
        "model not ready",
        service_error(429, "ModelNotReadyException", "Model is not ready for inference."),
        "provider_unavailable",
    ),
    ("internal error", {"status": 500}, "provider_unavailable"),
    ("unavailable", {"status": 503}, "provider_unavailable"),
    ("moderation", {"outcome": "moderation"}, "content_policy"),
    ("output withheld", {"outcome": "moderation", "reason": "output image"}, "content_policy"),
    ("aborted", {"outcome": "aborted"}, "provider_unavailable"),
]


@pytest.mark.parametrize(
    ("script", "code"),
    [(script, code) for _, script, code in SCRIPTED_FAILURES],
    ids=[name for name, _, _ in SCRIPTED_FAILURES],
)
def test_every_scripted_failure_arrives_as_its_error_code(
    control: StandinControl, script: dict[str, Any], code: str
) -> None:
    control.set_script([script])

    error = failure(provider())

    assert error.code == code
    assert error.message and error.suggestions
    assert "bedrock" in error.message.lower()
    assert SECRET_ACCESS_KEY not in f"{error.message} {error.suggestions} {error.details}"


def test_a_throttled_call_carries_the_pause_the_service_asked_for(
    control: StandinControl,
) -> None:
    control.set_script([throttled({"retry-after": "2"})])

    error = failure(provider())

    assert error.code == "rate_limited"
    assert getattr(error, "retry_after_s", None) == 2.0
    assert error.failover_helps


def test_a_content_refusal_is_final_and_does_not_fail_over(control: StandinControl) -> None:
    control.set_script([{"outcome": "moderation"}])

    error = failure(provider())

    assert error.code == "content_policy"
    assert "prompt" in error.message
    assert not error.retryable and not error.failover_helps


def test_a_model_without_access_tells_the_admin_to_enable_it(control: StandinControl) -> None:
    control.set_script([service_error(404, "ResourceNotFoundException", "Model not found.")])

    error = failure(provider())

    assert error.code == "provider_unavailable"
    assert any("Model access" in suggestion for suggestion in error.suggestions)


def test_a_model_that_holds_past_the_deadline_times_out(control: StandinControl) -> None:
    control.set_script([{"outcome": "slow_start", "s": 3}])

    error = failure(provider(), timeout_s=1.0)

    assert error.code == "timeout"
    assert error.retryable and error.failover_helps


def test_a_provider_that_is_down_is_unavailable(control: StandinControl) -> None:
    control.set_mode("down")

    assert failure(provider()).code == "provider_unavailable"


def test_an_unreachable_endpoint_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://127.0.0.1:{port}")

    assert failure(provider()).code == "provider_unavailable"


def test_missing_aws_credentials_are_an_admin_problem(
    monkeypatch: pytest.MonkeyPatch, control: StandinControl
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    error = failure(provider())

    assert error.code == "auth_failed"
    assert any("admin" in suggestion for suggestion in error.suggestions)
    assert control.requests == []


def test_an_unknown_model_id_is_an_admin_problem() -> None:
    bedrock = BedrockProvider(
        BedrockConfig(model_id="stability.no-such-model-v9:0", region="us-west-2", max_attempts=1)
    )

    error = failure(bedrock)

    assert error.code == "provider_unavailable"
    assert any("BEDROCK_MODEL_ID" in suggestion for suggestion in error.suggestions)


def test_configuration_is_read_from_the_environment() -> None:
    config = BedrockConfig.from_env(
        {"AWS_REGION": "eu-central-1", "BEDROCK_MODEL_ID": "stability.other-v1:0"}
    )

    assert config.region == "eu-central-1"
    assert config.model_id == "stability.other-v1:0"
    assert BedrockConfig.from_env({}).model_id == SKETCH_MODEL_ID


def test_first_byte_deadline_fires_when_the_bedrock_standin_sends_nothing(
    control: StandinControl,
) -> None:
    """Issue 12: "Drawing on Amazon Bedrock…", said before the call, kept the watchdog quiet."""
    control.set_script([{"outcome": "slow_start", "s": 6}])
    updates: list[ProgressUpdate] = []

    with pytest.raises(ProviderTimeoutError) as caught:
        _call_with_first_byte_deadline(
            provider(), request(timeout_s=4.0), updates.append, first_byte_deadline_s=0.5
        )

    assert caught.value.message == "bedrock showed no sign of life within 0.5 s."
    assert [update.from_provider for update in updates] == [False]
